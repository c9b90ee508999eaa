"""GAIL in tabular form (Ho and Ermon 2016, "Generative Adversarial Imitation Learning",
Algorithm 1), on the exact engine.

Each iteration:

1. fits the discriminator ``D(s, a)`` (the probability that a pair comes from the expert) on the
   current occupancies: ``"exact"`` takes the optimum of the logistic loss,
   ``D = rho_E / (rho_E + rho_pi)`` (Ho and Ermon, Prop. 3.2's inner maximum), ``"logistic"``
   takes ``disc_steps`` gradient steps of size ``disc_lr`` on a table of logits, warm-started
   from the previous ones, on the loss ``-sum p_E log D - sum p_pi log(1 - D)`` (``p = (1 - gamma) rho``);
2. turns it into a *local* reward: ``r = reward_scale * log D`` (``reward_form="log_d"``, the
   default: the non-saturating form of modern implementations, ``log sigma(D)`` in TRIRL's
   appendix) or ``r = -reward_scale * log(1 - D)`` (``"neg_log_one_minus_d"``: minus Ho and
   Ermon's cost ``log D_pi``, their discriminator being ``D_pi = 1 - D``, the minimax form);
3. improves the policy by ``inner_steps`` warm-started soft steps for that reward (GAIL's TRPO
   step; the soft steps have temperature 1, i.e. causal-entropy weight ``1 / reward_scale``).

The reward is rebuilt from the discriminator every iteration, so it is not an MCE dual variable:
the reported ``dual`` (the MCE dual of the current local reward) and ``reverse_kl`` are not
monotone, and at ``rho_pi = rho_E`` the reward is constant, whose soft-optimal policy is uniform:
the entropy term biases the fixed point away from the expert unless ``reward_scale`` is large,
and a large scale makes the adversarial loop oscillate. Both effects are what TRIRL avoids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.special import expit, log_expit

from trirl.errors import InvalidConfigError
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
from trirl.tabular.objectives import log_ratio
from trirl.tabular.occupancies import log_occupancy
from trirl.tabular.soft import solve

DISCRIMINATORS = ("exact", "logistic")
REWARD_FORMS = ("log_d", "neg_log_one_minus_d")


@dataclass(frozen=True)
class GAILConfig:
    """GAIL hyperparameters.

    Attributes:
        discriminator: ``"exact"`` (the logistic optimum) or ``"logistic"`` (gradient steps).
        disc_steps, disc_lr: gradient steps per iteration and their size, for ``"logistic"``.
        reward_form: ``"log_d"`` (``r = scale * log D``) or ``"neg_log_one_minus_d"`` (``-scale * log(1 - D)``).
        reward_scale: multiplies the local reward (> 0); the inverse entropy weight.
        inner_steps, inner_method: soft policy steps per iteration (see ``soft_policy_steps``).
        solver: exact soft solver for the initial policy and the measured dual.
    """

    discriminator: str = "logistic"
    disc_steps: int = 10
    disc_lr: float = 10.0
    reward_form: str = "log_d"
    reward_scale: float = 3.0
    inner_steps: int = 1
    inner_method: str = "value_iteration"
    solver: str = "auto"

    def __post_init__(self):
        if self.discriminator not in DISCRIMINATORS:
            raise InvalidConfigError(f"discriminator is {self.discriminator!r}, expected one of {DISCRIMINATORS}")
        if self.reward_form not in REWARD_FORMS:
            raise InvalidConfigError(f"reward_form is {self.reward_form!r}, expected one of {REWARD_FORMS}")
        check_steps("disc_steps", self.disc_steps)
        check_positive("disc_lr", self.disc_lr)
        check_positive("reward_scale", self.reward_scale)
        check_steps("inner_steps", self.inner_steps)
        check_inner_method(self.inner_method)


class GAILState(NamedTuple):
    """``logits`` are the discriminator's ``log(D / (1 - D))`` ``[S, A]``; ``reward`` the local reward built from them."""

    iteration: int
    logits: np.ndarray
    reward: np.ndarray
    log_policy: np.ndarray
    value: np.ndarray
    backups: int
    solves: int
    wall_time: float


