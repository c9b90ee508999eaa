"""AIRL in tabular form (Fu, Luo, Levine 2018, "Learning Robust Rewards with Adversarial Inverse
Reinforcement Learning", Eq. 4 and Algorithm 1, state-only reward), on the exact engine.

The discriminator over transitions ``(s, a, s')`` has AIRL's special form

    D(s, a, s') = exp(f) / (exp(f) + pi(a|s)),    f(s, a, s') = g(s) + gamma h(s') - h(s),

with a state-only reward ``g`` and a shaping potential ``h``, i.e. logits ``f - log pi(a|s)``.
Each iteration:

1. fits ``(g, h)`` by ``disc_steps`` gradient steps of size ``disc_lr`` (warm-started) on the
   logistic loss over the *transition* occupancies ``p(s, a, s') = (1 - gamma) rho(s, a) P(s'|s, a)``
   of the expert and the current policy (``pi`` held fixed inside the fit);
2. improves the policy by ``inner_steps`` warm-started soft steps for the reward
   ``log D - log(1 - D) + log pi = f``, in expectation over ``s'``:
   ``r_f(s, a) = g(s) + gamma (P h)(s, a) - h(s)``.

``r_f`` is ``g`` plus potential shaping, so both have the same soft-optimal policy and the same
MCE dual; the returned ``reward`` is the unshaped ``g`` (broadcast over actions) and the dual is
measured for it. The discriminator is refitted against a moving policy, so like GAIL the dual and
reverse KL are not monotone. Transitions are handled through the MDP's sparse ``[S * A, S]``
matrix, so the fit costs ``O(nnz(P))`` per step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.special import expit

from trirl.tabular.algorithms.common import (
    charge,
    check_inner_method,
    check_positive,
    check_steps,
    expert_record,
    metrics_row,
    namedtuple_learner,
    runner,
    soft_policy_steps,
    step_row,
)
from trirl.tabular.driver import Learner
from trirl.tabular.mdp import MDP
from trirl.tabular.occupancies import log_occupancy
from trirl.tabular.soft import solve


@dataclass(frozen=True)
class AIRLConfig:
    """AIRL hyperparameters.

    Attributes:
        disc_steps, disc_lr: discriminator gradient steps per iteration and their size.
        inner_steps, inner_method: soft policy steps per iteration (see ``soft_policy_steps``).
        solver: exact soft solver for the initial policy and the measured dual.
    """

    disc_steps: int = 10
    disc_lr: float = 20.0
    inner_steps: int = 5
    inner_method: str = "value_iteration"
    solver: str = "auto"

    def __post_init__(self):
        check_steps("disc_steps", self.disc_steps)
        check_positive("disc_lr", self.disc_lr)
        check_steps("inner_steps", self.inner_steps)
        check_inner_method(self.inner_method)


class AIRLState(NamedTuple):
    """``g [S]`` the state-only reward, ``h [S]`` the shaping potential; ``reward`` is ``g`` broadcast."""

    iteration: int
    g: np.ndarray
    h: np.ndarray
    reward: np.ndarray
    log_policy: np.ndarray
    value: np.ndarray
    backups: int
    solves: int
    wall_time: float


class Transitions(NamedTuple):
    """The nonzero transitions of an MDP as flat arrays: source pair ``s * A + a``, ``s``, ``s'``, ``P``."""

    pair: np.ndarray
    state: np.ndarray
    next_state: np.ndarray
    prob: np.ndarray


