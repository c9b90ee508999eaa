"""Exact state-action occupancies by one linear solve.

``rho_pi(s, a) = pi(a|s) * d(s)`` with the discounted state occupancy ``d = sum_t gamma^t mu_t``
solving the Bellman flow equations ``(I - gamma P_pi^T) d = mu0``. Its mass is ``1 / (1 - gamma)``.
Absorbing states keep accumulating discounted mass after arrival, as in the paper's Appendix C.4.

The solve reuses the factorisation of the policy's evaluation (:mod:`trirl.tabular.linsolve`):
``(I - gamma P_pi^T)`` is the transpose of policy evaluation's matrix, so after a soft
evaluation of ``pi`` its occupancy costs two triangular solves.

``log rho = log d + log pi`` keeps tiny policy probabilities finite. States unreachable from
``mu0`` (``MDP.reachable``) have ``d = 0`` exactly and ``log d = -inf`` there.
"""

from __future__ import annotations

import numpy as np

from trirl.errors import InvalidConfigError
from trirl.tabular.mdp import MDP
from trirl.tabular.soft import _solve_policy_system, check_policy
from trirl.tabular.threads import small_problem_threads


@small_problem_threads
def state_occupancy(mdp: MDP, policy) -> np.ndarray:
    """``d[S]``, the discounted state occupancy of ``policy``; ``sum(d) = 1 / (1 - gamma)``."""
    pi = check_policy(mdp, policy)
    d = _solve_policy_system(mdp, pi, mdp.initial, transpose=True)
    # the solve is exact up to rounding: clip the ~1e-17 negatives and the unreachable states
    return np.where(mdp.reachable, np.maximum(d, 0.0), 0.0)


def occupancy(mdp: MDP, policy) -> np.ndarray:
    """``rho[S, A] = pi(a|s) d(s)``, the exact state-action occupancy of ``policy``."""
    pi = check_policy(mdp, policy)
    return state_occupancy(mdp, pi)[:, None] * pi


def log_occupancy(mdp: MDP, log_policy) -> np.ndarray:
    """``log rho[S, A] = log d(s) + log pi(a|s)`` from a log-policy; ``-inf`` at unreachable states."""
    log_pi = np.asarray(log_policy, dtype=float)
    if log_pi.shape != mdp.shape:
        raise InvalidConfigError(f"log_policy has shape {log_pi.shape}, expected [S, A] = {list(mdp.shape)}")
    return log_occupancy_from_state(mdp, state_occupancy(mdp, np.exp(log_pi)), log_pi)


def log_occupancy_from_state(mdp: MDP, state_occupancy_d: np.ndarray, log_policy: np.ndarray) -> np.ndarray:
    """``log rho = log d + log pi`` from a state occupancy ``d[S]`` already solved for (no new solve)."""
    with np.errstate(divide="ignore"):
        # a reachable state keeps a floor of the smallest normal float instead of underflowing to log 0
        log_d = np.where(mdp.reachable, np.log(np.maximum(state_occupancy_d, np.finfo(float).tiny)), -np.inf)
    return log_d[:, None] + log_policy


def monte_carlo_occupancy(mdp: MDP, policy, n: int, horizon: int, seed: int) -> np.ndarray:
    """Discount-weighted visit counts of ``n`` sampled trajectories, scaled to mass ``1 / (1 - gamma)``.

    A slow reference for tests; occupancies proper come from :func:`occupancy`.
    """
    from trirl.tabular.demos import empirical_occupancy, sample_trajectories

    return empirical_occupancy(mdp, sample_trajectories(mdp, policy, n, horizon, seed), smoothing=0.0)
