"""Properties of the distribution-matching problem (Eq. 1) and its dual ``G(r)``: weak duality,
the dual's gradient, and the Eq. 2 update as a descent direction (Appendix A)."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from trirl.tabular import objectives as obj
from trirl.tabular import occupancies as occ
from trirl.tabular import soft
from trirl.verify import reference as ref
from trirl.verify import strategies as vs
from trirl.verify.properties.measures import current_pair


def check_weak_duality(case: vs.IRLCase, policy) -> float:
    """Weak duality (objectives module doc): for every reward ``r``, policy ``pi`` and ``beta > 0``,
    ``G(r) >= primal(pi)``; checked for the given ``pi`` and for ``pi_r`` (soft-optimal for
    ``r``). Violation: ``(primal - G)^+`` relative to ``max(1, |G|)``."""
    mdp, rho_e, r, beta = case.mdp, case.rho_expert, case.reward, case.beta
    g = obj.dual(mdp, r, rho_e, beta)
    own = soft.solve(mdp, r).policy
    gap = max(obj.primal(mdp, policy, rho_e, beta), obj.primal(mdp, own, rho_e, beta)) - g
    return float(max(0.0, gap) / max(1.0, abs(g)))


DUAL_GRADIENT_DIRECTIONS = 3
DUAL_GRADIENT_TOLERANCE = 1e-5


def check_dual_gradient(case: vs.IRLCase, seed: int) -> float:
    """Dual gradient: for every reward and ``beta``, ``<dual_gradient(r), u>`` equals the
    derivative of ``G`` along random unit directions ``u``, by Richardson-extrapolated central
    differences ``(4 D(h) - D(2h)) / 3`` with ``D(h) = (G(r + h u) - G(r - h u)) / 2h`` (error
    ``O(h^4)``) and ``h = 1e-4 max(1, ||r||) min(1, beta)``. Violation: the largest difference
    relative to ``max(1, ||grad||_1)``.

    Float64 makes this delicate, and the thorough run found both sides of it. ``G`` curves on
    the scales 1 and ``beta``, so ``h`` must be small against them: a plain central difference
    had a truncation error of 1.2e-5 at ``||r|| = 256, beta = 10`` (the gradient itself is right
    to 7e-12 there), which the extrapolation removes. And ``G`` is a difference quotient of soft
    values: the solver's ``V`` carries errors of ~1e-11 of ``||V||`` (at discount 0.99 and
    ``||r|| = 151`` that alone gave 4e-5). Where the plain difference exceeds a tenth of the
    tolerance, it is therefore redone with ``V`` refined by soft Bellman sweeps
    (:func:`_polished_dual`, ~1e-14 of ``||V||``), and that value is the violation."""
    mdp, rho_e, r, beta = case.mdp, case.rho_expert, case.reward, case.beta
    grad = obj.dual_gradient(mdp, r, rho_e, beta)
    h = 1e-4 * max(1.0, float(np.max(np.abs(r)))) * min(1.0, beta)

    def worst(dual) -> float:
        rng = np.random.default_rng(seed)
        largest = 0.0
        for _ in range(DUAL_GRADIENT_DIRECTIONS):
            u = rng.normal(size=mdp.shape)
            u /= np.linalg.norm(u)
            d_h, d_2h = ((dual(r + s * u) - dual(r - s * u)) / (2 * s) for s in (h, 2 * h))
            largest = max(largest, abs((4.0 * d_h - d_2h) / 3.0 - float(np.sum(grad * u))))
        return largest / max(1.0, float(np.abs(grad).sum()))

    plain = worst(lambda x: obj.dual(mdp, x, rho_e, beta))
    if plain <= 0.1 * DUAL_GRADIENT_TOLERANCE:
        return float(plain)
    P = ref.dense_transitions(mdp)
    return float(worst(lambda x: _polished_dual(mdp, P, x, rho_e, beta)))


def _polished_dual(mdp, P, reward, rho_e, beta) -> float:
    """``G(r)`` with the solver's ``V`` refined by soft Bellman sweeps until the contraction has
    shrunk its error 1e4-fold (``gamma^n <= 1e-4``; none at discount 0)."""
    v = soft.solve(mdp, reward).v
    sweeps = 0 if mdp.discount == 0 else int(np.ceil(np.log(1e-4) / np.log(mdp.discount)))
    for _ in range(sweeps):
        v = ref.soft_backup(P, mdp.discount, reward, v)
    return obj.dual(mdp, reward, rho_e, beta, value=v)


def check_descent_direction(case: vs.IRLCase) -> float:
    """Appendix A, reward-update soundness: for every reward ``r`` with MCE policy ``pi_r``, every
    ``eps`` and ``beta``, ``<dG/dr, U_eps r - r> = -eps beta Z (KL(p || q) + KL(q || p)) <= 0`` with
    ``p = rho_pi / Z`` and the tilted expert ``q = q_r / Z`` (objectives module doc). Violation:
    the positive part of the inner product plus the error of the identity, both relative to
    ``eps beta Z max(1, KL sum)``."""
    mdp = case.mdp
    old, ratio, r_tilde = current_pair(case)
    grad = obj.dual_gradient(mdp, case.reward, case.rho_expert, case.beta)
    inner = float(np.sum(grad * (r_tilde - case.reward)))
    # both KLs in log space: the tilted expert underflows where r / beta is large
    log_p = occ.log_occupancy(mdp, old.log_policy)
    log_q = obj.safe_log(case.rho_expert) - case.reward / case.beta
    log_p, log_q = log_p - logsumexp(log_p), log_q - logsumexp(log_q)
    p, q = np.exp(log_p), np.exp(log_q)
    with np.errstate(invalid="ignore"):  # -inf - -inf where both vanish; masked by the where
        kl_sum = float(np.sum(np.where(p > 0, p * (log_p - log_q), 0.0)) + np.sum(np.where(q > 0, q * (log_q - log_p), 0.0)))
    identity = -case.eps * case.beta * mdp.mass * kl_sum
    scale = case.eps * case.beta * mdp.mass * max(1.0, kl_sum)
    return float((max(0.0, inner) + abs(inner - identity)) / scale)
