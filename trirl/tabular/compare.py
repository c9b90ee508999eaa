"""``trirl compare``: every tabular IRL method on the same world, expert and budget, and the
perturbation test of the rewards they learn.

For each world the expert is the soft-optimal policy of the true reward and every method gets
its exact occupancy and the same number of iterations. The table reports, per method: soft
Bellman backups and wall time to reach reverse KL <= 1e-3, the final reverse KL, the number of
iterations where the dual got worse, and whether the learned reward re-optimised from scratch
recovers the expert (its occupancy is within reverse KL 1e-3 of the expert's), and how close the
learned reward is to the true one up to the IRL ambiguity: the fitted scale ``c`` and the
shaping-invariant distance ``D`` of :func:`trirl.tabular.shaping.shaping_fit` (0: equal up to
``c > 0``, offset and potential shaping; unrelated rewards about 0.71; uniform over reachable pairs).

Transfer (``--transfer``): each learned reward is re-optimised from scratch in the world's
perturbed variants (wind, mirror, slip) and scored by the expert-normalised true return
``(R - R_uniform) / (R_expert - R_uniform)`` and the reverse KL to the perturbed world's expert.
Rewards move between worlds by :func:`trirl.tabular.gridworld.correspondence`: the same cell
and action of the map file, so under the mirror the goal's reward goes where the goal went (a
cell that is a wall in the source world gets reward 0). The mirrored variant is a relabelling
of the same world, so every reward that recovers the expert must transfer there: a check of the
evaluation itself. "policy" imitates the learned policy directly, the policy-only baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from trirl.argtypes import integer
from trirl.errors import InvalidConfigError

from trirl.tabular import gridworld, occupancy, reverse_kl, solve
from trirl.tabular.plots import plot_curves, save
from trirl.tabular.shaping import shaping_fit

THRESHOLD = 1e-3


def _first(history, threshold):
    for row in history:
        if row.get("reverse_kl", np.inf) <= threshold:
            return row
    return None


def expert_of(world):
    """The soft-optimal expert of ``world`` and its exact occupancy (:func:`expert_occupancy`)."""
    from trirl.tabular.occupancies import expert_occupancy

    sol = solve(world.mdp, world.reward)
    return sol, expert_occupancy(world.mdp, sol.log_policy)


def summarise(name, result, world, expert, rho_expert) -> dict:
    """One row of the comparison table."""
    dual = result.metric("dual")
    finite = np.isfinite(dual)
    worse = int(np.sum(np.diff(dual[finite]) > 1e-9 * np.abs(dual[finite][1:]))) if finite.sum() > 1 else None
    hit = _first(result.history, THRESHOLD)
    reoptimised = solve(world.mdp, result.reward)
    reopt_kl = reverse_kl(occupancy(world.mdp, reoptimised.policy), rho_expert)
    fit = shaping_fit(world.mdp, result.reward, world.reward)
    return {
        "algorithm": name,
        "backups_to_1e-3": hit.get("backups") if hit else None,
        "seconds_to_1e-3": hit.get("wall_time") if hit else None,
        "iterations_to_1e-3": hit["iteration"] if hit else None,
        "final_reverse_kl": float(result.history[-1]["reverse_kl"]),
        "dual_got_worse": worse,
        "reoptimised_reverse_kl": float(reopt_kl),
        # judged on behaviour: where the expert (almost) never goes, no reward is identified
        "reoptimised_recovers_expert": bool(reopt_kl <= THRESHOLD),
        "reoptimised_max_policy_difference": float(np.abs(reoptimised.policy - expert.policy).max()),
        "reward_scale": fit.scale,
        "reward_distance": fit.distance,
    }


def transfer_reward(source, target, reward) -> np.ndarray:
    """Move a ``[S, A]`` table (a reward, or a policy) from ``source`` to ``target``, cell by
    cell and action by action of the map file (:func:`gridworld.correspondence`); rows of
    target cells that are walls in the source are 0."""
    states, actions = gridworld.correspondence(source, target)
    reward = np.asarray(reward, dtype=float)
    if reward.shape != source.mdp.shape:
        raise ValueError(f"reward has shape {reward.shape}, expected the source's [S, A] = {source.mdp.shape}")
    moved = np.zeros(target.mdp.shape)
    known = states >= 0
    moved[known] = reward[states[known]][:, actions]
    return moved


def true_return(world, policy) -> float:
    """The true discounted return ``sum_{s,a} rho_pi(s, a) r(s, a)`` of ``policy`` ``[S, A]`` in ``world``."""
    return float(np.sum(occupancy(world.mdp, policy) * world.reward))


def reference_returns(world) -> tuple[float, float]:
    """``(R_uniform, R_expert)``: the true discounted returns of the uniform policy and of the
    soft-optimal expert, the 0 and 1 of :func:`normalised_return`."""
    expert, _ = expert_of(world)
    return true_return(world, np.full(world.mdp.shape, 1.0 / world.mdp.n_actions)), true_return(world, expert.policy)


def normalised_return(world, policy) -> float:
    """``(R - R_uniform) / (R_expert - R_uniform)`` with the true reward of ``world``; ``nan`` when the
    expert is no better than the uniform policy (to 1e-9 relative: a reward without preference), where
    no scale exists (callers report it as undefined)."""
    low, high = reference_returns(world)
    if abs(high - low) > 1e-9 * max(1.0, abs(high)):
        return (true_return(world, policy) - low) / (high - low)
    return float("nan")


def transfer_rows(world, name, result) -> list[dict]:
    rows = []
    for variant in gridworld.variants(world.name):
        target = gridworld.load(world.name, variant)
        _, rho_target = expert_of(target)
        entries = [(name, solve(target.mdp, transfer_reward(world, target, result.reward)).policy)]
        if name == "trirl":
            entries.append(("policy (imitate trirl's policy)", transfer_reward(world, target, result.policy)))
        for label, policy in entries:
            policy = policy if np.allclose(policy.sum(axis=1), 1) else np.full(target.mdp.shape, 1 / target.mdp.n_actions)
            rows.append({
                "world": world.name, "variant": variant, "method": label,
                "normalised_return": normalised_return(target, policy),
                "reverse_kl_to_expert": float(reverse_kl(occupancy(target.mdp, policy), rho_target)),
            })
    return rows


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):  # nan: undefined (a normalised return where the expert is no better than uniform)
            return "n/a" if v != v else f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    from trirl.tabular.algorithms.registry import ALGORITHMS

    parser = argparse.ArgumentParser(prog="trirl compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="icy_goal", help="a world name, or 'all' for every shipped world")
    parser.add_argument("--algos", default=",".join(ALGORITHMS), help=f"comma-separated, from {list(ALGORITHMS)}")
    parser.add_argument("--iterations", type=integer(1), default=300, help="the same iteration budget for every method")
    parser.add_argument("--transfer", action="store_true", help="also re-optimise each learned reward in the perturbed variants")
    parser.add_argument("--out", type=Path, default=None,
                        help="a new folder for the results (default runs/compare-WORLD-TIME)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results (compare.md, compare.json, compare-*.png) already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = [a for a in algos if a not in ALGORITHMS]
    if unknown:
        parser.error(f"unknown --algos {unknown}; expected some of {list(ALGORITHMS)}")
    worlds = gridworld.names() if args.world == "all" else [args.world]
    if args.world != "all":
        try:
            args.world = gridworld.load(args.world).name
        except InvalidConfigError as err:
            parser.error(f"--world {args.world!r} ('all', a shipped world or a .toml path): {err}")
    out = args.out or Path("runs") / f"compare-{args.world}-{time.strftime('%Y%m%d-%H%M%S')}"
    _prepare_out(parser, out, args.overwrite)
    table, transfer, started = [], [], time.perf_counter()
    # disable=None: a bar on terminals only (stderr), the per-method lines go to stdout either way
    bar = tqdm(total=len(worlds) * len(algos), unit="run", disable=True if args.quiet else None, dynamic_ncols=True)
    for world_name in worlds:
        world = gridworld.load(world_name)
        expert, rho_expert = expert_of(world)
        histories = {}
        for name in algos:
            bar.set_description(f"{world_name} {name}")
            tick = time.perf_counter()
            result = ALGORITHMS[name](world.mdp, rho_expert, iterations=args.iterations)
            row = {"world": world_name, **summarise(name, result, world, expert, rho_expert),
                   "run_seconds": time.perf_counter() - tick}
            table.append(row)
            histories[name] = result.history
            bar.write(f"{world_name:14s} {name:10s} final reverse KL {row['final_reverse_kl']:.3g}  "
                      f"backups to 1e-3: {row['backups_to_1e-3']}  dual worse {row['dual_got_worse']}",
                      file=sys.stdout)
            sys.stdout.flush()  # the lines are the record when stdout is a log file
            if args.transfer:
                transfer += transfer_rows(world, name, result)
            bar.update(1)
        _plot(world_name, histories, out / f"compare-{world_name}.png")
    bar.close()
    columns = ["world", "algorithm", "backups_to_1e-3", "seconds_to_1e-3", "final_reverse_kl", "dual_got_worse",
               "reoptimised_reverse_kl", "reoptimised_recovers_expert", "reward_scale", "reward_distance"]
    text = [f"# trirl compare ({args.iterations} iterations each; exact expert occupancy)\n",
            f"command: `trirl compare {' '.join(argv or [])}`\n", markdown_table(table, columns)]
    if transfer:
        text += ["\n## Transfer: learned rewards re-optimised in perturbed worlds\n",
                 markdown_table(transfer, ["world", "variant", "method", "normalised_return", "reverse_kl_to_expert"])]
    (out / "compare.md").write_text("\n".join(text) + "\n")
    from trirl.provenance import machine

    (out / "compare.json").write_text(json.dumps(
        {"machine": machine(), "iterations": args.iterations, "table": table, "transfer": transfer,
         "total_seconds": time.perf_counter() - started}, indent=2) + "\n")
    print("\n".join(text[2:]))
    print(f"wrote {out}/compare.md, compare.json and the plots")
    return 0


RESULT_FILES = ("compare.md", "compare.json", "compare-*.png")


def _prepare_out(parser, out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that holds anything (earlier worlds' plots would sit beside the new
    table), unless ``overwrite``: then remove earlier results, and only those."""
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} is a file, expected a folder")
    old = sorted(p for pattern in RESULT_FILES for p in out.glob(pattern)) if out.is_dir() else []
    others = sorted(set(out.iterdir()) - set(old)) if out.is_dir() else []
    if others:
        parser.error(f"--out {out} holds other files ({', '.join(p.name for p in others[:5])}); choose a new folder")
    if old and not overwrite:
        parser.error(f"--out {out} already holds results ({', '.join(p.name for p in old[:5])}); "
                     "choose a new folder, or pass --overwrite to replace them")
    for path in old:
        path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _plot(world_name, histories, path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    plot_curves(axes[0], histories, "reverse_kl", log=True, title=f"reverse KL on {world_name}")
    for label, history in histories.items():
        axes[1].plot([r.get("backups", np.nan) for r in history], [r["reverse_kl"] for r in history], label=label)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("soft Bellman backups")
    axes[1].set_title("reverse KL against compute")
    axes[1].legend(fontsize="small")
    fig.tight_layout()
    save(fig, path)
