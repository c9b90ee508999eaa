"""The distribution-matching problem (paper Eq. 1), its Lagrangian dual and their pieces.

Primal, for a policy ``pi`` with occupancy ``rho_pi`` (mass ``Z = 1 / (1 - gamma)``)::

    primal(pi) = E_rho_pi[-log pi] - beta * sum rho_pi log(rho_pi / rho_E)
               = E_rho_pi[H(pi)]  - beta * Z * KL((1-gamma) rho_pi || (1-gamma) rho_E)

Dual, for a reward ``r``, from the Donsker-Varadhan form of the KL term::

    G(r) = E_mu0[V_r(s0)] + beta * Z * log sum_{s,a} (rho_E(s, a) / Z) exp(-r(s, a) / beta)

``G(r) >= primal(pi)`` for every ``r`` and ``pi`` (weak duality), with equality at the saddle
point ``r* = beta log(rho_E / rho_pi*) + c``. TRIRL's "dual ascent" is descent on ``G``:

    dG/dr = rho_{pi_r} - q_r,   q_r = Z * rho_E exp(-r / beta) / sum(rho_E exp(-r / beta)),

and the function-space direction ``beta log(rho_E / rho_pi) - r = beta log(q_r / rho_pi) + c``
has inner product ``-beta (KL(rho_pi||q_r) + KL(q_r||rho_pi)) * Z <= 0`` with it.
"""

from __future__ import annotations

import numpy as np

from trirl.errors import InvalidConfigError, InvalidDemonstrationError, describe_sum
from trirl.tabular.mdp import MDP
from trirl.tabular.occupancies import log_occupancy, occupancy
from trirl.tabular.soft import check_policy, check_reward, solve


def check_beta(beta) -> float:
    b = float(beta)
    if not (np.isfinite(b) and b > 0):
        raise InvalidConfigError(f"beta is {beta!r}, expected a finite number > 0")
    return b


def check_expert_occupancy(mdp: MDP, rho_expert, name: str = "rho_expert") -> np.ndarray:
    """Validate ``rho_E[S, A]``: finite, non-negative, mass ``1 / (1 - gamma)``, positive on reachable pairs.

    Every soft policy visits every reachable pair, so a zero there would make
    ``log(rho_E / rho_pi) = -inf``: an exact expert's occupancy comes from
    :func:`~trirl.tabular.occupancies.expert_occupancy` (never 0 on reachable pairs), sampled
    demonstrations are smoothed (``empirical_occupancy(..., smoothing > 0)``).
    """
    rho = np.asarray(rho_expert, dtype=float)
    if rho.shape != mdp.shape:
        raise InvalidDemonstrationError(f"{name} has shape {rho.shape}, expected [S, A] = {list(mdp.shape)}")
    bad = np.argwhere(~np.isfinite(rho) | (rho < 0))
    if len(bad):
        s, a = bad[0]
        raise InvalidDemonstrationError(f"{name}[{s}, {a}] is {rho[s, a]}, expected a finite number >= 0")
    mass = rho.sum()
    if abs(mass * (1.0 - mdp.discount) - 1.0) > 1e-6:
        raise InvalidDemonstrationError(
            f"{name} sums to {describe_sum(mass, mdp.mass)}, expected 1 / (1 - discount) = {mdp.mass:.6g} (within a factor 1e-6)"
        )
    bad = np.argwhere((rho == 0) & mdp.reachable[:, None])
    if len(bad):
        s, a = bad[0]
        raise InvalidDemonstrationError(
            f"{name}[{s}, {a}] is 0 at a reachable state-action pair, so log(rho_E / rho_pi) = -inf there. "
            "An exact expert: compute it with expert_occupancy(mdp, expert.log_policy), which holds pairs whose "
            "mass underflows float64 at the smallest normal float (outside the expert's support); sampled "
            "demonstrations: give unvisited pairs a small mass with empirical_occupancy(..., smoothing > 0)"
        )
    return rho


def logsumexp(x: np.ndarray) -> float:
    """``log sum exp x`` over all entries, shifted by the largest (``-inf`` entries add nothing).

    The one scalar ``logsumexp`` of the objectives: the dual and the reverse KL are taken every
    iteration, and scipy's general version costs ~0.3 ms of overhead per call on small arrays."""
    top = float(np.max(x))
    if not np.isfinite(top):
        return top
    return top + float(np.log(np.sum(np.exp(x - top))))


def safe_log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x)


def log_ratio(log_rho_expert: np.ndarray, log_rho: np.ndarray) -> np.ndarray:
    """``log(rho_E / rho_pi)``, defined as 0 where both are zero (unreachable states)."""
    both_zero = np.isneginf(log_rho_expert) & np.isneginf(log_rho)
    with np.errstate(invalid="ignore"):
        return np.where(both_zero, 0.0, log_rho_expert - log_rho)


