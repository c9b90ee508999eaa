"""Tabular benchmark: the exact engine against the way teaching code usually does it.

Each figure is the median wall time of several repeats, printed beside a baseline measured in
the same run, as a ratio (baseline time / our time; above 1 means we are faster):

1. soft-optimal policy + exact occupancy on a 32x32 grid (1,024 states, 5 actions, gamma 0.99);
   baseline: a plain dense implementation (dense ``P[S, A, S]``, soft value iteration with
   einsum, occupancy by repeated forward propagation ``d_{t+1} = mu0 + gamma P_pi^T d_t``);
2. one exact TRIRL iteration on a 128x128 grid (16,384 states); baseline: the same iteration
   with occupancies by repeated forward propagation and soft value iteration (sparse, since a
   dense ``P`` would need 10 GiB);
3. TRIRL to reverse KL <= 1e-4 on the default world, end to end; baseline: the same run with
   soft value iteration as the inner solver.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from trirl.bench.machine import describe
from trirl.tabular import gridworld, occupancy, solve, trirl
from trirl.tabular.algorithms.trirl import TRIRLConfig, make_trirl
from trirl.tabular.mdp import MDP

TOL = 1e-10


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        tick = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - tick)
    return statistics.median(times), out


# -- the baseline: plain dense / iterative teaching code ---------------------------------------


def dense_soft_value_iteration(P: np.ndarray, reward: np.ndarray, gamma: float, tol: float = TOL) -> np.ndarray:
    v = np.zeros(P.shape[0])
    while True:
        q = reward + gamma * np.einsum("sat,t->sa", P, v)
        top = q.max(axis=1)
        v_new = top + np.log(np.exp(q - top[:, None]).sum(axis=1))
        if np.max(np.abs(v_new - v)) * gamma / (1 - gamma) <= tol * max(1.0, np.abs(v_new).max()):
            return q - v_new[:, None]
        v = v_new


def forward_occupancy(mdp: MDP, policy: np.ndarray, tol: float = TOL) -> np.ndarray:
    """``d = sum_t gamma^t mu_t`` by propagating ``mu_t`` until the tail is below ``tol``."""
    p_pi_t = mdp.policy_transitions(policy).T.tocsr()
    mu, d, weight = mdp.initial.copy(), np.zeros(mdp.n_states), 1.0
    while weight / (1 - mdp.discount) > tol:
        d += weight * mu
        mu = p_pi_t @ mu
        weight *= mdp.discount
    return d[:, None] * policy


def teaching_trirl_iteration(mdp: MDP, reward, log_policy, log_rho_expert, eps, beta, eta):
    """One TRIRL iteration as teaching code writes it: soft VI + forward-propagated occupancy."""
    log_rho = np.log(np.maximum(forward_occupancy(mdp, np.exp(log_policy)), 1e-300))
    ratio = log_rho_expert - log_rho
    r_tilde = (1 - eps) * reward + eps * beta * ratio
    r_eta = (r_tilde + eta * log_policy) / (1 + eta)
    from trirl.tabular import soft_value_iteration

    new = soft_value_iteration(mdp, r_eta, tol=TOL)
    eps_tr = eps / (1 + eta)
    return (1 - eps_tr) * reward + eps_tr * beta * ratio, new.log_policy


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="trirl bench tabular", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("book/results/tabular-bench.json"))
    args = parser.parse_args(argv)
    results = []
    for bench in (bench_solve_32, bench_trirl_iteration_128, bench_trirl_default_world):
        row = bench(args.repeats)
        results.append(row)
        status = "meets" if row["seconds"] <= row["target_seconds"] else "MISSES"
        print(f"{row['name']}\n  ours {row['seconds'] * 1e3:9.1f} ms   baseline ({row['baseline']}) "
              f"{row['baseline_seconds'] * 1e3:9.1f} ms   ratio {row['speedup']:.1f}x   "
              f"{status} target {row['target_seconds'] * 1e3:.0f} ms", flush=True)
    report = {"suite": "tabular", "machine": describe(), "repeats": args.repeats, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0
