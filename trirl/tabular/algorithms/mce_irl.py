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
eight (``tests/tabular/test_monotone_defaults.py``). Since the dual is exact, a step whose dual would
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
    Work,
    charge,
    check_positive,
    expert_record,
    mce_dual,
    metrics_row,
    namedtuple_learner,
    RewardGradientState,
    runner,
    step_row,
    warm,
)
from trirl.errors import InvalidConfigError
from trirl.tabular.driver import Learner
from trirl.tabular.mdp import MDP
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
    expert = expert_record(mdp, rho_expert)
    reward_class = make_reward_class(mdp, config.reward_class, features)

    def init(key=None) -> RewardGradientState:
        params = reward_class.zeros()
        reward = reward_class.reward(params)
        solution = solve(mdp, reward, method=config.solver)
        return RewardGradientState(0, params, reward, solution.log_policy, solution.v, solution.backups, solution.solves, 0.0,
                                   next_lr=float(config.lr))

    def metrics(state: RewardGradientState) -> dict[str, Any]:
        row = metrics_row(mdp, expert, state, value=state.value)
        if config.safeguard:
            row["total_backtracks"] = state.backtracks
        return row

    def step(state: RewardGradientState, key=None) -> tuple[RewardGradientState, dict[str, Any]]:
        tick = time.perf_counter()
        rho = np.exp(log_occupancy(mdp, state.log_policy))
        direction = reward_class.adjoint(expert.rho - rho)
        start = min(float(config.lr), float(state.next_lr)) if config.safeguard and state.next_lr > 0 else float(config.lr)
        lr, halvings, work = start, 0, Work()
        previous = mce_dual(mdp, state.reward, expert.rho, state.value) if config.safeguard else None
        while True:
            params = state.params + lr * direction
            reward = reward_class.reward(params)
            solution = solve(mdp, reward, method=config.solver, warm_start=warm(state.value, state.log_policy))
            work = work.plus(solution)
            if not config.safeguard:
                break
            # the full solve gives V of the new reward: the exact dual costs one dot product
            if mce_dual(mdp, reward, expert.rho, solution.v) <= previous + DUAL_RTOL * max(1.0, abs(previous)):
                break
            if halvings == config.max_backtracks:  # reject: keep the current MCE pair
                params, reward, lr = state.params, state.reward, 0.0
                solution = warm(state.value, state.log_policy)
                break
            lr, halvings = 0.5 * lr, halvings + 1
        next_lr = min(float(config.lr), 2.0 * lr) if lr > 0 else start * 0.5 ** config.max_backtracks
        new_state = RewardGradientState(
            state.iteration + 1, params, reward, solution.log_policy, solution.v, **charge(state, work, tick),
            next_lr=next_lr, backtracks=state.backtracks + halvings,
        )
        extra = {"lr": lr, "backtracks": halvings} if config.safeguard else {}
        return new_state, step_row(mdp, metrics, state, new_state, **extra)

    advice = (f"Cause: the reward gradient step lr={config.lr} is too large for the curvature of the dual here "
              "(it grows with 1 / (1 - gamma) and where rho_expert is tiny, e.g. smoothed sampled demonstrations). "
              "Remedy: safeguard=True (the default), a smaller lr, or TRIRL.")
    if config.safeguard:
        advice = ("Cause: the safeguard accepts a step only if the exact dual does not increase, so this is rounding "
                  f"in the soft solves beyond its tolerance (rtol {DUAL_RTOL:g}). Remedy: a tighter solver tolerance.")
    return namedtuple_learner("mce-irl", RewardGradientState, init, step, metrics, advice)


mce_irl = runner(make_mce_irl, MCEIRLConfig, "mce_irl", """Run MCE-IRL by reward gradient: ``mce_irl(mdp, rho_expert,
iterations=100, *, **fields, config=None, features=None, **run_options)``.

The fields are :class:`MCEIRLConfig`'s (with its defaults), or ``config`` gives them all;
``features`` serve ``reward_class="linear"``; the run options are
:func:`trirl.tabular.driver.run`'s. ``rho_expert`` is ``[S, A]`` with mass ``1 / (1 - gamma)``.

History: ``iteration, reverse_kl, dual, policy_kl, backups, solves, wall_time`` (no
``eta`` / ``eps_tr``: there is no trust region); with the safeguard also ``lr`` (the step
accepted), ``backtracks`` and ``total_backtracks``.

Raises:
    InvalidConfigError: a bad field (named), ``iterations`` or ``rho_expert``.
""")
