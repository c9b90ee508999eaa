"""Pieces shared by the tabular algorithms: inexact policy steps, the MCE dual, learners.

Cost accounting is the same everywhere: ``backups`` counts soft Bellman backups
(:func:`~trirl.tabular.soft.soft_bellman_backup`, one per value-iteration sweep or per
policy-improvement step) and ``solves`` counts linear policy-evaluation solves, both cumulative.
The one occupancy solve per iteration that every method needs (the exact stand-in for sampling
rollouts) is not counted, nor is measurement (the metrics ``dual``, ``reverse_kl``).

What a linear solve costs depends on whether its policy is new: the first solve with a policy
factorises ``I - gamma P_pi`` (an LU, :mod:`trirl.tabular.linsolve`), later ones with the same
policy, either way round (evaluation or occupancy), reuse it for two triangular solves. TRIRL
reports ``factorisations``, cumulative, counting everything its iterations factorise
(occupancies and measurement included): the figure that tracks wall time on large or dense MDPs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trirl.errors import InvalidConfigError
from trirl.tabular.driver import Learner
from trirl.tabular.mdp import MDP
from trirl.tabular.soft import soft_bellman_backup, soft_greedy, soft_policy_evaluation

INNER_METHODS = ("value_iteration", "policy_iteration")


class PolicySteps(NamedTuple):
    """The result of :func:`soft_policy_steps`: ``log_policy [S, A]``, ``value [S]`` (the last
    backed-up soft value, a warm start for the next call) and the work done."""

    log_policy: np.ndarray
    value: np.ndarray
    backups: int
    solves: int


def soft_policy_steps(mdp: MDP, reward, value, log_policy, steps: int, method: str = "value_iteration") -> PolicySteps:
    """``steps`` warm-started soft policy-improvement steps for ``reward`` instead of a full solve.

    ``"value_iteration"``: ``steps`` soft Bellman backups from ``value``; ``"policy_iteration"``:
    ``steps`` rounds of exact soft evaluation of the current policy (one linear solve) followed by
    one backup (soft-greedy improvement) from ``log_policy``.
    """
    if method == "value_iteration":
        v = np.asarray(value, dtype=float)
        q = None
        for _ in range(steps):
            q, v = soft_bellman_backup(mdp, reward, v)
        if q is None:
            q = np.asarray(reward, dtype=float) + mdp.discount * mdp.expected_next(v)
        v, log_pi = soft_greedy(q)
        return PolicySteps(log_pi, v, steps, 0)
    if method != "policy_iteration":
        raise InvalidConfigError(f"inner_method is {method!r}, expected one of {INNER_METHODS}")
    log_pi = np.asarray(log_policy, dtype=float)
    v = value
    for _ in range(steps):
        evaluated = soft_policy_evaluation(mdp, np.exp(log_pi), reward, log_policy=log_pi)
        q, _ = soft_bellman_backup(mdp, reward, evaluated.v)
        v, log_pi = soft_greedy(q)
    return PolicySteps(log_pi, v, steps, steps)


def mce_dual(mdp: MDP, reward, rho_expert, value) -> float:
    """The MCE-IRL dual ``G_inf(r) = E_mu0[V_r(s0)] - sum rho_E r``, the ``beta -> inf`` limit of
    :func:`trirl.tabular.objectives.dual` (its expert term tends to ``-sum rho_E r``).

    It equals minus the discounted expert log-likelihood ``sum rho_E log pi_r`` (the soft Bellman
    equation telescopes), the objective of ML-IRL and PIRO; ``value`` must be the soft-optimal ``V_r``.
    """
    return float(mdp.initial @ value - np.sum(rho_expert * reward))


def check_iterations(iterations) -> int:
    if not (isinstance(iterations, (int, np.integer)) and iterations >= 0):
        raise InvalidConfigError(f"iterations is {iterations!r}, expected an integer >= 0")
    return int(iterations)


def check_positive(name: str, value, allow_zero: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidConfigError(f"{name} is {value!r}, expected a number") from None
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise InvalidConfigError(f"{name} is {value!r}, expected a finite number {'>=' if allow_zero else '>'} 0")
    return x


def check_inner_method(value: str) -> str:
    """``inner_method`` is one of :data:`INNER_METHODS`."""
    if value not in INNER_METHODS:
        raise InvalidConfigError(f"inner_method is {value!r}, expected one of {INNER_METHODS}")
    return value


def check_steps(name: str, value) -> int:
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise InvalidConfigError(f"{name} is {value!r}, expected an integer >= 1")
    return int(value)


DUAL_RTOL = 1e-11  # rounding allowance of the safeguards' "dual did not increase" test (TRIRL, MCE-IRL)


def namedtuple_learner(name: str, state_type, init, step, metrics, dual_advice: str = "") -> Learner:
    """A :class:`Learner` whose state is a NamedTuple with ``reward`` and ``log_policy`` fields
    (the driver checkpoints the whole state; ``state_type`` documents it)."""
    return Learner(name, init, step, metrics, lambda s: s.reward, lambda s: s.log_policy, dual_advice)


# -- the state and measurements shared by the reward-gradient learners (MCE-IRL, ML-IRL, PIRO) --


class RewardGradientState(NamedTuple):
    """``params`` are the reward parameters ``theta`` (``reward = Phi theta``); ``log_policy`` is
    the current policy (MCE-optimal for ``reward`` only when the inner solve is exact), ``value``
    the soft value the next inner step starts from; ``mu`` and ``change`` are PIRO's proximal
    weight and last reward change (unused elsewhere); ``next_lr`` and ``backtracks`` are
    MCE-IRL's safeguard: the step its next iteration tries first and the halvings so far."""

    iteration: int
    params: np.ndarray
    reward: np.ndarray
    log_policy: np.ndarray
    value: np.ndarray
    backups: int
    solves: int
    wall_time: float
    mu: float = 0.0
    change: float = 0.0
    next_lr: float = 0.0  # 0: not set (the configured lr)
    backtracks: int = 0


def warm(value, log_policy):
    """A :class:`~trirl.tabular.soft.SoftSolution` that only carries a warm start."""
    from trirl.tabular.soft import SoftSolution

    return SoftSolution(None, value, log_policy, None, 0, 0.0, 0, 0)


def measure(mdp: MDP, reward, log_policy, rho_expert, log_rho_expert, solver: str = "auto", value=None) -> dict[str, float]:
    """``reverse_kl`` of the policy's occupancy and the MCE ``dual`` of the reward (measurement only).

    ``value`` may pass the soft-optimal ``V_r`` when the caller has it; otherwise one warm-started
    exact solve provides it (not counted as the algorithm's work).
    """
    from trirl.tabular.objectives import reverse_kl_from_logs
    from trirl.tabular.occupancies import log_occupancy
    from trirl.tabular.soft import solve

    if value is None:
        value = solve(mdp, reward, method=solver, warm_start=warm(np.zeros(mdp.n_states), log_policy)).v
    return {
        "reverse_kl": reverse_kl_from_logs(log_occupancy(mdp, log_policy), log_rho_expert),
        "dual": mce_dual(mdp, reward, rho_expert, value),
    }
