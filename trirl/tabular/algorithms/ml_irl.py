"""ML-IRL (Zeng, Li, Garcia, Hong 2022, "Maximum-Likelihood Inverse Reinforcement Learning with
Finite-Time Guarantees", Algorithm 1), on the exact engine.

ML-IRL maximises the discounted expert log-likelihood ``L(theta) = sum rho_E log pi_theta``
(= ``-G(r_theta)``, the MCE dual, :func:`~trirl.tabular.algorithms.common.mce_dual`) as a
single loop: each iteration

1. improves the policy for the current reward ``r_theta`` by only ``inner_steps`` warm-started
   soft steps (their Eq. 7, a few soft policy-iteration / soft Q steps instead of a full solve),
2. takes one reward gradient step with the *new* policy's occupancy (their Eq. 9, exact here):
   ``theta <- theta + lr * Phi^T (rho_E - rho_pi)``.

Unlike MCE-IRL the policy lags the reward, so ``(reward, policy)`` is not an MCE pair and the
reported ``dual`` (of the reward, via a measurement-only solve) need not be monotone; Zeng et al.
prove convergence for small ``lr`` (two-timescale).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trirl.tabular.algorithms.common import (
    charge,
    check_inner_method,
    check_positive,
    check_steps,
    expert_record,
    metrics_row,
    namedtuple_learner,
    RewardGradientState,
    runner,
    soft_policy_steps,
    step_row,
)
from trirl.tabular.driver import Learner
from trirl.tabular.mdp import MDP
from trirl.tabular.occupancies import log_occupancy
from trirl.tabular.rewards import make_reward_class
from trirl.tabular.soft import solve


@dataclass(frozen=True)
class MLIRLConfig:
    """ML-IRL hyperparameters.

    Attributes:
        lr: reward step size (> 0) on the gradient ``rho_E - rho_pi`` (mass up to ``2 / (1 - gamma)``).
        inner_steps: ``k``, soft policy-improvement steps per iteration (>= 1).
        inner_method: ``"value_iteration"`` (``k`` warm-started backups) or ``"policy_iteration"``
            (``k`` rounds of exact evaluation + one backup).
        reward_class: ``"tabular"``, ``"state_only"`` or ``"linear"``.
        solver: exact soft solver for the initial policy and the measured dual.
    """

    lr: float = 0.5
    inner_steps: int = 5
    inner_method: str = "value_iteration"
    reward_class: str = "tabular"
    solver: str = "auto"

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_steps("inner_steps", self.inner_steps)
        check_inner_method(self.inner_method)


def initial_state(mdp: MDP, reward_class, solver: str) -> RewardGradientState:
    """``theta = 0`` and its soft-optimal (uniform) policy."""
    params = reward_class.zeros()
    reward = reward_class.reward(params)
    solution = solve(mdp, reward, method=solver)
    return RewardGradientState(0, params, reward, solution.log_policy, solution.v, solution.backups, solution.solves, 0.0)


def improve_policy(mdp: MDP, state: RewardGradientState, inner_steps: int, inner_method: str):
    """Step 1: ``inner_steps`` warm-started soft steps for the current reward (ML-IRL Eq. 7)."""
    return soft_policy_steps(mdp, state.reward, state.value, state.log_policy, inner_steps, inner_method)


def make_ml_irl(mdp: MDP, rho_expert, config: MLIRLConfig = MLIRLConfig(), features=None) -> Learner:
    """ML-IRL as a :class:`Learner` over :class:`RewardGradientState` (module doc)."""
    expert = expert_record(mdp, rho_expert)
    reward_class = make_reward_class(mdp, config.reward_class, features)

    def metrics(state: RewardGradientState) -> dict[str, Any]:
        return metrics_row(mdp, expert, state, config.solver)

    def step(state: RewardGradientState, key=None) -> tuple[RewardGradientState, dict[str, Any]]:
        tick = time.perf_counter()
        policy = improve_policy(mdp, state, config.inner_steps, config.inner_method)
        rho = np.exp(log_occupancy(mdp, policy.log_policy))
        params = state.params + config.lr * reward_class.adjoint(expert.rho - rho)
        new_state = RewardGradientState(state.iteration + 1, params, reward_class.reward(params), policy.log_policy,
                                        policy.value, **charge(state, policy, tick))
        return new_state, step_row(mdp, metrics, state, new_state)

    advice = (f"Cause: the reward gradient step lr={config.lr} is too large, or inner_steps={config.inner_steps} "
              "leave the policy too far from the reward's soft-optimal one for its gradient to point downhill. "
              "Remedy: a smaller lr or more inner_steps.")
    return namedtuple_learner(
        "ml-irl", RewardGradientState, lambda key=None: initial_state(mdp, reward_class, config.solver), step, metrics, advice
    )


ml_irl = runner(make_ml_irl, MLIRLConfig, "ml_irl", """Run ML-IRL: ``ml_irl(mdp, rho_expert, iterations=100, *, **fields,
config=None, features=None, **run_options)``.

The fields are :class:`MLIRLConfig`'s (with its defaults), or ``config`` gives them all;
``features`` serve ``reward_class="linear"``; the run options are
:func:`trirl.tabular.driver.run`'s. ``rho_expert`` is ``[S, A]`` with mass ``1 / (1 - gamma)``.

History: ``iteration, reverse_kl, dual, policy_kl, backups, solves, wall_time``.

Raises:
    InvalidConfigError: a bad field (named), ``iterations`` or ``rho_expert``.
""")