def reverse_kl(rho, rho_expert) -> float:
    """``KL(p || p_E)`` between the normalised occupancies ``p = rho / sum(rho)``; ``0 log 0 = 0``."""
    p = np.asarray(rho, dtype=float)
    q = np.asarray(rho_expert, dtype=float)
    if p.shape != q.shape:
        raise InvalidConfigError(f"rho has shape {p.shape} but rho_expert has shape {q.shape}")
    p = p / p.sum()
    q = q / q.sum()
    support = p > 0
    if np.any(support & (q <= 0)):
        return float("inf")
    return float(np.sum(p[support] * (np.log(p[support]) - np.log(q[support]))))


def reverse_kl_from_logs(log_rho: np.ndarray, log_rho_expert: np.ndarray) -> float:
    """:func:`reverse_kl` from log-occupancies (no underflow for tiny probabilities)."""
    log_p = log_rho - logsumexp(log_rho)
    log_q = log_rho_expert - logsumexp(log_rho_expert)
    p = np.exp(log_p)
    support = p > 0
    return float(np.sum(p[support] * (log_p[support] - log_q[support])))


def primal(mdp: MDP, policy, rho_expert, beta: float) -> float:
    """Eq. 1 at ``policy``: ``E_rho_pi[H(pi)] - beta * Z * KL(rho_pi || rho_E)`` (module doc)."""
    pi = check_policy(mdp, policy)
    beta = check_beta(beta)
    rho = occupancy(mdp, pi)
    rho_e = np.asarray(rho_expert, dtype=float)
    entropy = -np.sum(np.where(pi > 0, rho * safe_log(np.where(pi > 0, pi, 1.0)), 0.0))
    return float(entropy - beta * mdp.mass * reverse_kl(rho, rho_e))


def _expert_term(mdp: MDP, reward: np.ndarray, rho_expert: np.ndarray, beta: float):
    """``beta Z logsumexp(log(rho_E / Z) - r / beta)`` and the tilted expert ``q_r`` of mass ``Z``."""
    logits = safe_log(rho_expert / mdp.mass) - reward / beta
    lse = logsumexp(logits)
    return beta * mdp.mass * lse, mdp.mass * np.exp(logits - lse)


def dual(mdp: MDP, reward, rho_expert, beta: float, value=None) -> float:
    """The Lagrangian dual ``G(r)`` (module doc). ``value`` may pass the soft-optimal ``V_r``."""
    r = check_reward(mdp, reward)
    beta = check_beta(beta)
    v = solve(mdp, r).v if value is None else value
    return dual_from_logs(mdp, r, safe_log(np.asarray(rho_expert, dtype=float) / mdp.mass), beta, v)


def dual_from_logs(mdp: MDP, reward: np.ndarray, log_expert: np.ndarray, beta: float, value: np.ndarray) -> float:
    """:func:`dual` from ``log_expert = log(rho_E / Z)`` ``[S, A]`` and the soft-optimal ``V_r`` ``[S]``,
    unchecked: the form for loops that evaluate ``G`` every iteration (TRIRL's safeguard)."""
    return float(mdp.initial @ value + beta * mdp.mass * logsumexp(log_expert - reward / beta))


def dual_gradient(mdp: MDP, reward, rho_expert, beta: float) -> np.ndarray:
    """``dG/dr = rho_{pi_r} - q_r`` ``[S, A]`` (module doc)."""
    r = check_reward(mdp, reward)
    beta = check_beta(beta)
    solution = solve(mdp, r)
    rho = np.exp(log_occupancy(mdp, solution.log_policy))
    _, tilted = _expert_term(mdp, r, np.asarray(rho_expert, dtype=float), beta)
    return rho - tilted


def policy_kl(mdp: MDP, log_policy, log_policy_old, state_weights=None) -> float:
    """``E_{s ~ d_pi}[KL(pi(.|s) || pi_old(.|s))]`` under the normalised state occupancy of ``pi``
    (or of ``state_weights``): the trust-region quantity of Eq. 3."""
    log_pi = np.asarray(log_policy, dtype=float)
    pi = np.exp(log_pi)
    if state_weights is None:
        from trirl.tabular.occupancies import state_occupancy

        state_weights = state_occupancy(mdp, pi)
    w = np.asarray(state_weights, dtype=float)
    w = w / w.sum()
    per_state = np.sum(np.where(pi > 0, pi * (log_pi - np.asarray(log_policy_old, dtype=float)), 0.0), axis=1)
    return float(w @ per_state)