def transitions(mdp: MDP) -> Transitions:
    matrix = mdp.transition_matrix.tocsr()
    pair = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return Transitions(pair, pair // mdp.n_actions, matrix.indices.copy(), matrix.data.copy())


def airl_logits(mdp: MDP, trans: Transitions, g, h, log_policy) -> np.ndarray:
    """``f(s, a, s') - log pi(a|s)`` with ``f = g(s) + gamma h(s') - h(s)``, one per nonzero transition."""
    f = g[trans.state] + mdp.discount * h[trans.next_state] - h[trans.state]
    return f - np.asarray(log_policy).ravel()[trans.pair]


def airl_shaped_reward(mdp: MDP, g, h) -> np.ndarray:
    """``r_f(s, a) = g(s) + gamma sum_s' P(s'|s, a) h(s') - h(s)``, ``[S, A]``."""
    return g[:, None] + mdp.discount * mdp.expected_next(h) - h[:, None]


def discriminator_steps(mdp: MDP, trans: Transitions, g, h, log_policy, p_expert, p_policy, steps: int, lr: float):
    """``steps`` gradient steps on the logistic loss ``-sum q_E log D - sum q_pi log(1 - D)`` over
    transition occupancies ``q(s, a, s') = p(s, a) P(s'|s, a)``; returns the new ``(g, h)``."""
    S = mdp.n_states
    q_expert = p_expert.ravel()[trans.pair] * trans.prob
    q_policy = p_policy.ravel()[trans.pair] * trans.prob
    g, h = np.array(g, dtype=float), np.array(h, dtype=float)
    for _ in range(steps):
        delta = (q_expert + q_policy) * expit(airl_logits(mdp, trans, g, h, log_policy)) - q_expert
        from_s = np.bincount(trans.state, delta, minlength=S)
        into_s = np.bincount(trans.next_state, delta, minlength=S)
        g -= lr * from_s
        h -= lr * (mdp.discount * into_s - from_s)
    return g, h


def make_airl(mdp: MDP, rho_expert, config: AIRLConfig = AIRLConfig()) -> Learner:
    """AIRL as a :class:`Learner` over :class:`AIRLState` (module doc)."""
    expert = expert_record(mdp, rho_expert)
    trans = transitions(mdp)

    def init(key=None) -> AIRLState:
        g, h = np.zeros(mdp.n_states), np.zeros(mdp.n_states)
        reward = np.zeros(mdp.shape)
        solution = solve(mdp, reward, method=config.solver)
        return AIRLState(0, g, h, reward, solution.log_policy, solution.v, solution.backups, solution.solves, 0.0)

    def metrics(state: AIRLState) -> dict[str, Any]:
        return metrics_row(mdp, expert, state, config.solver)

    def step(state: AIRLState, key=None) -> tuple[AIRLState, dict[str, Any]]:
        tick = time.perf_counter()
        p_policy = (1.0 - mdp.discount) * np.exp(log_occupancy(mdp, state.log_policy))
        g, h = discriminator_steps(
            mdp, trans, state.g, state.h, state.log_policy, expert.p, p_policy, config.disc_steps, config.disc_lr
        )
        shaped = airl_shaped_reward(mdp, g, h)
        policy = soft_policy_steps(mdp, shaped, state.value, state.log_policy, config.inner_steps, config.inner_method)
        new_state = AIRLState(state.iteration + 1, g, h, np.broadcast_to(g[:, None], mdp.shape).copy(), policy.log_policy,
                              policy.value, **charge(state, policy, tick))
        return new_state, step_row(mdp, metrics, state, new_state)

    advice = ("Cause: AIRL does not descend the MCE dual: its state-only reward g comes from a discriminator trained "
              f"{config.disc_steps} steps per iteration, a moving target whose updates are not steps on G, so the dual "
              "may rise and oscillate (book chapter 7). Remedy: read AIRL's dual as a diagnostic only; a smaller disc_lr "
              "or more inner_steps damp it; use TRIRL or MCE-IRL when a monotone dual matters.")
    return namedtuple_learner("airl", AIRLState, init, step, metrics, advice)


airl = runner(make_airl, AIRLConfig, "airl", """Run tabular AIRL: ``airl(mdp, rho_expert, iterations=100, *, **fields,
config=None, **run_options)``.

The fields are :class:`AIRLConfig`'s (with its defaults), or ``config`` gives them all; the run
options are :func:`trirl.tabular.driver.run`'s. ``rho_expert`` is ``[S, A]`` with mass
``1 / (1 - gamma)``.

History: ``iteration, reverse_kl, dual, policy_kl, backups, solves, wall_time``; ``reward``
is the learned state-only ``g`` broadcast over actions ``[S, A]``.

Raises:
    InvalidConfigError: a bad field (named), ``iterations`` or ``rho_expert``.
""")
