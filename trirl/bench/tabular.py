"""Tabular benchmark: the exact engine against the way teaching code usually does it.

Each figure is the median wall time of several repeats, printed beside a baseline measured in
the same run, as a ratio (baseline time / our time; above 1 means we are faster). Both sides run
with one BLAS thread (figure 7 compares thread settings itself). On a machine shared with other
jobs the absolute times move with its load (recorded in the JSON); the ratios much less:

1. soft-optimal policy + exact occupancy on a 32x32 grid (1,024 states, 5 actions, gamma 0.99);
   baseline: a plain dense implementation (dense ``P[S, A, S]``, soft value iteration with
   einsum, occupancy by repeated forward propagation ``d_{t+1} = mu0 + gamma P_pi^T d_t``);
2. one exact TRIRL iteration on a 128x128 grid (16,384 states); baseline: the same iteration
   with occupancies by repeated forward propagation and soft value iteration (sparse, since a
   dense ``P`` would need 10 GiB);
3. TRIRL to reverse KL <= 1e-4 on the default world, end to end; baseline: the same run with
   soft value iteration as the inner solver;
4. soft-optimal policy + exact occupancy on a dense random MDP (1,024 states x 4 actions,
   ``P(.|s, a) ~ Dirichlet(0.3)`` over all states, gamma 0.99); baseline as in 1;
5. one exact TRIRL iteration on that MDP (the median of consecutive iterations of one run,
   metrics included); baseline: one iteration of imitation 1.0.1's MCE-IRL (finite horizon 100,
   torch CPU, ``MCEIRL._train_step``) when ``imitation`` can be imported (in this process, or
   from ``--imitation-path DIR`` in a subprocess: imitation pins gymnasium 0.29, trirl's
   Gymnasium import wants 1.x), and always a numpy transcription of that iteration (labelled);
6. soft-optimal policy + exact occupancy, and one TRIRL iteration, on Gymnasium's Taxi (500
   states, 6 actions) when gymnasium is installed; baseline as in 1 and 2;
7. ``trirl grid --world four_rooms`` as a user runs it, with the machine's default BLAS threads
   (trirl's thread policy on) against ``OPENBLAS_NUM_THREADS=1`` (target: within 30 %), and with
   the policy off (``TRIRL_BLAS_THREADS=off``), which is how it ran before the policy;
8. the cost of the safeguard (TRIRL's default step) against the paper's fixed step, the same
   ``eps, beta, eta`` and iterations from the same exact expert: backups, solves, factorisations
   and wall time (the learning time TRIRL logs, and the whole run with its metrics), on every
   shipped world and variant, the student maze (where the fixed step fails), Taxi, FrozenLake 8x8
   and the dense 1,024 x 4 MDP. Target: the safeguarded run within 1.3x the fixed step's wall
   time wherever the fixed step is monotone (where it is not, there is nothing to compare with:
   the row says so). ``seconds`` is the learning time (median over repeats, interleaved);
   ``run_ratio`` and ``cpu_ratio`` compare whole runs by wall and by CPU time (the CPU time is
   the steadier figure on a loaded machine). ``--only safeguard`` runs this figure alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from trirl.bench.tabular_baselines import (
    DENSE_ACTIONS,
    DENSE_DISCOUNT,
    DENSE_STATES,
    MCE_HORIZON,
    dense_problem,
    dense_soft_value_iteration,
    forward_occupancy,
    imitation_baseline,
    numpy_mce_irl_iteration,
    taxi_problem,
    teaching_trirl_iteration,
    timed,
)
from trirl.provenance import machine
from trirl.tabular import gridworld, occupancy, solve, trirl
from trirl.tabular.algorithms.trirl import TRIRLConfig, make_trirl
from trirl.tabular.mdp import MDP
from trirl.tabular.threads import blas_threads

# -- the three figures --------------------------------------------------------------------------


def bench_solve_32(repeats: int) -> dict:
    world = gridworld.open_grid(32, 32, slip=0.1, discount=0.99)
    mdp, reward = world.mdp, world.reward
    ours, sol = timed(lambda: occupancy(mdp, solve(mdp, reward).policy), repeats)
    P = mdp.transitions
    base, rho = timed(lambda: forward_occupancy(mdp, np.exp(dense_soft_value_iteration(P, reward, mdp.discount))), max(1, repeats // 3))
    return {
        "name": "soft-optimal policy + exact occupancy, 32x32 grid (S=1024, A=5, gamma=0.99)",
        "seconds": ours, "baseline": "dense soft VI + forward propagation", "baseline_seconds": base,
        "speedup": base / ours, "target_seconds": 0.05, "max_abs_difference": float(np.abs(sol - rho).max()),
    }


def bench_trirl_iteration_128(repeats: int) -> dict:
    world = gridworld.open_grid(128, 128, slip=0.1, discount=0.99)
    mdp = world.mdp
    rho_expert = occupancy(mdp, solve(mdp, world.reward).policy)
    config = TRIRLConfig()  # the recommended eps, beta, eta
    learner = make_trirl(mdp, rho_expert, config)
    state = learner.init()

    def ours():
        return learner.step(state)

    ours_s, (new_state, _) = timed(ours, repeats)
    log_rho_expert = np.log(rho_expert)
    base_s, (reward, log_pi) = timed(
        lambda: teaching_trirl_iteration(mdp, state.reward, state.log_policy, log_rho_expert, config.eps, config.beta, config.eta), 1
    )
    return {
        "name": "one exact TRIRL iteration, 128x128 grid (S=16384, A=5, gamma=0.99), with its metrics",
        "seconds": ours_s, "baseline": "soft VI + forward-propagated occupancy", "baseline_seconds": base_s,
        "speedup": base_s / ours_s, "target_seconds": 2.0,
        "max_abs_policy_difference": float(np.abs(np.exp(new_state.log_policy) - np.exp(log_pi)).max()),
    }


def bench_trirl_default_world(repeats: int) -> dict:
    world = gridworld.load(gridworld.DEFAULT_WORLD)
    mdp = world.mdp

    def run(method: str):
        rho_expert = occupancy(mdp, solve(mdp, world.reward, method=method).policy)
        result = trirl(mdp, rho_expert, iterations=200, solver=method,
                       until=lambda m: m["reverse_kl"] <= 1e-4)
        return result.history[-1]["iteration"] if result.history[-1]["reverse_kl"] <= 1e-4 else None

    ours, iters = timed(lambda: run("auto"), repeats)
    base, base_iters = timed(lambda: run("value_iteration"), max(1, repeats // 3))
    return {
        "name": f"TRIRL to reverse KL <= 1e-4 on the default world ({world.name}, S={mdp.n_states}), end to end, expert included",
        "seconds": ours, "iterations_to_1e-4": iters, "baseline": "soft value iteration as inner solver",
        "baseline_seconds": base, "baseline_iterations_to_1e-4": base_iters, "speedup": base / ours, "target_seconds": 2.0,
    }


# -- dense random MDPs, imitation's MCE-IRL, Taxi, the four_rooms CLI -----------------------------

def bench_dense_solve(repeats: int) -> dict:
    P, _, mdp, reward = dense_problem()
    ours, rho = timed(lambda: occupancy(mdp, solve(mdp, reward).policy), repeats)
    base, rho_base = timed(lambda: forward_occupancy(mdp, np.exp(dense_soft_value_iteration(P, reward, mdp.discount))), 1)
    return {
        "name": f"soft-optimal policy + exact occupancy, dense random MDP (S={DENSE_STATES}, A={DENSE_ACTIONS}, "
                f"P ~ Dirichlet(0.3), gamma={DENSE_DISCOUNT})",
        "seconds": ours, "baseline": "dense soft VI + forward propagation", "baseline_seconds": base,
        "speedup": base / ours, "target_seconds": 0.05, "representation": mdp.representation,
        "max_abs_difference": float(np.abs(rho - rho_base).max()),
    }


def _run_iterations(learner, iterations: int) -> list[float]:
    """Per-iteration wall times of ``iterations`` consecutive steps of one run (metrics included)."""
    state, times = learner.init(), []
    for _ in range(iterations):
        tick = time.perf_counter()
        state, _ = learner.step(state)
        times.append(time.perf_counter() - tick)
    return times


def bench_dense_trirl_iteration(repeats: int, imitation_path: Path | None) -> dict:
    P, mu0, mdp, reward = dense_problem()
    rho_expert = occupancy(mdp, solve(mdp, reward).policy)
    learner = make_trirl(mdp, rho_expert, TRIRLConfig(eps=0.5, beta=1e4, eta=49_999.0))
    factorised = mdp.factorisations
    times = _run_iterations(learner, max(3, repeats))
    factorisations = (mdp.factorisations - factorised) / len(times)
    ours = statistics.median(times)
    # numpy transcription of imitation's iteration (state reward, undiscounted finite horizon 100)
    theta = np.zeros(DENSE_STATES)
    demo = np.full(DENSE_STATES, (MCE_HORIZON + 1) / DENSE_STATES)
    numpy_s, _ = timed(lambda: numpy_mce_irl_iteration(P, mu0, theta, demo, MCE_HORIZON), max(3, repeats))
    imitation_s, how = imitation_baseline(0, max(3, repeats), imitation_path)
    row = {
        "name": f"one exact TRIRL iteration, dense random MDP (S={DENSE_STATES}, A={DENSE_ACTIONS}, "
                f"P ~ Dirichlet(0.3), gamma={DENSE_DISCOUNT}), with its metrics (median of {len(times)} consecutive)",
        "seconds": ours, "first_iteration_seconds": times[0], "factorisations_per_iteration": factorisations,
        "numpy_mce_irl_iteration_seconds": numpy_s,
        "numpy_mce_irl_iteration": "imitation's MCE-IRL iteration transcribed to numpy (finite horizon 100)",
        "imitation_mce_irl_iteration_seconds": imitation_s, "imitation": how, "target_speedup": 5.0,
    }
    if imitation_s is not None:
        row.update(baseline="imitation 1.0.1 MCEIRL._train_step (finite horizon 100, torch CPU)",
                   baseline_seconds=imitation_s)
    else:
        row.update(baseline="numpy transcription of imitation's MCE-IRL iteration (imitation not installed)",
                   baseline_seconds=numpy_s)
    row["speedup"] = row["baseline_seconds"] / ours
    row["target_seconds"] = row["baseline_seconds"] / 5.0
    return row


def bench_taxi(repeats: int) -> list[dict]:
    try:
        name, mdp, reward = taxi_problem()
    except ImportError:
        return []
    ours, sol = timed(lambda: occupancy(mdp, solve(mdp, reward).policy), repeats)
    P = mdp.transitions
    base, rho = timed(lambda: forward_occupancy(mdp, np.exp(dense_soft_value_iteration(P, reward, mdp.discount))), 1)
    solve_row = {
        "name": f"soft-optimal policy + exact occupancy, Gymnasium {name} (S={mdp.n_states}, A={mdp.n_actions}, gamma=0.99)",
        "seconds": ours, "baseline": "dense soft VI + forward propagation", "baseline_seconds": base,
        "speedup": base / ours, "target_seconds": 0.05, "representation": mdp.representation,
        "max_abs_difference": float(np.abs(sol - rho).max()),
    }
    # the exact expert: pairs whose mass underflows float64 are held at its floor (expert_occupancy)
    from trirl.tabular.occupancies import expert_occupancy

    rho_expert = expert_occupancy(mdp, solve(mdp, reward).log_policy)
    learner = make_trirl(mdp, rho_expert, TRIRLConfig(eps=0.5, beta=1e4, eta=49_999.0))
    state = learner.init()
    ours_s = statistics.median(_run_iterations(learner, max(3, repeats)))
    base_s, _ = timed(lambda: teaching_trirl_iteration(mdp, state.reward, state.log_policy, np.log(np.maximum(rho_expert, 1e-300)),
                                                       0.5, 1e4, 49_999.0), 1)
    iteration_row = {
        "name": f"one exact TRIRL iteration, Gymnasium {name} (S={mdp.n_states}, A={mdp.n_actions}, gamma=0.99), with its metrics",
        "seconds": ours_s, "baseline": "soft VI + forward-propagated occupancy", "baseline_seconds": base_s,
        "speedup": base_s / ours_s, "target_seconds": 0.5,
    }
    return [solve_row, iteration_row]


def _cli_seconds(env_changes: dict[str, str | None], out: Path) -> tuple[float, float]:
    """Wall seconds of ``trirl grid --world four_rooms --quiet`` in a fresh process, and its learning
    time (the sum of the logged ``step_time``)."""
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    tick = time.perf_counter()
    subprocess.run([sys.executable, "-m", "trirl.cli", "grid", "--world", "four_rooms", "--quiet", "--out", str(out)],
                   env=env, check=True, capture_output=True)
    wall = time.perf_counter() - tick
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return wall, float(sum(row.get("step_time", 0.0) for row in rows))


def bench_four_rooms_threads(repeats: int) -> dict:
    settings = {
        "default": {"OPENBLAS_NUM_THREADS": None, "TRIRL_BLAS_THREADS": None},
        "one_thread": {"OPENBLAS_NUM_THREADS": "1", "TRIRL_BLAS_THREADS": None},
        "policy_off": {"OPENBLAS_NUM_THREADS": None, "TRIRL_BLAS_THREADS": "off"},
    }
    walls = {name: [] for name in settings}
    learning = {name: [] for name in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(max(1, repeats // 2)):
            for name, changes in settings.items():
                wall, learn = _cli_seconds(changes, Path(tmp) / f"{name}-{repeat}")
                walls[name].append(wall)
                learning[name].append(learn)
    wall = {name: statistics.median(v) for name, v in walls.items()}
    learn = {name: statistics.median(v) for name, v in learning.items()}
    return {
        "name": "trirl grid --world four_rooms (100 iterations, a fresh process), default BLAS threads vs one thread",
        "seconds": wall["default"], "learning_seconds": learn["default"],
        "baseline": "the same with OPENBLAS_NUM_THREADS=1", "baseline_seconds": wall["one_thread"],
        "baseline_learning_seconds": learn["one_thread"],
        "speedup": wall["one_thread"] / wall["default"], "target_seconds": 1.3 * wall["one_thread"],
        "policy_off_seconds": wall["policy_off"], "policy_off_learning_seconds": learn["policy_off"],
        "policy_off": "TRIRL_BLAS_THREADS=off: the machine's default threads, as before the thread policy",
    }


SAFEGUARD_ITERATIONS = 100


def safeguard_problems() -> list[tuple[str, MDP, np.ndarray, int]]:
    """``(label, mdp, true reward, iterations)`` of figure 8 (module doc)."""
    from trirl.tabular.examples import student_maze

    problems = []
    for name in gridworld.names():
        for variant in [None, *gridworld.variants(name)]:
            world = gridworld.load(name, variant)
            problems.append((name + (f" ({variant})" if variant else ""), world.mdp, world.reward, SAFEGUARD_ITERATIONS))
    maze = student_maze()
    problems.append(("student_maze", maze.mdp, maze.reward, SAFEGUARD_ITERATIONS))
    try:
        import gymnasium

        from trirl.bench.demos import frozen_lake

        name, mdp, reward = taxi_problem()
        problems.append((name, mdp, reward, 30))
        lake = frozen_lake(gymnasium)
        problems.append(("FrozenLake 8x8", lake.mdp, lake.reward, SAFEGUARD_ITERATIONS))
    except ImportError:
        pass
    _, _, mdp, reward = dense_problem()
    problems.append((f"dense random MDP (S={DENSE_STATES}, A={DENSE_ACTIONS})", mdp, reward, 20))
    return problems


def _timed_run(mdp: MDP, rho_expert, iterations: int, safeguard: bool) -> tuple[float, float, object]:
    """Wall and CPU seconds of one TRIRL run (metrics included), and its result."""
    import warnings

    from trirl.errors import DualIncreaseWarning

    tick, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualIncreaseWarning)  # counted in the row instead
        result = trirl(mdp, rho_expert, iterations=iterations, safeguard=safeguard)
    return time.perf_counter() - tick, time.process_time() - cpu, result


def bench_safeguard(repeats: int) -> list[dict]:
    return [safeguard_row(label, mdp, reward, iterations, repeats) for label, mdp, reward, iterations in safeguard_problems()]


def safeguard_row(label: str, mdp: MDP, reward, iterations: int, repeats: int) -> dict:
    """One row of figure 8: the safeguarded and the fixed step from the same exact expert."""
    from trirl.tabular.occupancies import expert_occupancy

    rho_expert = expert_occupancy(mdp, solve(mdp, reward).log_policy)
    runs = {True: [], False: []}
    for _ in range(max(1, repeats)):
        for safeguard in (False, True):  # interleaved, so that the machine's load hits both alike
            runs[safeguard].append(_timed_run(mdp, rho_expert, iterations, safeguard))
    summary = {}
    for safeguard, done in runs.items():
        result = done[-1][2]
        dual, last = result.metric("dual"), result.history[-1]
        summary[safeguard] = {
            "seconds": statistics.median(t for t, _, _ in done),
            "cpu_seconds": statistics.median(c for _, c, _ in done),
            "learning_seconds": statistics.median(r.history[-1]["wall_time"] for _, _, r in done),
            "backups": int(last["backups"]), "solves": int(last["solves"]),
            "factorisations": int(last["factorisations"]),
            "dual_rises": int(np.sum(np.diff(dual) > 1e-11 * np.maximum(1.0, np.abs(dual[:-1])))),
            "final_reverse_kl": float(last["reverse_kl"]),
            "halvings": int(last.get("total_backtracks", 0)),
        }
    fixed, safe = summary[False], summary[True]
    monotone = fixed["dual_rises"] == 0
    return {
        "name": f"safeguarded vs fixed step, {label} (S={mdp.n_states}, gamma={mdp.discount:g}, {iterations} iterations)",
        "world": label, "iterations": iterations,
        "seconds": safe["learning_seconds"], "baseline": "the paper's fixed step (safeguard=False)",
        "baseline_seconds": fixed["learning_seconds"], "speedup": fixed["learning_seconds"] / safe["learning_seconds"],
        "wall_ratio": safe["learning_seconds"] / fixed["learning_seconds"],
        "run_ratio": safe["seconds"] / fixed["seconds"],
        "cpu_ratio": safe["cpu_seconds"] / fixed["cpu_seconds"],
        "backups_ratio": safe["backups"] / fixed["backups"],
        "fixed_step_monotone": monotone,
        "target_seconds": 1.3 * fixed["learning_seconds"] if monotone else None,
        "fixed": fixed, "safeguarded": safe,
    }


BENCHES = ("solve32", "iteration128", "default_world", "dense_solve", "dense_iteration", "taxi", "cli_threads", "safeguard")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="trirl bench tabular", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("book/results/tabular-bench.json"))
    parser.add_argument("--only", nargs="+", choices=BENCHES, default=list(BENCHES),
                        help="run these figures only (default: all)")
    parser.add_argument("--imitation-path", type=Path, default=None,
                        help="a directory holding imitation 1.0.1 and its gymnasium 0.29 (pip install --target), "
                             "for the MCE-IRL baseline when imitation cannot be imported here")
    args = parser.parse_args(argv)
    benches = {
        "solve32": lambda: [bench_solve_32(args.repeats)],
        "iteration128": lambda: [bench_trirl_iteration_128(args.repeats)],
        "default_world": lambda: [bench_trirl_default_world(args.repeats)],
        "dense_solve": lambda: [bench_dense_solve(args.repeats)],
        "dense_iteration": lambda: [bench_dense_trirl_iteration(args.repeats, args.imitation_path)],
        "taxi": lambda: bench_taxi(args.repeats),
        "cli_threads": lambda: [bench_four_rooms_threads(args.repeats)],
        "safeguard": lambda: bench_safeguard(args.repeats),
    }
    results = []
    for bench in (benches[name] for name in BENCHES if name in args.only):
        # every figure with one BLAS thread on both sides (the engine's own policy for these sizes,
        # and the faster setting for the baselines on a shared machine); the CLI figure sets its own
        with blas_threads(1, limit=1):
            rows = bench()
        for row in rows:
            results.append(row)
            if row["target_seconds"] is None:
                status = "no target (the fixed step is not monotone here)"
            else:
                status = ("meets" if row["seconds"] <= row["target_seconds"] else "MISSES") + \
                    f" target {row['target_seconds'] * 1e3:.0f} ms"
            print(f"{row['name']}\n  ours {row['seconds'] * 1e3:9.1f} ms   baseline ({row['baseline']}) "
                  f"{row['baseline_seconds'] * 1e3:9.1f} ms   ratio {row['speedup']:.2f}x   {status}", flush=True)
    report = {"suite": "tabular", "machine": machine(), "repeats": args.repeats, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0