def exact_discriminator_logits(log_rho_expert, log_rho) -> np.ndarray:
    """The optimal discriminator's logits ``log(rho_E / rho_pi)``, i.e. ``D = rho_E / (rho_E + rho_pi)``."""
    return log_ratio(log_rho_expert, log_rho)


def logistic_steps(logits, p_expert, p_policy, steps: int, lr: float) -> np.ndarray:
    """``steps`` gradient steps on ``-sum p_E log D - sum p_pi log(1 - D)``, ``D = sigmoid(logits)``.

    The gradient with respect to a logit is ``(p_E + p_pi) D - p_E``.
    """
    z = np.array(logits, dtype=float)
    for _ in range(steps):
        z -= lr * ((p_expert + p_policy) * expit(z) - p_expert)
    return z


def gail_reward(logits, form: str, scale: float) -> np.ndarray:
    """``scale * log D`` or ``-scale * log(1 - D)`` from the logits ``log(D / (1 - D))``."""
    if form == "log_d":
        return scale * log_expit(logits)
    return -scale * log_expit(-logits)


def make_gail(mdp: MDP, rho_expert, config: GAILConfig = GAILConfig()) -> Learner:
    """GAIL as a :class:`Learner` over :class:`GAILState` (module doc)."""
    expert = expert_record(mdp, rho_expert)

    def init(key=None) -> GAILState:
        # an undecided discriminator (D = 1/2, a constant reward) and its uniform soft-optimal policy
        logits = np.zeros(mdp.shape)
        reward = gail_reward(logits, config.reward_form, config.reward_scale)
        solution = solve(mdp, reward, method=config.solver)
        return GAILState(0, logits, reward, solution.log_policy, solution.v, solution.backups, solution.solves, 0.0)

    def metrics(state: GAILState) -> dict[str, Any]:
        return metrics_row(mdp, expert, state, config.solver)

    def step(state: GAILState, key=None) -> tuple[GAILState, dict[str, Any]]:
        tick = time.perf_counter()
        log_rho = log_occupancy(mdp, state.log_policy)
        if config.discriminator == "exact":
            logits = exact_discriminator_logits(expert.log_rho, log_rho)
        else:
            p_policy = (1.0 - mdp.discount) * np.exp(log_rho)
            logits = logistic_steps(state.logits, expert.p, p_policy, config.disc_steps, config.disc_lr)
        reward = gail_reward(logits, config.reward_form, config.reward_scale)
        policy = soft_policy_steps(mdp, reward, state.value, state.log_policy, config.inner_steps, config.inner_method)
        new_state = GAILState(state.iteration + 1, logits, reward, policy.log_policy, policy.value,
                              **charge(state, policy, tick))
        return new_state, step_row(mdp, metrics, state, new_state)

    advice = ("Cause: GAIL does not descend the MCE dual: its reward comes from a discriminator trained "
              f"{config.disc_steps} steps per iteration, a moving target whose updates are not steps on G, so the dual "
              "may rise and oscillate (book chapter 7). Remedy: read GAIL's dual as a diagnostic only; a smaller disc_lr "
              "or more inner_steps damp it; use TRIRL or MCE-IRL when a monotone dual matters.")
    return namedtuple_learner("gail", GAILState, init, step, metrics, advice)


gail = runner(make_gail, GAILConfig, "gail", """Run tabular GAIL: ``gail(mdp, rho_expert, iterations=100, *, **fields,
config=None, **run_options)``.

The fields are :class:`GAILConfig`'s (with its defaults), or ``config`` gives them all; the run
options are :func:`trirl.tabular.driver.run`'s. ``rho_expert`` is ``[S, A]`` with mass
``1 / (1 - gamma)``.

History: ``iteration, reverse_kl, dual, policy_kl, backups, solves, wall_time``; ``reward``
is the last local (discriminator) reward ``[S, A]``.

Raises:
    InvalidConfigError: a bad field (named), ``iterations`` or ``rho_expert``.
""")
