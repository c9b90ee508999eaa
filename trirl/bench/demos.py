"""Data scaling: how many demonstrations each tabular IRL method needs (the tabular analogue of
the paper's Fig. 10).

For every world (the shipped grid worlds and Gymnasium's FrozenLake 8x8), number of
demonstrations ``n``, horizon and seed: sample ``n`` episodes from the soft-optimal expert, build
the smoothed empirical occupancy (:func:`trirl.tabular.empirical_occupancy`), run every
registered algorithm (``trirl.tabular.ALGORITHMS``, tuned defaults) for a fixed number of
iterations, and score its final policy against the **true** expert: the expert-normalised true
return ``(R - R_uniform) / (R_expert - R_uniform)`` and the reverse KL to the true expert's
occupancy. Algorithms never see the true expert; they see ``rho_expert`` from the demonstrations.

``trirl bench demos`` runs the committed size and writes ``book/results/demos/``
(``demos-scaling.json`` with the size, command, machine and every run; ``demos-scaling.png``).
``--quick`` is a seconds-long smoke size. Read by book chapter 7.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from trirl.provenance import machine

# FrozenLake's +1 at the goal is small against the entropy (log 4 per step for ~50 steps): the
# soft-optimal policy of the raw reward is nearly uniform (discounted return 0.0012 against the
# uniform policy's 0.0011). Scaled by 300 it returns 0.369, 89 % of the optimal 0.415.
FROZEN_LAKE_REWARD_SCALE = 300.0

SIZES = {
    # the committed run: <= 15 minutes on a shared 2-core machine under nice -n 10
    "default": {"demos": [1, 10, 30, 100, 1000], "horizons": [200], "horizon_sweep": [10, 30, 100, 200],
                "horizon_sweep_demos": 100, "seeds": [0, 1, 2], "iterations": 100},
    "quick": {"demos": [1, 30], "horizons": [200], "horizon_sweep": [10, 200], "horizon_sweep_demos": 30,
              "seeds": [0], "iterations": 10},
}


class World(NamedTuple):
    """What the study and :func:`trirl.tabular.compare.normalised_return` need of a world."""

    name: str
    mdp: object
    reward: np.ndarray


def frozen_lake(gym, discount: float = 0.99) -> World:
    """Gymnasium's FrozenLake 8x8, slippery, as an exact MDP; the expert's reward is its +1 at the
    goal times :data:`FROZEN_LAKE_REWARD_SCALE`."""
    from trirl.tabular.gym import from_gymnasium

    converted = from_gymnasium(gym.make("FrozenLake-v1", map_name="8x8", is_slippery=True), discount=discount)
    return World("frozen_lake_8x8", converted.mdp, converted.reward * FROZEN_LAKE_REWARD_SCALE)


def worlds(names=None) -> list[World]:
    """The shipped grid worlds and FrozenLake 8x8 (if gymnasium is installed)."""
    from trirl.tabular import gridworld

    out = [World(name, w.mdp, w.reward) for name in gridworld.names() for w in [gridworld.load(name)]]
    try:
        import gymnasium
    except ImportError:  # the [gym] extra is optional; the study says which worlds it ran
        gymnasium = None
    if gymnasium is not None:
        out.append(frozen_lake(gymnasium))
    return [w for w in out if names is None or w.name in names]


def score(world: World, policy, rho_true, returns) -> dict:
    from trirl.tabular import occupancy, reverse_kl

    rho = occupancy(world.mdp, policy)
    low, high = returns
    value = float(np.sum(rho * world.reward))
    return {"normalised_return": (value - low) / (high - low), "reverse_kl_to_expert": float(reverse_kl(rho, rho_true))}


def run_cell(world: World, algorithms, n: int, horizon: int, seed: int, iterations: int, expert, rho_true, returns) -> list[dict]:
    """Every algorithm on one demonstration set: one row each."""
    from trirl.errors import DualIncreaseWarning
    from trirl.tabular import ALGORITHMS, empirical_occupancy, sample_trajectories
    from trirl.tabular.demos import check_trajectories, episode_ends

    demos = sample_trajectories(world.mdp, expert.policy, n, horizon, seed=seed)
    rho_expert = empirical_occupancy(world.mdp, demos, warn=False)
    truncated = episode_ends(world.mdp, check_trajectories(world.mdp, demos)).truncated_mass
    base = {"world": world.name, "demos": n, "horizon": horizon, "seed": seed, "truncated_mass": truncated}
    rows = []
    for name in algorithms:
        tick = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = ALGORITHMS[name](world.mdp, rho_expert, iterations)
        dual = result.metric("dual")
        rows.append({
            **base, "algorithm": name, **score(world, result.policy, rho_true, returns),
            "reverse_kl_to_demonstrations": float(result.history[-1]["reverse_kl"]),
            "dual_rises": int(np.sum(np.diff(dual) > 1e-9 * np.abs(dual[1:]))),
            "dual_warned": any(issubclass(w.category, DualIncreaseWarning) for w in caught),
            "seconds": time.perf_counter() - tick,
        })
    return rows


def study(size: dict, world_names=None, algorithms=None, log=print) -> dict:
    from trirl.tabular import ALGORITHMS, occupancy, solve

    algorithms = list(algorithms or ALGORITHMS)
    tick = time.perf_counter()
    rows = []
    for world in worlds(world_names):
        expert = solve(world.mdp, world.reward)
        rho_true = occupancy(world.mdp, expert.policy)
        uniform = np.full(world.mdp.shape, 1.0 / world.mdp.n_actions)
        returns = (float(np.sum(occupancy(world.mdp, uniform) * world.reward)), float(np.sum(rho_true * world.reward)))
        cells = [(n, h) for n in size["demos"] for h in size["horizons"]]
        cells += [(size["horizon_sweep_demos"], h) for h in size["horizon_sweep"] if (size["horizon_sweep_demos"], h) not in cells]
        for n, horizon in cells:
            for seed in size["seeds"]:
                rows += run_cell(world, algorithms, n, horizon, seed, size["iterations"], expert, rho_true, returns)
            last = [r for r in rows if r["world"] == world.name and r["demos"] == n and r["horizon"] == horizon]
            log(f"{world.name:16s} n={n:5d} horizon={horizon:4d}  " + "  ".join(
                f"{a}={np.median([r['normalised_return'] for r in last if r['algorithm'] == a]):.2f}" for a in algorithms),
                flush=True)
    return {"rows": rows, "algorithms": algorithms, "worlds": sorted({r["world"] for r in rows}),
            "seconds": time.perf_counter() - tick}


def medians(rows, world: str, algorithm: str, key: str, by: str, fixed: dict) -> tuple[list, list]:
    """Median of ``key`` over seeds, as a function of ``by`` (``demos`` or ``horizon``) with ``fixed`` held."""
    chosen = [r for r in rows if r["world"] == world and r["algorithm"] == algorithm
              and all(r[k] == v for k, v in fixed.items())]
    xs = sorted({r[by] for r in chosen})
    return xs, [float(np.median([r[key] for r in chosen if r[by] == x])) for x in xs]


def demonstrations_needed(report: dict, threshold: float = 0.9) -> list[dict]:
    """Per world and algorithm: the fewest demonstrations from which the median expert-normalised
    return stays ``>= threshold`` (``None`` if never), and the median reverse KL to the true
    expert at the fewest and the most demonstrations (at the study's main horizon)."""
    size, rows = report["size"], report["rows"]
    fixed = {"horizon": size["horizons"][-1]}
    table = []
    for world in report["worlds"]:
        for algorithm in report["algorithms"]:
            ns, returns = medians(rows, world, algorithm, "normalised_return", "demos", fixed)
            _, kls = medians(rows, world, algorithm, "reverse_kl_to_expert", "demos", fixed)
            good = [i for i in range(len(ns)) if all(r >= threshold for r in returns[i:])]
            table.append({"world": world, "algorithm": algorithm, "demos_needed": ns[good[0]] if good else None,
                          "reverse_kl_fewest": kls[0], "reverse_kl_most": kls[-1],
                          "return_fewest": returns[0], "return_most": returns[-1]})
    return table


def figure(report: dict):
    """Rows: expert-normalised return and reverse KL to the true expert vs the number of
    demonstrations (log axis; medians over seeds); columns: worlds; the last row: return vs horizon."""
    from trirl.tabular.plots import plt

    size, rows, names = report["size"], report["rows"], report["worlds"]
    horizon = size["horizons"][-1]
    fig, axes = plt.subplots(3, len(names), figsize=(3.2 * len(names), 8.4), squeeze=False, constrained_layout=True)
    colours = dict(zip(report["algorithms"], plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for j, world in enumerate(names):
        for algorithm in report["algorithms"]:
            style = dict(color=colours[algorithm], marker="o", markersize=3, label=algorithm)
            xs, ys = medians(rows, world, algorithm, "normalised_return", "demos", {"horizon": horizon})
            axes[0, j].plot(xs, ys, **style)
            xs, ys = medians(rows, world, algorithm, "reverse_kl_to_expert", "demos", {"horizon": horizon})
            axes[1, j].plot(xs, ys, **style)
            xs, ys = medians(rows, world, algorithm, "normalised_return", "horizon", {"demos": size["horizon_sweep_demos"]})
            axes[2, j].plot(xs, ys, **style)
        axes[0, j].set_title(world)
        for i in (0, 1):
            axes[i, j].set_xscale("log")
            axes[i, j].set_xlabel("number of demonstrations")
        axes[1, j].set_yscale("log")
        axes[2, j].set_xlabel(f"horizon ({size['horizon_sweep_demos']} demonstrations)")
        for i in (0, 2):
            axes[i, j].axhline(1.0, color="0.6", lw=0.8, ls=":")
    axes[0, 0].set_ylabel("expert-normalised true return")
    axes[1, 0].set_ylabel("reverse KL to the true expert")
    axes[2, 0].set_ylabel("expert-normalised true return")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Learning from sampled demonstrations\nmedians over {len(size['seeds'])} seeds, "
                 f"{size['iterations']} iterations, horizon {horizon} (last row: {size['horizon_sweep_demos']} demonstrations)")
    return fig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="trirl bench demos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke size instead of the committed one")
    parser.add_argument("--worlds", nargs="*", default=None, help="world names (default: all)")
    parser.add_argument("--algorithms", nargs="*", default=None, help="registry names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("book/results/demos"))
    args = parser.parse_args(argv)
    size = SIZES["quick" if args.quick else "default"]
    report = study(size, args.worlds, args.algorithms)
    report = {"suite": "demos", "machine": machine(), "size": {"name": "quick" if args.quick else "default", **size},
              "frozen_lake_reward_scale": FROZEN_LAKE_REWARD_SCALE, "smoothing": 1e-2, **report}
    report["demonstrations_needed"] = demonstrations_needed(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "demos-scaling.json").write_text(json.dumps(report, indent=1) + "\n")
    from trirl.tabular.plots import save

    save(figure(report), args.out / "demos-scaling.png")
    print(f"wrote {args.out}/demos-scaling.json and demos-scaling.png in {report['seconds']:.0f} s")
    return 0
