"""PIRO, Proximal Inverse Reward Optimization (the practical algorithm of Trust Region Reward
Optimization, TRRO; arXiv 2509.23135), on the exact engine.

TRRO's surrogate (their Theorem 3 and Proposition 2) is the imitation gap with the *old* policy,
linear in the reward: ``l_old(theta) = E_{p_E}[r_theta] - E_{p_pi_old}[r_theta]`` with the
normalised occupancies ``p = (1 - gamma) rho``. Its lower bound subtracts ``C`` times the
reward change; PIRO replaces ``C`` by an adapted ``mu`` and the sup-norm by an L2 norm over
expert and policy data. Here that norm is exact, weighted by the occupancy mixture
``w = (p_E + p_pi) / 2`` (:func:`~trirl.tabular.rewards.projection_weights`), and the reward
step maximises

    l_old(theta) - mu * ||Phi (theta - theta_old)||_w^2
    =>  theta = theta_old + (2 mu Phi^T W Phi)^{-1} Phi^T (p_E - p_pi)        (closed form)

(tabular: ``delta r = (p_E - p_pi) / (mu (p_E + p_pi)) = tanh(log_ratio / 2) / mu``, bounded by
``1 / mu`` and ``~ log_ratio / (2 mu)`` near the optimum: with this norm PIRO's reward step is a
bounded function-space step like TRIRL's Eq. 2 with ``eps beta ~ 1 / (2 mu)``). The measured
change ``change = ||delta r||_w`` adapts ``mu`` for the next iteration (PIRO's rule):
``mu *= y`` if ``change > target * x``, ``mu /= y`` if ``change < target / x``
(:func:`adapt_mu`), but never below ``mu_min`` (default: the initial ``mu``). Why the floor: the
exact gradient vanishes at the optimum, so the bare rule keeps dividing ``mu`` until the reward
moves by ``target`` every iteration, and on a 5x5 grid (discount 0.99) that step overshoots
where the occupancies are small and the reverse KL jumps back up (``book/results/tabular-engine.md``);
with the floor, ``mu`` only grows to damp large steps, the trust-region reading of TRRO's bound. The policy step is ML-IRL's: ``inner_steps`` warm-started soft steps
(:mod:`trirl.tabular.algorithms.ml_irl`); ``mu = 0`` (an unbounded step) is not allowed here, the
ML-IRL limit is :func:`~trirl.tabular.algorithms.ml_irl.ml_irl`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trirl.errors import InvalidConfigError
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
    step_row,
)
from trirl.tabular.algorithms.ml_irl import improve_policy, initial_state
from trirl.tabular.driver import Learner
from trirl.tabular.mdp import MDP
from trirl.tabular.occupancies import log_occupancy
from trirl.tabular.rewards import make_reward_class, projection_weights


@dataclass(frozen=True)
class PIROConfig:
    """PIRO hyperparameters (arXiv 2509.23135 notation).

    Attributes:
        mu: initial proximal weight (> 0); the reward change is at most about ``1 / mu``.
        mu_min: the floor of the adapted ``mu`` (``None``: the initial ``mu``; ``0``: the bare rule).
        target: target reward change ``eps_target`` (RMS under the occupancy mixture, > 0).
        x: tolerance factor (> 1) of the adaptation band ``[target / x, target * x]``.
        y: multiplicative adaptation of ``mu`` (> 1).
        inner_steps, inner_method: ML-IRL's policy step (:class:`~trirl.tabular.algorithms.ml_irl.MLIRLConfig`).
        reward_class: ``"tabular"``, ``"state_only"`` or ``"linear"``.
        solver: exact soft solver for the initial policy and the measured dual.
    """

    mu: float = 2.0
    target: float = 0.1
    x: float = 1.5
    y: float = 2.0
    mu_min: float | None = None
    inner_steps: int = 5
    inner_method: str = "value_iteration"
    reward_class: str = "tabular"
    solver: str = "auto"

    def __post_init__(self):
        check_positive("mu", self.mu)
        check_positive("target", self.target)
        if self.mu_min is not None:
            check_positive("mu_min", self.mu_min, allow_zero=True)
        if not (float(self.x) > 1 and np.isfinite(self.x)):
            raise InvalidConfigError(f"x is {self.x!r}, expected a finite number > 1")
        if not (float(self.y) > 1 and np.isfinite(self.y)):
            raise InvalidConfigError(f"y is {self.y!r}, expected a finite number > 1")
        check_steps("inner_steps", self.inner_steps)
        check_inner_method(self.inner_method)


def adapt_mu(mu: float, change: float, target: float, x: float, y: float, mu_min: float = 0.0) -> float:
    """PIRO's rule: ``mu * y`` if ``change > target * x``, ``mu / y`` if ``change < target / x``
    (but not below ``mu_min``), else ``mu``."""
    if change > target * x:
        return mu * y
    if change < target / x:
        return max(mu / y, mu_min)
    return mu


def make_piro(mdp: MDP, rho_expert, config: PIROConfig = PIROConfig(), features=None) -> Learner:
    """PIRO as a :class:`Learner` over :class:`RewardGradientState` (module doc)."""
    expert = expert_record(mdp, rho_expert)
    reward_class = make_reward_class(mdp, config.reward_class, features)

    def init(key=None) -> RewardGradientState:
        return initial_state(mdp, reward_class, config.solver)._replace(mu=float(config.mu))

    def metrics(state: RewardGradientState) -> dict[str, Any]:
        return metrics_row(mdp, expert, state, config.solver, mu=state.mu, reward_change=state.change)

    def step(state: RewardGradientState, key=None) -> tuple[RewardGradientState, dict[str, Any]]:
        tick = time.perf_counter()
        policy = improve_policy(mdp, state, config.inner_steps, config.inner_method)
        p_pi = (1.0 - mdp.discount) * np.exp(log_occupancy(mdp, policy.log_policy))
        weights = projection_weights(mdp, p_pi / (1.0 - mdp.discount), expert.rho)
        delta = reward_class.metric_solve(reward_class.adjoint(expert.p - p_pi), weights) / (2.0 * state.mu)
        params = state.params + delta
        reward = reward_class.reward(params)
        change = float(np.sqrt(np.sum(weights * (reward - state.reward) ** 2) / weights.sum()))
        mu = adapt_mu(state.mu, change, config.target, config.x, config.y, config.mu if config.mu_min is None else config.mu_min)
        new_state = RewardGradientState(state.iteration + 1, params, reward, policy.log_policy, policy.value,
                                        **charge(state, policy, tick), mu=mu, change=change)
        # report the mu used by this step (the adapted one is in the state for the next)
        return new_state, step_row(mdp, metrics, state, new_state, mu=state.mu)

    advice = (f"Cause: the proximal weight (mu={config.mu}, mu_min={config.mu_min}) lets the reward step too far, or "
              f"inner_steps={config.inner_steps} leave the policy inexact. Remedy: a larger mu (and mu_min) or more inner_steps.")
    return namedtuple_learner("piro", RewardGradientState, init, step, metrics, advice)


piro = runner(make_piro, PIROConfig, "piro", """Run PIRO: ``piro(mdp, rho_expert, iterations=100, *, **fields, config=None,
features=None, **run_options)``.

The fields are :class:`PIROConfig`'s (with its defaults), or ``config`` gives them all;
``features`` serve ``reward_class="linear"``; the run options are
:func:`trirl.tabular.driver.run`'s. ``rho_expert`` is ``[S, A]`` with mass ``1 / (1 - gamma)``.

History: ``iteration, reverse_kl, dual, policy_kl, mu, reward_change, backups, solves, wall_time``.

Raises:
    InvalidConfigError: a bad field (named), ``iterations`` or ``rho_expert``.
""")
