"""Analysis of exact TRIRL: the quantities the theory and the findings are stated in.

- :func:`jacobian_lambda_max`: the largest eigenvalue of ``J = d log rho / d r``, which sets the
  largest stable step (``book/findings.md``).
- :func:`effective_step`: ``alpha = eps beta / (1 + eta)``, the reward's step per iteration.
- :func:`penalised_objective`: Eq. 3 with multiplier ``eta``, the objective Lemma 3.1 maximises.

Used by ``trirl.verify`` (properties, strategies, findings), the book and the notebooks. Calls go
through the ``soft`` and ``occupancies`` modules so a test can swap in a broken piece.
"""

from __future__ import annotations

import numpy as np

from trirl.tabular import occupancies, soft


def jacobian_lambda_max(mdp, reward, h: float = 1e-6) -> float:
    """``lambda_max`` (largest real part) of ``J = d log rho_{pi_r} / d r`` ``[SA, SA]``, by finite differences.

    At discount 0, ``J`` is the per-state ``I - 1 pi^T`` and ``lambda_max = 1``; with a discount
    the reward of one pair also moves the visitation of the states it leads to, and
    ``lambda_max > 1`` (up to 5.1 measured, deterministic transitions at discount 0.99).
    Linearised at the fixed point, TRIRL's error evolves by ``(1 - eps_tr) I - alpha J``: it
    oscillates once ``nu = eps_tr + alpha lambda_max > 1`` and is unstable once ``nu > 2``.

    Args:
        mdp: the MDP (``S`` states, ``A`` actions).
        reward: ``[S, A]`` or ``[S]`` reward at which ``J`` is taken (its MCE policy's occupancy).
        h: finite-difference step, in reward units.

    Returns:
        ``lambda_max`` over the reachable state-action pairs (unreachable ones have ``log rho =
        -inf`` and no dynamics); ``1.0`` when nothing is reachable. One soft solve per pair.
    """
    r = np.broadcast_to(np.asarray(reward, dtype=float).reshape(mdp.n_states, -1), mdp.shape)
    base = occupancies.log_occupancy(mdp, soft.solve(mdp, r).log_policy).ravel()
    n = r.size
    jac = np.zeros((n, n))
    for i in range(n):
        bump = np.zeros(n)
        bump[i] = h
        shifted = soft.solve(mdp, r + bump.reshape(r.shape)).log_policy
        with np.errstate(invalid="ignore"):  # -inf - -inf at unreachable states, dropped below
            jac[:, i] = (occupancies.log_occupancy(mdp, shifted).ravel() - base) / h
    finite = np.isfinite(base)
    jac = jac[np.ix_(finite, finite)]
    return float(np.linalg.eigvals(jac).real.max()) if jac.size else 1.0


def effective_step(eps: float, beta: float, eta: float) -> float:
    """``alpha = eps beta / (1 + eta)``: the step of the reward in units of the log-ratio."""
    return eps * beta / (1.0 + eta)


def penalised_objective(mdp, reward, log_policy, log_policy_old, eta: float) -> float:
    """Eq. 3 with multiplier ``eta``: ``E_{rho_pi}[r - log pi - eta (log pi - log pi_old)]``.

    Lemma 3.1: the soft-optimal policy of ``r_eta = (r + eta log pi_old) / (1 + eta)`` maximises it.

    Args:
        reward, log_policy, log_policy_old: ``[S, A]`` arrays (``pi`` evaluated, ``pi_old`` the
            trust region's centre).
        eta: the multiplier ``>= 0``.

    Returns:
        the objective, in reward units times ``1 / (1 - gamma)`` (the occupancy's mass).
    """
    rho = occupancies.occupancy(mdp, np.exp(log_policy))
    with np.errstate(invalid="ignore"):  # 0 * -inf where pi = 0: no contribution
        terms = rho * (reward - (1.0 + eta) * log_policy + eta * log_policy_old)
    return float(np.sum(np.where(rho > 0, terms, 0.0)))
