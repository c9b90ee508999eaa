"""Exact state-action occupancies by one linear solve.

``rho_pi(s, a) = pi(a|s) * d(s)`` with the discounted state occupancy ``d = sum_t gamma^t mu_t``
solving the Bellman flow equations ``(I - gamma P_pi^T) d = mu0``. Its mass is ``1 / (1 - gamma)``.
Absorbing states keep accumulating discounted mass after arrival, as in the paper's Appendix C.4.

The solve reuses the factorisation of the policy's evaluation (:mod:`trirl.tabular.linsolve`):
``(I - gamma P_pi^T)`` is the transpose of policy evaluation's matrix, so after a soft
evaluation of ``pi`` its occupancy costs two triangular solves.

``log rho = log d + log pi`` keeps tiny policy probabilities finite. States unreachable from
``mu0`` (``MDP.reachable``) have ``d = 0`` exactly and ``log d = -inf`` there.

**Relative precision.** A linear solve is exact to rounding *relative to the largest entry*: an
LU with pivoting or the iterative solve returns ``d(s) ~ 1e-23`` as 0 or as noise when ``max d``
is 10 (a region reachable only by a long detour around an absorbing goal). The solve is
therefore checked state by state: the flow equation ``d(s') = mu0(s') + gamma sum_s P_pi(s, s')
d(s)`` has a sum of non-negative terms on its right, so its residual can be compared with the
terms themselves. States whose residual exceeds ``FLOW_RTOL`` of their own terms (or whose ``d``
came out 0 while mass flows in) are solved again from their own equations, with the accurate
states' inflow as the right-hand side: ``(I - gamma P_LL^T) d_L = mu0_L + gamma P_KL^T d_K``. That
solve's scale is the small set's own, so its entries are exact relative to *their* largest; the
check repeats on every state (mass now reaches states the first solve left at 0), at most
``MAX_REFINEMENTS`` times, and stops when no state changes its verdict. A reachable state whose
true mass is below float64's range (``< 1e-308``: a policy probability that underflowed on the
only way in) stays 0, and :func:`log_occupancy` holds it at the smallest normal float. On the
shipped worlds the first solve passes the check, which then costs one product with ``P``;
``tests/tabular/test_monotone_defaults.py`` has a world where it does not (a dense LU returns 0 for a
true 1e-25).
"""

from __future__ import annotations

import numpy as np

import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from trirl.errors import InvalidConfigError
from trirl.tabular.mdp import MDP
from trirl.tabular.soft import _solve_policy_system, check_policy
from trirl.tabular.threads import small_problem_threads


FLOAT_FLOOR = float(np.finfo(float).tiny)  # the smallest normal float64, ~2.2e-308
FLOW_RTOL = 1e-11  # a state's flow residual, relative to its own terms, above which it is solved again
MAX_REFINEMENTS = 40


@small_problem_threads
def state_occupancy(mdp: MDP, policy) -> np.ndarray:
    """``d[S]``, the discounted state occupancy of ``policy``; ``sum(d) = 1 / (1 - gamma)``.

    Every reachable state's ``d`` is exact relative to itself, not only to ``max d`` (module doc).
    """
    pi = check_policy(mdp, policy)
    d = _solve_policy_system(mdp, pi, mdp.initial, transpose=True)
    # the solve is exact up to rounding: clip the ~1e-17 negatives and the unreachable states
    d = np.where(mdp.reachable, np.maximum(d, 0.0), 0.0)
    return _refine(mdp, pi, d)


def _inaccurate(mdp: MDP, pi: np.ndarray, d: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The ``candidates`` whose flow residual exceeds ``FLOW_RTOL`` of their own terms (module doc)."""
    inflow = mdp.initial + mdp.discount * mdp.inflow(d[:, None] * pi)
    residual = np.abs(d - inflow)
    return candidates & (residual > FLOW_RTOL * (d + inflow))


def _refine(mdp: MDP, pi: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``d`` with its inaccurate states solved again from their own flow equations (module doc)."""
    bad = _inaccurate(mdp, pi, d, mdp.reachable)
    if not bad.any():
        return d
    dense = mdp.representation == "dense"
    p_pi = mdp.dense_policy_transitions(pi) if dense else mdp.policy_transitions(pi).tocsc()
    for _ in range(MAX_REFINEMENTS):
        small, known = np.flatnonzero(bad), np.flatnonzero(mdp.reachable & ~bad)
        rhs = mdp.initial[small] + mdp.discount * (p_pi[known][:, small].T @ d[known])
        block = p_pi[np.ix_(small, small)] if dense else p_pi[small][:, small]
        if dense:
            x = la.solve(np.eye(len(small)) - mdp.discount * block.T, rhs, check_finite=False)
        else:
            x = spla.spsolve((sp.identity(len(small), format="csc") - mdp.discount * block.T).tocsc(), rhs)
        d[small] = np.maximum(np.atleast_1d(x), 0.0)
        # mass now flows into states that the first solve left at 0: check every state again
        still = _inaccurate(mdp, pi, d, mdp.reachable)
        # states whose true mass is below float64's range stay 0: nothing more to gain there
        if not still.any() or np.array_equal(still, bad):
            break
        bad = still
    return d


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
        log_d = np.where(mdp.reachable, np.log(np.maximum(state_occupancy_d, FLOAT_FLOOR)), -np.inf)
    return log_d[:, None] + log_policy


def expert_occupancy(mdp: MDP, log_policy) -> np.ndarray:
    """``rho_E[S, A]``, the exact occupancy of an expert given by its log-policy, ready for IRL.

    ``exp(log d + log pi)`` with :func:`state_occupancy`'s relative precision; a reachable pair
    whose mass underflows float64 (a policy probability below ``1e-308`` on the only way in, or
    ``log pi < -708``) is held at the smallest normal float, ``FLOAT_FLOOR ~ 2.2e-308``: to
    float64's precision it is outside the expert's support, and the learners treat it so (a
    finite ``log rho_E``, where a 0 would make ``log(rho_E / rho_pi) = -inf``). Count such pairs
    with ``underflowed_pairs``. The mass changes by at most ``S A 2.2e-308``.
    """
    log_rho = log_occupancy(mdp, log_policy)
    return np.where(mdp.reachable[:, None], np.maximum(np.exp(log_rho), FLOAT_FLOOR), 0.0)


def underflowed_pairs(mdp: MDP, rho_expert) -> int:
    """How many reachable pairs of ``rho_expert`` sit at float64's floor (:func:`expert_occupancy`)."""
    return int(np.sum(mdp.reachable[:, None] & (np.asarray(rho_expert) <= FLOAT_FLOOR)))


def monte_carlo_occupancy(mdp: MDP, policy, n: int, horizon: int, seed: int) -> np.ndarray:
    """Discount-weighted visit counts of ``n`` sampled trajectories, scaled to mass ``1 / (1 - gamma)``.

    A slow reference for tests; occupancies proper come from :func:`occupancy`.
    """
    from trirl.tabular.demos import empirical_occupancy, sample_trajectories

    return empirical_occupancy(mdp, sample_trajectories(mdp, policy, n, horizon, seed), smoothing=0.0)
