"""Where monotonic improvement holds: sweeps behind ``book/findings.md``.

Exact TRIRL from ``r = 0`` with fixed ``eta`` is, by Theorem 3.2 (checked to rounding by
``check_theorem_3_2``), the function-space iteration ``r <- (1 - eps_tr) r + eps_tr beta
log(rho_E / rho_pi_r)`` with ``eps_tr = eps / (1 + eta)``. Two numbers describe a step:

- the effective step ``alpha = eps_tr * beta`` (how far the reward moves per unit log-ratio),
- the contraction ``kappa = eps_tr + alpha = eps (1 + beta) / (1 + eta)``.

Linearised at the fixed point ``r* = beta log(rho_E / rho*)``, the error evolves by
``(1 - eps_tr) I - alpha J`` with ``J = d log rho / d r`` (eigenvalues in ``[0, ~1]``): the
iteration is non-oscillating for ``kappa <= 1`` and stable for ``kappa < 2``. The sweep below
measures where the dual and the reverse KL stop being monotone as a function of ``kappa``,
the split ``eps_tr / kappa`` and the discount.

Run: ``python -m trirl.verify.findings [--seeds N] [--iterations K] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import NamedTuple

import numpy as np

from trirl.tabular import occupancy, solve
from trirl.tabular.analysis import jacobian_lambda_max  # noqa: F401 (re-exported)
from trirl.verify.properties import increase, trirl_trace  # noqa: F401 (re-exported)
from trirl.verify.strategies import build_mdp

KAPPAS = (0.5, 0.9, 0.99, 1.01, 1.1, 1.25, 1.5, 1.75, 1.9, 1.99, 2.01, 2.25)
SPLITS = (1e-4, 0.1, 0.5, 0.9)  # eps_tr / kappa: 1e-4 is the beta -> infinity (MCE-IRL) limit
DISCOUNTS = (0.0, 0.5, 0.9, 0.99)
DUAL_TOL = 1e-8  # relative increase of G counted as a violation (above the noise of exact solves)
KL_TOL = 1e-9  # absolute increase of the reverse KL counted as a violation


def expert_problem(seed: int, n_states: int, n_actions: int, discount: float, structure: str = "dense"):
    """A random MDP and the occupancy of an expert soft-optimal for a random reward of scale 2."""
    mdp = build_mdp(seed, n_states, n_actions, discount, structure)
    expert_reward = np.random.default_rng(seed + 10_000).normal(size=mdp.shape) * 2.0
    return mdp, occupancy(mdp, solve(mdp, expert_reward).policy)


def sweep(seeds: int = 10, iterations: int = 30, n_states: int = 6, n_actions: int = 3, progress=None) -> list[dict]:
    """One row per (discount, kappa, split): how many of ``seeds`` MDPs violate each monotonicity."""
    rows = []
    for gamma in DISCOUNTS:
        problems = [expert_problem(seed, n_states, n_actions, gamma) for seed in range(seeds)]
        for kappa in KAPPAS:
            for split in SPLITS:
                eps_tr = split * kappa
                if eps_tr > 1.0:
                    continue
                beta = (kappa - eps_tr) / eps_tr
                dual_fail = kl_fail = 0
                dual_worst = kl_worst = 0.0
                for mdp, rho_e in problems:
                    trace = trirl_trace(mdp, rho_e, eps_tr, beta, 0.0, iterations)
                    d = increase(trace.dual)
                    k = float(max(0.0, np.diff(trace.reverse_kl).max()))
                    dual_fail += d > DUAL_TOL
                    kl_fail += k > KL_TOL
                    dual_worst, kl_worst = max(dual_worst, d), max(kl_worst, k)
                row = {
                    "discount": gamma, "kappa": kappa, "eps_tr": eps_tr, "beta": beta, "alpha": kappa - eps_tr,
                    "seeds": seeds, "dual_fail": int(dual_fail), "dual_worst": dual_worst,
                    "kl_fail": int(kl_fail), "kl_worst": kl_worst,
                }
                rows.append(row)
                if progress:
                    progress(row)
    return rows


def format_row(row: dict) -> str:
    return (
        f"gamma={row['discount']:<5} kappa={row['kappa']:<5} eps_tr={row['eps_tr']:<9.3g} beta={row['beta']:<9.4g} "
        f"alpha={row['alpha']:<7.4g} dual {row['dual_fail']:>2}/{row['seeds']} (max {row['dual_worst']:.1e})  "
        f"reverse_kl {row['kl_fail']:>2}/{row['seeds']} (max {row['kl_worst']:.1e})"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trirl.verify.findings", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    tick = time.perf_counter()
    rows = sweep(args.seeds, args.iterations, progress=lambda row: print(format_row(row), flush=True))
    print(f"# {len(rows)} rows in {time.perf_counter() - tick:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------------------------------------
# counterexamples by search and shrinking


class Setting(NamedTuple):
    """A monotonicity experiment, rebuilt exactly from these numbers (see :func:`run_setting`)."""

    seed: int
    n_states: int
    n_actions: int
    discount: float
    structure: str
    eps: float
    beta: float
    eta: float

    @property
    def kappa(self) -> float:
        return self.eps * (1.0 + self.beta) / (1.0 + self.eta)

    @property
    def alpha(self) -> float:
        return self.eps * self.beta / (1.0 + self.eta)


def run_setting(setting: Setting, iterations: int = 30):
    """``(dual increase, reverse-KL increase)`` of exact TRIRL on :func:`expert_problem`."""
    mdp, rho_e = expert_problem(setting.seed, setting.n_states, setting.n_actions, setting.discount, setting.structure)
    trace = trirl_trace(mdp, rho_e, setting.eps, setting.beta, setting.eta, iterations)
    return increase(trace.dual), float(max(0.0, np.diff(trace.reverse_kl).max()))


def settings_strategy(eps_tr, alpha, max_states: int = 8):
    """Hypothesis strategy of :class:`Setting` with ``eta = 0`` (Theorem 3.2: only ``eps_tr`` matters)
    for given strategies of ``eps_tr`` in (0, 1] and ``alpha > 0``; shrinks to small worlds."""
    from hypothesis import strategies as st

    from trirl.verify.strategies import discounts

    @st.composite
    def draw_setting(draw):
        e, a = draw(eps_tr), draw(alpha)
        return Setting(
            draw(st.integers(0, 1000)), draw(st.integers(2, max_states)), draw(st.integers(2, 4)),
            float(draw(discounts())), draw(st.sampled_from(("dense", "sparse", "deterministic"))),
            float(e), float(a / e), 0.0,
        )

    return draw_setting()


def find_counterexample(strategy, metric: str, tol: float, max_examples: int = 300, iterations: int = 30):
    """The shrunk :class:`Setting` whose ``metric`` (``"dual"`` or ``"reverse_kl"``) increases by more
    than ``tol``, or ``None`` when ``max_examples`` draws find none."""
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    index = 0 if metric == "dual" else 1

    def fails(setting):
        return run_setting(setting, iterations)[index] > tol

    try:
        return find(strategy, fails, settings=settings(
            max_examples=max_examples, database=None, derandomize=True, deadline=None,
            suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        return None


def example_mdp():
    """The 8-state, 4-action, discount-0.95 problem ``random_mdp(1, 8, 4, 0.95, sparsity=4.0)``."""
    from trirl.tabular import random_mdp

    mdp = random_mdp(1, 8, 4, 0.95, sparsity=4.0)
    expert = solve(mdp, np.random.default_rng(1).normal(size=mdp.shape) * 2)
    return mdp, occupancy(mdp, expert.policy)


def kappa_threshold(mdp, rho_e, split: float, metric: str, lo: float, hi: float, iterations: int = 30, steps: int = 12):
    """Bisection for the smallest ``kappa`` in ``[lo, hi]`` at which ``metric`` stops being monotone,
    with ``eps_tr = split * kappa`` and ``eta = 0`` (assumes failure is monotone in ``kappa``)."""
    tol = DUAL_TOL if metric == "dual" else KL_TOL

    def fails(kappa):
        eps_tr = min(1.0, split * kappa)
        trace = trirl_trace(mdp, rho_e, eps_tr, (kappa - eps_tr) / eps_tr, 0.0, iterations)
        values = trace.dual if metric == "dual" else trace.reverse_kl
        return (increase(values) if metric == "dual" else float(max(0.0, np.diff(values).max()))) > tol

    if not fails(hi):
        return None
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fails(mid) else (mid, hi)
    return hi


