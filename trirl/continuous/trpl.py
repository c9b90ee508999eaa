"""Differentiable reverse-KL trust-region projection for Gaussian policies (TRPL).

Otto et al. (2021), "Differentiable Trust Region Layers for Deep Reinforcement Learning", as used
by TRIRL (paper Section 4.3 and Appendix C.3). The policy is
``pi(.|s) = N(mu_theta(s), diag(exp(2 * log_std)))`` with a state-dependent mean and a
**state-independent diagonal** covariance. Given the old policy ``(mu_old(s), log_std_old)``,
the projection returns the closest Gaussian (in the same reverse-KL geometry) that satisfies

    d_mean(mu~, mu_old)      <= eps_mean      (separately for every state s)
    d_cov(Sigma~, Sigma_old) <= eps_cov       (once: the covariance does not depend on s)

where ``KL(pi || pi_old) = d_mean + d_cov`` splits into (paper Eq. 6, d = action dimension)

    d_mean = 1/2 (mu - mu_old)^T Sigma_old^-1 (mu - mu_old)
    d_cov  = 1/2 (log |Sigma_old| / |Sigma| + tr(Sigma_old^-1 Sigma) - d).

Mean (closed form). Minimising ``d_mean(mu~, mu)`` subject to the bound, with the same metric
``Sigma_old^-1`` in objective and constraint, the Lagrangian's stationarity condition gives
``mu~ = (mu + eta_mu mu_old) / (1 + eta_mu)``; then ``d_mean(mu~, mu_old) = m / (1 + eta_mu)^2``
with ``m = d_mean(mu, mu_old)``, so the active constraint gives ``eta_mu = sqrt(m / eps_mean) - 1``.
Appendix C.3 prints ``eta_mu = sqrt((mu_old - mu)^T Sigma_old^-1 (mu_old - mu) / zeta_mu) - 1``
without the 1/2 that its own ``d_mean`` carries; we keep the 1/2 everywhere so that the bound
``eps_mean`` is a bound on the mean part of the KL (this is also what Otto et al.'s code does).

Covariance (1-D root find). Minimising ``d_cov(Sigma~, Sigma)`` subject to
``d_cov(Sigma~, Sigma_old) <= eps_cov``: the derivative of the Lagrangian with respect to
``Sigma~`` is ``1/2 (Lambda - Sigma~^-1) + eta_S/2 (Lambda_old - Sigma~^-1)`` (``Lambda`` the
precision), whose zero is the convex combination of precisions

    Lambda~ = (Lambda + eta_S Lambda_old) / (1 + eta_S).

Along this path ``d_cov`` falls monotonically from ``d_cov(Sigma, Sigma_old)`` (``eta_S = 0``)
to 0 (``eta_S -> inf``), so ``eta_S`` is the root of ``d_cov(eta_S) = eps_cov``. We find it by
bisection on ``log t``, ``t = 1 / (1 + eta_S)`` in ``(0, 1]`` (the path is linear in ``t``), with a
fixed number of steps so that it jits, always returning the feasible end of the bracket, and
differentiate it implicitly (``jax.custom_vjp``): ``d eta / d x = -(dF/dx) / (dF/deta)`` for
``F = d_cov(eta) - eps_cov``.

TRIRL needs one scalar multiplier for the reward correction (Theorem 3.2); Section 4.3 takes the
conservative ``eta = max over the batch of {eta_mu(s), eta_S}`` ("max-eta"), returned here as
``Projection.eta``. Shapes: ``[B, A]`` for means over a batch of ``B`` states, ``[A]`` for the
state-independent log standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from trirl.configflags import check_fields
from trirl.errors import InvalidConfigError


@dataclass(frozen=True)
class TrustRegionConfig:
    """Bounds and solver settings of the trust-region projection (paper Table 7 ranges).

    Attributes:
        eps_mean: bound on the mean part of ``KL(pi || pi_old)`` per state (``zeta_mu``;
            the paper's good range is 2e-4 to 5e-3).
        eps_cov: bound on the covariance part of ``KL(pi || pi_old)`` (``zeta_Sigma``;
            1e-4 to 4e-3).
        regression_coef: weight of the trust-region regression loss that pulls the network's
            unprojected prediction towards its projection (Otto et al. 2021, Sec. 4.4;
            0.4 to 0.6).
        bisection_steps: fixed number of bisection steps for ``eta_S``; each halves the bracket
            ``[log tiny, 0]`` of ``log t``, ``t = 1 / (1 + eta_S)`` (width 708 in float64, 87 in
            float32), so 60 steps reach float64 resolution and 40 float32's.
        line_search_steps: bisection steps of the line search that scales a policy update back
            into the trust region (TRIRL's ``acting_policy = "line-search"``); the step size is
            resolved to ``2^-steps``.
    """

    eps_mean: float = 1e-3
    eps_cov: float = 5e-4
    regression_coef: float = 0.5
    bisection_steps: int = 60
    line_search_steps: int = 20

    #: ranges of the fields (:func:`trirl.configflags.check_fields` adds the types)
    BOUNDS: ClassVar[dict[str, str]] = {"eps_mean": "> 0", "eps_cov": "> 0", "regression_coef": ">= 0",
                                        "bisection_steps": "[1, 200]", "line_search_steps": "[1, 60]"}

    def __post_init__(self):
        check_fields(self, self.BOUNDS)


class KLParts(NamedTuple):
    """The two parts of the reverse KL ``KL(pi || pi_old) = mean + cov`` of one state."""

    mean: jax.Array
    cov: jax.Array


class Projection(NamedTuple):
    """Result of projecting a batch of Gaussian policy predictions into the trust region.

    Attributes:
        mean: projected means ``mu~(s)``, ``[B, A]``.
        log_std: projected log standard deviations, ``[A]`` (state-independent).
        eta_mean: mean multipliers ``eta_mu(s) >= 0``, ``[B]``; 0 where the bound holds.
        eta_cov: covariance multiplier ``eta_S >= 0``, scalar.
        eta: ``max(max_s eta_mu(s), eta_S)``, the scalar multiplier TRIRL's reward correction
            uses (Section 4.3, "max-eta").
    """

    mean: jax.Array
    log_std: jax.Array
    eta_mean: jax.Array
    eta_cov: jax.Array
    eta: jax.Array


# ---------------------------------------------------------------------------------------------
# Kernels on one state (callers vmap over the batch).


def _cov_kl_from_log_ratio(log_var_ratio):
    """``1/2 sum_i (r_i - log r_i - 1)`` with ``r_i = sigma_i^2 / sigma_old_i^2 = exp(x_i)``.

    ``expm1(x) - x`` instead of ``r - log r - 1`` because the terms are O(x^2) near the old
    policy, where the naive form loses all its digits to cancellation in float32.
    """
    return 0.5 * jnp.sum(jnp.expm1(log_var_ratio) - log_var_ratio, axis=-1)


def gaussian_kl_parts(mean, log_std, old_mean, old_log_std) -> KLParts:
    """Reverse KL ``KL(N(mean, diag std^2) || N(old_mean, diag old_std^2))`` split into its
    mean and covariance parts (paper Eq. 6), for one state: ``mean, old_mean [A]``,
    ``log_std, old_log_std [A]``."""
    mean_part = 0.5 * jnp.sum(jnp.square((mean - old_mean) * jnp.exp(-old_log_std)), axis=-1)
    cov_part = _cov_kl_from_log_ratio(2.0 * (log_std - old_log_std))
    return KLParts(mean=mean_part, cov=cov_part)


def project_mean(mean, old_mean, old_log_std, eps_mean):
    """Closed-form mean projection for one state; returns ``(mu~ [A], eta_mu [])``.

    ``eta_mu = sqrt(m / eps_mean) - 1`` if ``m = d_mean(mu, mu_old) > eps_mean``, else 0, and
    ``mu~ = mu_old + t (mu - mu_old)`` with ``t = 1 / (1 + eta_mu)``. ``m`` is never formed: the
    scaled distance ``sqrt(m / 2)`` is taken from half differences divided by their largest entry,
    so no square or difference overflows and the bound holds for every finite input whose old
    standard deviations are normal floats (``eta_mu`` saturates at the largest float).
    """
    half = (0.5 * mean - 0.5 * old_mean) * jnp.exp(-old_log_std)  # m = 2 ||half||^2
    top = jax.lax.stop_gradient(jnp.max(jnp.abs(half)))
    unit = jnp.where(top > 0, top, 1.0)
    sum_sq = jnp.sum(jnp.square(half / unit))  # in [1, A] unless half = 0
    bound = jnp.sqrt(0.5 * eps_mean)  # m <= eps_mean  <=>  ||half|| <= sqrt(eps_mean / 2)
    violated = unit * jnp.sqrt(jax.lax.stop_gradient(sum_sq)) > bound
    # the inactive branch keeps sqrt's argument >= 1, so its gradient stays finite and
    # jnp.where does not turn 0 * inf into NaN
    distance = unit * jnp.sqrt(jnp.where(violated, sum_sq, 1.0))
    t = jnp.where(violated, bound / distance, 1.0)
    dtype = jnp.result_type(t)
    eta_mean = jnp.where(violated, jnp.minimum(distance / bound - 1.0, jnp.finfo(dtype).max), 0.0)
    step = (2.0 * t) * (0.5 * mean - 0.5 * old_mean)  # mu~ - mu_old, the projected displacement
    projected = jnp.where(violated, _toward_old(old_mean, step), mean)
    return projected, eta_mean


def _toward_old(old_mean, step):
    """``old_mean + step`` rounded towards ``old_mean`` wherever rounding to nearest overshoots.

    With a small old standard deviation (``log_std_old < -10`` in float32) the allowed
    displacement is below the spacing of the floats around ``old_mean``, and rounding the sum to
    the nearest float can move farther than ``step`` (2.4x the mean bound at ``log_std_old = -15``);
    the float next to it on ``old_mean``'s side lies between ``old_mean`` and the exact target, so
    the bound holds. The gradient is that of ``old_mean + step`` (the correction is constant).
    """
    nearest = old_mean + step
    value, old, exact = (jax.lax.stop_gradient(x) for x in (nearest, old_mean, step))
    overshoots = jnp.abs(value - old) > jnp.abs(exact)
    return nearest + jnp.where(overshoots, jnp.nextafter(value, old) - value, 0.0)


def _log_var_ratio_along_path(eta, log_std, old_log_std):
    """``x = log(Sigma~(eta) / Sigma_old)`` per dimension for ``Lambda~ = (Lambda + eta Lambda_old) / (1 + eta)``.

    With ``q = Lambda / Lambda_old = exp(-2 delta)``, ``delta = log_std - old_log_std``, the
    ratio is ``(1 + eta) / (q + eta)``. Near ``delta = 0`` it is ``-log1p(expm1(-2 delta) / (1 + eta))``,
    cancellation-free; elsewhere ``log1p(eta) - logaddexp(-2 delta, log eta)``, which never forms
    ``q`` (it under- or overflows from ``|delta| ~ 44`` in float32, and ``1 + expm1(-2 delta)``
    rounds to 0 from ``delta ~ 8.7``: the NaN that used to read as "inside the region").
    """
    two_delta = 2.0 * (log_std - old_log_std)
    near = jnp.abs(two_delta) <= 1.0
    x_near = -jnp.log1p(jnp.expm1(-jnp.where(near, two_delta, 0.0)) / (1.0 + eta))
    positive = eta > 0
    log_eta = jnp.where(positive, jnp.log(jnp.where(positive, eta, 1.0)), -jnp.inf)
    x_far = jnp.log1p(eta) - jnp.logaddexp(-two_delta, log_eta)
    return jnp.where(near, x_near, x_far)


def _cov_kl_along_path(eta, log_std, old_log_std):
    """``d_cov(Sigma~(eta), Sigma_old) = 1/2 sum (expm1(x) - x)`` with ``x`` from
    :func:`_log_var_ratio_along_path`: finite or ``+inf``, never NaN, for finite inputs."""
    return _cov_kl_from_log_ratio(_log_var_ratio_along_path(eta, log_std, old_log_std))


def _bisect_cov_multiplier(log_std, old_log_std, eps_cov, steps):
    """Root of ``d_cov(eta) = eps_cov`` by bisection on ``u = log t``, ``t = 1 / (1 + eta)``,
    in ``[log tiny, 0]`` (``tiny`` the smallest normal float).

    ``d_cov`` increases with ``t`` (0 at ``t = 0``, the unprojected value at ``t = 1``), so the
    lower end ``lo`` stays feasible; returning it makes the bound hold exactly in the arithmetic
    used, rather than to within the bracket's width. Bisecting ``log t`` rather than ``t``
    resolves the multipliers ``eta ~ exp(-2 delta)`` of a standard deviation shrunk by ``delta``
    down to ``t = tiny``; beyond that (``delta < -44`` in float32), :func:`project_cov` keeps the
    old covariance.
    """
    # written so that a NaN could only ever read as "violated", never as "inside the region"
    violated = jnp.logical_not(_cov_kl_from_log_ratio(2.0 * (log_std - old_log_std)) <= eps_cov)

    def bisection_step(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        feasible = _cov_kl_along_path(jnp.expm1(-mid), log_std, old_log_std) <= eps_cov
        return jnp.where(feasible, mid, lo), jnp.where(feasible, hi, mid)

    dtype = jnp.result_type(log_std, old_log_std, float)
    floor = jnp.log(jnp.asarray(jnp.finfo(dtype).tiny, dtype))
    lo, _ = jax.lax.fori_loop(0, steps, bisection_step, (floor, jnp.zeros((), dtype)))
    return jnp.where(violated, jnp.expm1(-lo), jnp.zeros((), dtype))


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def cov_multiplier(log_std, old_log_std, eps_cov, steps):
    """``eta_S >= 0`` of the covariance projection: 0 inside the trust region, otherwise the
    root of ``d_cov(Sigma~(eta_S), Sigma_old) = eps_cov``; differentiable implicitly."""
    return _bisect_cov_multiplier(log_std, old_log_std, eps_cov, steps)


def _cov_multiplier_fwd(log_std, old_log_std, eps_cov, steps):
    eta = _bisect_cov_multiplier(log_std, old_log_std, eps_cov, steps)
    return eta, (log_std, old_log_std, eps_cov, eta)


def _cov_multiplier_bwd(steps, residuals, g):
    log_std, old_log_std, eps_cov, eta = residuals

    # Implicit function theorem on F(eta, x) = d_cov(eta, x) - eps_cov = 0 (active constraint).
    def residual(eta_, log_std_, old_log_std_, eps_):
        return _cov_kl_along_path(eta_, log_std_, old_log_std_) - eps_

    d_eta, d_log_std, d_old, d_eps = jax.grad(residual, argnums=(0, 1, 2, 3))(
        eta, log_std, old_log_std, eps_cov
    )
    active = eta > 0
    # dF/deta < 0 strictly whenever the constraint is active; the guard protects the inactive
    # branch (eta = 0, where the multiplier is locally constant) from 0 / 0, and a multiplier
    # saturated beyond the bisection's resolution (dF/deta rounds to 0) from inf.
    scale = jnp.where(active, -g / jnp.where(active, d_eta, 1.0), 0.0)

    def finite(x):
        return jnp.where(active & jnp.isfinite(x), x, 0.0)

    return (
        finite(scale * d_log_std),
        finite(scale * d_old),
        jnp.asarray(finite(scale * d_eps), dtype=jnp.result_type(eps_cov)).reshape(jnp.shape(eps_cov)),
    )


cov_multiplier.defvjp(_cov_multiplier_fwd, _cov_multiplier_bwd)


def project_cov(log_std, old_log_std, eps_cov, steps: int = 60):
    """Covariance projection of the state-independent diagonal covariance; returns
    ``(log_std~ [A], eta_S [])`` with ``Lambda~ = (Lambda + eta_S Lambda_old) / (1 + eta_S)``."""
    eta_cov = cov_multiplier(log_std, old_log_std, eps_cov, steps)
    # log_std~ = old_log_std + x / 2 in the arithmetic the bisection tested, so the bound it
    # guaranteed holds for the returned value (no precisions formed: they under/overflow)
    x = _log_var_ratio_along_path(eta_cov, log_std, old_log_std)
    # only a shrinkage beyond the bisection's floor (module docstring) leaves x infeasible
    projected = jnp.where(_cov_kl_from_log_ratio(x) <= eps_cov, old_log_std + 0.5 * x, old_log_std)
    return jnp.where(eta_cov > 0, projected, log_std), eta_cov


# ---------------------------------------------------------------------------------------------
# Batch entry points: the covariance and the max-eta are shared by the whole batch.


def _check_shapes(mean, log_std, old_mean, old_log_std):
    if jnp.ndim(mean) != 2:
        raise InvalidConfigError(f"mean must have shape [B, A], got {jnp.shape(mean)}")
    if jnp.shape(old_mean) != jnp.shape(mean):
        raise InvalidConfigError(f"old_mean must have the shape of mean {jnp.shape(mean)}, got {jnp.shape(old_mean)}")
    action_dim = jnp.shape(mean)[1]
    for name, value in (("log_std", log_std), ("old_log_std", old_log_std)):
        if jnp.shape(value) != (action_dim,):
            raise InvalidConfigError(
                f"{name} must have shape [A] = ({action_dim},) (state-independent), got {jnp.shape(value)}"
            )


def project(config: TrustRegionConfig, mean, log_std, old_mean, old_log_std) -> Projection:
    """Project a batch of predictions ``(mean [B, A], log_std [A])`` into the reverse-KL trust
    region around ``(old_mean [B, A], old_log_std [A])``.

    The old policy is a constant of the projection; gradients with respect to it are exact
    but callers normally pass ``jax.lax.stop_gradient`` values. Jittable with ``config``
    static.
    """
    _check_shapes(mean, log_std, old_mean, old_log_std)
    proj_mean, eta_mean = jax.vmap(project_mean, in_axes=(0, 0, None, None))(
        mean, old_mean, old_log_std, config.eps_mean
    )
    proj_log_std, eta_cov = project_cov(log_std, old_log_std, config.eps_cov, config.bisection_steps)
    eta = jnp.maximum(jnp.max(eta_mean), eta_cov)
    return Projection(mean=proj_mean, log_std=proj_log_std, eta_mean=eta_mean, eta_cov=eta_cov, eta=eta)


def interpolate(old, new, alpha):
    """Parameters ``old + alpha (new - old)`` of any pytree (the line of a backtracking search)."""
    return jax.tree_util.tree_map(lambda o, n: o + alpha * (n - o), old, new)


def line_search(violation, steps: int = 20):
    """Largest ``alpha`` in ``[0, 1]`` with ``violation(alpha) <= 1``, by bisection.

    ``violation(alpha) -> []`` is the worst ratio of a KL part to its bound for the update
    scaled by ``alpha`` (1 on the boundary of the trust region). ``alpha = 1`` when the whole
    update is feasible; otherwise ``steps`` bisection steps on ``[0, 1]`` return the feasible end
    of the bracket, so the bound holds exactly in the arithmetic used (``alpha = 0``, the old
    parameters, when no step is feasible). The search assumes the violation grows along the
    line, as a KL from the line's start does near it. Jittable; a TRPO-style backtracking search
    (Schulman et al. 2015) with bisection instead of geometric shrinking.
    """

    whole_step = violation(jnp.ones(())) <= 1.0

    def searching(carry):  # no bisection (no network run) when the whole update is feasible
        return (carry[0] < steps) & jnp.logical_not(whole_step)

    def bisection_step(carry):
        i, lo, hi = carry
        mid = 0.5 * (lo + hi)
        feasible = violation(mid) <= 1.0
        return i + 1, jnp.where(feasible, mid, lo), jnp.where(feasible, hi, mid)

    _, lo, _ = jax.lax.while_loop(searching, bisection_step, (jnp.zeros((), jnp.int32), jnp.zeros(()), jnp.ones(())))
    return jnp.where(whole_step, jnp.ones(()), lo)


def trust_region_loss(config: TrustRegionConfig, mean, log_std, projection: Projection):
    """Trust-region regression loss (Otto et al. 2021, Sec. 4.4), weighted by
    ``config.regression_coef``.

    The projection is only applied inside the policy loss; this term pulls the network's own
    prediction ``(mean [B, A], log_std [A])`` towards the (stop-gradient) projected policy,
    so that the unprojected network used for the next rollout also respects the trust region.
    The distance is the KL of the projection's geometry, ``KL(pi_theta(s) || pi~(s))``,
    averaged over states (mean part) plus its covariance part, which is the same for every
    state because the covariance is state-independent.
    """
    target_mean = jax.lax.stop_gradient(projection.mean)
    target_log_std = jax.lax.stop_gradient(projection.log_std)
    parts = jax.vmap(gaussian_kl_parts, in_axes=(0, None, 0, None))(mean, log_std, target_mean, target_log_std)
    return config.regression_coef * (jnp.mean(parts.mean) + jnp.mean(parts.cov))
