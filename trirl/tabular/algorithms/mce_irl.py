"""MCE-IRL by reward gradient (Ziebart et al. 2010, "Modeling purposeful adaptive behavior with
the principle of maximum causal entropy"), on the exact engine.

The MCE dual in the ``beta -> inf`` limit of the paper's Eq. 1 is
``G(r) = E_mu0[V_r(s0)] - sum rho_E r`` (:func:`~trirl.tabular.algorithms.common.mce_dual`),
minus the discounted expert log-likelihood ``sum rho_E log pi_r``. Its gradient is
``dG/dr = rho_{pi_r} - rho_E`` ("expected minus empirical feature counts", Ziebart et al. 2010,
Sec. 6), so for ``r = Phi theta`` one iteration is

    theta <- theta + lr * Phi^T (rho_E - rho_{pi_r}),   then pi_r <- the soft-optimal policy (full solve).

Every iteration is an MCE pair, so the dual is exact and, with a small enough ``lr``, monotone.
Compare TRIRL, which moves in function space and replaces the full solve by a trust-region one.

**Safeguard** (``safeguard=True``, the default, as TRIRL's). How small ``lr`` must be depends on
the world: the default ``lr = 0.5`` lets the dual rise on about one generated user world in
eight (``tests/test_monotone_defaults.py``). Since the dual is exact, a step whose dual would
rise is retried with half of ``lr``, up to ``max_backtracks`` times (then rejected); the next
iteration starts from twice the step accepted, at most ``lr``. The check costs nothing extra:
the full solve gives ``V`` of the new reward. ``safeguard=False`` is the plain gradient step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trirl.tabular.algorithms.common import (
    DUAL_RTOL,
    mce_dual,
    namedtuple_learner,
    RewardGradientState,
    check_iterations,
    check_positive,
    measure,
    warm,
)
from trirl.errors import InvalidConfigError
from trirl.tabular.driver import Learner, Result, run
from trirl.tabular.mdp import MDP
from trirl.tabular.objectives import check_expert_occupancy, policy_kl, safe_log
from trirl.tabular.occupancies import log_occupancy
from trirl.tabular.rewards import make_reward_class
from trirl.tabular.soft import solve


@dataclass(frozen=True)
class MCEIRLConfig:
    """MCE-IRL hyperparameters.

    Attributes:
        lr: step size of the gradient ascent on the expert log-likelihood (> 0). The gradient
            ``rho_E - rho_pi`` has mass up to ``2 / (1 - gamma)``: scale ``lr`` with ``1 - gamma``.
        reward_class: ``"tabular"``, ``"state_only"`` or ``"linear"`` (see :mod:`trirl.tabular.rewards`).
        solver: exact soft solver for the per-iteration full solve.
        safeguard: halve ``lr`` until the exact dual does not increase (module doc); ``False``:
            the plain gradient step.
        max_backtracks: the most halvings per iteration before the step is rejected.
    """

    lr: float = 0.5
    reward_class: str = "tabular"
    solver: str = "auto"
    safeguard: bool = True
    max_backtracks: int = 30

    def __post_init__(self):
        check_positive("lr", self.lr)
        if not isinstance(self.safeguard, (bool, np.bool_)):
            raise InvalidConfigError(f"safeguard is {self.safeguard!r}, expected True (the default) or False")
        if not (isinstance(self.max_backtracks, int) and self.max_backtracks >= 0):
            raise InvalidConfigError(f"max_backtracks is {self.max_backtracks!r}, expected an integer >= 0")


def make_mce_irl(mdp: MDP, rho_expert, config: MCEIRLConfig = MCEIRLConfig(), features=None) -> Learner:
    """MCE-IRL as a :class:`Learner` over :class:`RewardGradientState` (module doc)."""
    rho_expert = check_expert_occupancy(mdp, rho_expert)
    log_rho_expert = safe_log(rho_expert)
    reward_class = make_reward_class(mdp, config.reward_class, features)

    def init(key=None) -> RewardGradientState:
        params = reward_class.zeros()
        reward = reward_class.reward(params)
        solution = solve(mdp, reward, method=config.solver)
        return RewardGradientState(0, params, reward, solution.log_policy, solution.v, solution.backups, solution.solves, 0.0,
                                   next_lr=float(config.lr))

    def metrics(state: RewardGradientState) -> dict[str, Any]:
        row = {
            "iteration": state.iteration, "policy_kl": 0.0, "backups": state.backups, "solves": state.solves,
            "wall_time": state.wall_time,
            **measure(mdp, state.reward, state.log_policy, rho_expert, log_rho_expert, value=state.value),
        }
        if config.safeguard:
            row["total_backtracks"] = state.backtracks
        return row

    def step(state: RewardGradientState, key=None) -> tuple[RewardGradientState, dict[str, Any]]:
        tick = time.perf_counter()
        rho = np.exp(log_occupancy(mdp, state.log_policy))
        direction = reward_class.adjoint(rho_expert - rho)
        start = min(float(config.lr), float(state.next_lr)) if config.safeguard and state.next_lr > 0 else float(config.lr)
        lr, halvings, backups, solves = start, 0, 0, 0
        previous = mce_dual(mdp, state.reward, rho_expert, state.value) if config.safeguard else None
        while True:
            params = state.params + lr * direction
            reward = reward_class.reward(params)
            solution = solve(mdp, reward, method=config.solver, warm_start=warm(state.value, state.log_policy))
            backups, solves = backups + solution.backups, solves + solution.solves
            if not config.safeguard:
                break
            # the full solve gives V of the new reward: the exact dual costs one dot product
            if mce_dual(mdp, reward, rho_expert, solution.v) <= previous + DUAL_RTOL * max(1.0, abs(previous)):
                break
            if halvings == config.max_backtracks:  # reject: keep the current MCE pair
                params, reward, lr = state.params, state.reward, 0.0
                solution = warm(state.value, state.log_policy)
                break
            lr, halvings = 0.5 * lr, halvings + 1
        next_lr = min(float(config.lr), 2.0 * lr) if lr > 0 else start * 0.5 ** config.max_backtracks
        new_state = RewardGradientState(
            state.iteration + 1, params, reward, solution.log_policy, solution.v,
            state.backups + backups, state.solves + solves,
            state.wall_time + time.perf_counter() - tick, next_lr=next_lr, backtracks=state.backtracks + halvings,
        )
        kl = policy_kl(mdp, solution.log_policy, state.log_policy)
        extra = {"lr": lr, "backtracks": halvings} if config.safeguard else {}
        return new_state, {**metrics(new_state), "policy_kl": kl, **extra}

    advice = (f"Cause: the reward gradient step lr={config.lr} is too large for the curvature of the dual here "
              "(it grows with 1 / (1 - gamma) and where rho_expert is tiny, e.g. smoothed sampled demonstrations). "
              "Remedy: safeguard=True (the default), a smaller lr, or TRIRL.")
    if config.safeguard:
        advice = ("Cause: the safeguard accepts a step only if the exact dual does not increase, so this is rounding "
                  f"in the soft solves beyond its tolerance (rtol {DUAL_RTOL:g}). Remedy: a tighter solver tolerance.")
    return namedtuple_learner("mce-irl", RewardGradientState, init, step, metrics, advice)


def mce_irl(
    mdp: MDP,
    rho_expert,
    lr: float = 0.5,
    iterations: int = 100,
    reward_class: str = "tabular",
    features=None,
    solver: str = "auto",
    safeguard: bool = MCEIRLConfig.safeguard,
    max_backtracks: int = 30,
    run_dir=None,
    progress: bool = False,
    print_every: int = 0,
    callback=None,
) -> Result:
    """Run MCE-IRL by reward gradient for ``iterations`` iterations; see :class:`MCEIRLConfig`.

    History: ``iteration, reverse_kl, dual, policy_kl, backups, solves, wall_time`` (no
    ``eta`` / ``eps_tr``: there is no trust region); with the safeguard also ``lr`` (the step
    accepted), ``backtracks`` and ``total_backtracks``.
    """
    iterations = check_iterations(iterations)
    config = MCEIRLConfig(lr, reward_class, solver, safeguard, max_backtracks)
    learner = make_mce_irl(mdp, rho_expert, config, features=features)
    return run(learner, iterations, run_dir=run_dir, progress=progress, print_every=print_every, callback=callback)
