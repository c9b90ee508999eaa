"""The dual ``G_beta`` of a reward linear in quadratic features, the trust-region policy (Lemma 3.1),
the corrected reward (Theorem 3.2) and the exact TRIRL iteration in feature space (equations:
:mod:`trirl.continuous.lq`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.special
import scipy.stats

from trirl.continuous.lq_riccati import (
    feature_size,
    LinearGaussian,
    log_policy,
    LQProblem,
    NotSoftSolvableError,
    Quadratic,
    reward_from_theta,
    soft_optimal,
    SoftSolution,
    theta_from_reward,
)
from trirl.continuous.lq_moments import (
    expected_kl,
    expected_reward,
    feature_expectations,
    Moments,
    occupancy_moments,
    time_marginals,
    truncation_steps,
)
from trirl.errors import InvalidConfigError

# -- the dual ------------------------------------------------------------------------------------
def initial_value(problem: LQProblem, solution: SoftSolution) -> float:
    """``E_mu0[V(s_0)] = tr(P (S0 + m0 m0^T)) + p^T m0 + v``."""
    second = problem.S0 + np.outer(problem.m0, problem.m0)
    return float(np.sum(solution.P * second) + solution.p @ problem.m0 + solution.v)


class DualValue(NamedTuple):
    value: float  #: G(theta) (``inf`` outside the domain)
    gradient: np.ndarray  #: [F] dG / dtheta (NaN-free; zeros when ``value`` is ``inf``)
    tail: float  #: weight of the occupancy mixture dropped (0 for the exact G_inf)


def dual_feature_matching(problem: LQProblem, theta: np.ndarray, expert_features: np.ndarray) -> DualValue:
    """``G_inf(theta) = E_mu0[V_theta(s_0)] - theta^T E_rhoE[phi]`` and its gradient
    ``E_rho_theta[phi] - E_rhoE[phi]`` (exact; ``+inf`` where ``V_theta`` is infinite).

    Derivation: the beta -> inf limit of :func:`dual` (``beta Z log E exp(-r / beta) -> -E_rhoE[r]``).
    The gradient of ``E_mu0[V_theta]`` is the soft-optimal occupancy's feature expectation (the
    envelope theorem on ``V = max_pi E[sum gamma^t (r + H)]``)."""
    reward = reward_from_theta(theta, problem.d)
    try:
        solution = soft_optimal(problem, reward)
        moments = occupancy_moments(problem, solution.policy)
    except NotSoftSolvableError:
        return DualValue(math.inf, np.zeros_like(theta, dtype=float), 0.0)
    value = initial_value(problem, solution) - float(theta @ expert_features)
    return DualValue(value, feature_expectations(moments) - expert_features, 0.0)


def _log_gaussian_expectation(mean: np.ndarray, cov: np.ndarray, J: np.ndarray, u: np.ndarray):
    """``log E[exp(-z^T J z / 2 - u^T z)]`` for ``z ~ N(mean, cov)`` and the tilted mean and covariance.

    With ``z = mean + y`` and ``b = J mean + u``: ``E = det(I + cov J)^{-1/2}
    exp(b^T (I + cov J)^{-1} cov b / 2 - mean^T J mean / 2 - u^T mean)``; the tilted law is
    ``N(mean - C b, C)`` with ``C = (I + cov J)^{-1} cov``. No inverse of ``cov`` is needed, so a
    degenerate time-0 marginal (deterministic start) is fine. ``inf`` if ``cov^{-1} + J`` is not
    positive definite (the integral diverges)."""
    d = mean.shape[0]
    I_cJ = np.eye(d) + cov @ J
    C = np.linalg.solve(I_cJ, cov)
    C = 0.5 * (C + C.T)
    sign, logdet = np.linalg.slogdet(I_cJ)
    if sign <= 0 or np.min(np.linalg.eigvalsh(C)) < -1e-12 * max(1.0, np.max(np.abs(C))):
        return math.inf, mean, cov
    b = J @ mean + u
    log_e = -0.5 * logdet + 0.5 * b @ C @ b - 0.5 * mean @ J @ mean - u @ mean
    return float(log_e), mean - C @ b, C


def dual(problem: LQProblem, theta: np.ndarray, expert: LinearGaussian, beta: float, tail: float = 1e-13,
         bias: float = 0.0) -> DualValue:
    """The dual (book chapter 3) for ``r = theta^T phi + bias``:
    ``G(r) = E_mu0[V_r(s_0)] + beta Z log E_{z ~ rho_E / Z}[exp(-r(z) / beta)]``.

    The expectation is over the mixture ``sum_t (1 - gamma) gamma^t N(m_t, S_t)`` of the expert's
    time marginals, each term a Gaussian integral (:func:`_log_gaussian_expectation`), summed up to
    ``T = truncation_steps(gamma, tail)`` terms: the dropped terms weigh ``gamma^T <= tail`` in total,
    which is the stated error relative to the typical term. The gradient is
    ``E_rho_theta[phi] - Z E_q[phi]``, ``q ∝ p_E exp(-r / beta)`` (derivative of the log-partition).
    ``+inf`` where the soft value or the integral is infinite."""
    if not (beta > 0 and math.isfinite(beta)):
        raise InvalidConfigError(f"beta must be a finite number > 0, got {beta!r}")
    reward = reward_from_theta(theta, problem.d, bias)
    infinite = DualValue(math.inf, np.zeros(feature_size(problem.d)), tail)
    try:
        solution = soft_optimal(problem, reward)
        moments = occupancy_moments(problem, solution.policy)
    except NotSoftSolvableError:
        return infinite
    steps = truncation_steps(problem.gamma, tail)
    means, covs = time_marginals(problem, expert, steps)
    J, u = 2.0 * reward.M / beta, reward.g / beta
    log_terms, tilted_first, tilted_second = [], [], []
    for t in range(steps):
        log_e, mu, C = _log_gaussian_expectation(means[t], covs[t], J, u)
        if not math.isfinite(log_e):
            return infinite
        log_terms.append(t * math.log(problem.gamma) + math.log1p(-problem.gamma) + log_e if problem.gamma > 0 else log_e)
        tilted_first.append(mu)
        tilted_second.append(C + np.outer(mu, mu))
    log_terms = np.array(log_terms)
    log_sum = float(scipy.special.logsumexp(log_terms))
    weights = np.exp(log_terms - log_sum)
    Z = problem.mass
    value = initial_value(problem, solution) + beta * Z * (log_sum - reward.c / beta)
    tilted = Moments(Z * np.einsum("t,ti->i", weights, np.array(tilted_first)),
                     Z * np.einsum("t,tij->ij", weights, np.array(tilted_second)), Z)
    gradient = feature_expectations(moments) - feature_expectations(tilted)
    return DualValue(float(value), gradient, problem.gamma ** steps)


# -- trust region, correction, the exact iteration -------------------------------------------------
def trust_region_reward(reward: Quadratic, old: LinearGaussian, eta: float) -> Quadratic:
    """Lemma 3.1's ``r_eta = (r + eta log pi_old) / (1 + eta)`` (a quadratic)."""
    return (reward + log_policy(old).scale(eta)).scale(1.0 / (1.0 + eta))


def trust_region_policy(problem: LQProblem, reward: Quadratic, old: LinearGaussian, eta: float) -> SoftSolution:
    """Lemma 3.1: the maximiser of ``E_{d_pi}[H(pi) + E_pi r - eta KL(pi || pi_old)]`` is the
    soft-optimal policy of :func:`trust_region_reward`."""
    return soft_optimal(problem, trust_region_reward(reward, old, eta))


def penalised_objective(problem: LQProblem, policy: LinearGaussian, reward: Quadratic, old: LinearGaussian,
                        eta: float) -> float:
    """``E_mu0`` of ``sum_t gamma^t (r + H(pi) - eta KL(pi || pi_old))`` for a linear-Gaussian ``policy``
    from its occupancy moments (independent of Lemma 3.1: no soft Riccati involved)."""
    moments = occupancy_moments(problem, policy)
    _, logdet = np.linalg.slogdet(2.0 * math.pi * math.e * policy.cov)
    entropy = 0.5 * logdet * moments.mass
    return expected_reward(moments, reward) + entropy - eta * expected_kl(problem, policy, old, moments)


def function_space_update(reward: Quadratic, log_ratio: Quadratic, eps: float, beta: float) -> Quadratic:
    """Eq. 2 on quadratics: ``(1 - eps) r + eps beta log_ratio`` (:func:`trirl.core.function_space_update`)."""
    from trirl import core

    return Quadratic(*(core.function_space_update(x, y, eps, beta) for x, y in zip(reward, log_ratio)))


def corrected_reward(reward: Quadratic, log_ratio: Quadratic, eps: float, beta: float, eta: float) -> Quadratic:
    """Theorem 3.2's corrected reward ``U_{eps / (1 + eta)} r`` (:func:`trirl.core.corrected_reward`)."""
    from trirl import core

    return function_space_update(reward, log_ratio, core.corrected_step(eps, eta), beta)


def gaussian_log_ratio(expert: Moments, learner: Moments) -> Quadratic:
    """``log N(z; mean_E, cov_E) - log N(z; mean_pi, cov_pi)``: the log-ratio of the two occupancies'
    moment-matched Gaussians (equal masses cancel). Exact log(rho_E / rho_pi) when both are Gaussian."""
    def log_density(moments: Moments) -> Quadratic:
        mu, cov = moments.mean / moments.mass, moments.covariance
        prec = np.linalg.inv(cov)
        _, logdet = np.linalg.slogdet(2.0 * math.pi * cov)
        return Quadratic(-0.5 * prec, prec @ mu, float(-0.5 * mu @ prec @ mu - 0.5 * logdet))

    return log_density(expert) + log_density(learner).scale(-1.0)


def mixture_log_density(problem: LQProblem, policy: LinearGaussian, z: np.ndarray, tail: float = 1e-10) -> np.ndarray:
    """``log(rho_pi(z) / Z)`` at ``z [N, d]``: the discounted mixture of time marginals, cut at
    ``gamma^T <= tail`` (needs ``S0`` positive definite so every term has a density)."""
    steps = truncation_steps(problem.gamma, tail)
    means, covs = time_marginals(problem, policy, steps)
    logs = np.empty((steps, z.shape[0]))
    for t in range(steps):
        logs[t] = scipy.stats.multivariate_normal(means[t], covs[t]).logpdf(z) + t * math.log(problem.gamma)
    return scipy.special.logsumexp(logs, axis=0) + math.log1p(-problem.gamma)


def mixture_log_ratio(problem: LQProblem, expert: LinearGaussian, learner: LinearGaussian, z: np.ndarray,
                      tail: float = 1e-10) -> np.ndarray:
    """The discriminator's true target ``log(rho_E(z) / rho_pi(z))`` at ``z [N, d]`` (truncated mixtures)."""
    return mixture_log_density(problem, expert, z, tail) - mixture_log_density(problem, learner, z, tail)


class TRIRLState(NamedTuple):
    """One exact TRIRL iterate: the reward ``r^(i)`` and its soft-optimal policy ``pi^(i)``."""

    reward: Quadratic
    policy: LinearGaussian


def trirl_init(problem: LQProblem, reward: Quadratic) -> TRIRLState:
    return TRIRLState(reward, soft_optimal(problem, reward).policy)


def trirl_step(problem: LQProblem, state: TRIRLState, expert_moments: Moments, eps: float, beta: float,
               eta: float) -> tuple[TRIRLState, LinearGaussian]:
    """Algorithm 1 in feature space, exactly: ``D = gaussian_log_ratio(rho_E, rho_pi)``,
    ``r~ = U_eps r`` (Eq. 2), ``pi' =`` soft-optimal of ``(r~ + eta log pi) / (1 + eta)`` (Lemma 3.1),
    ``r' = U_{eps/(1+eta)} r`` (Theorem 3.2). Returns the new state and the trust-region policy
    (which Theorem 3.2 says equals ``soft_optimal(r').policy``)."""
    moments = occupancy_moments(problem, state.policy)
    log_ratio = gaussian_log_ratio(expert_moments, moments)
    intermediate = function_space_update(state.reward, log_ratio, eps, beta)
    projected = trust_region_policy(problem, intermediate, state.policy, eta).policy
    corrected = corrected_reward(state.reward, log_ratio, eps, beta, eta)
    return TRIRLState(corrected, soft_optimal(problem, corrected).policy), projected



class ExactTrace(NamedTuple):
    """The exact feature-space TRIRL iterates' metrics (index 0: the starting reward)."""

    dual: np.ndarray  #: [I + 1] G_beta of each reward (``inf`` if it has no finite soft value)
    expert_kl: np.ndarray  #: [I + 1] E_{d_E}[KL(pi_E || pi^(i))] / Z, nats per state
    left_domain: bool  #: an iterate's reward had no finite soft value (the trace stops there)


def exact_trace(problem: LQProblem, expert: LinearGaussian, start: Quadratic, eps: float, beta: float, eta: float,
                iterations: int) -> ExactTrace:
    """Run :func:`trirl_step` ``iterations`` times from ``start`` and record the dual ``G_beta`` and
    the expert's KL to each policy; stops (``left_domain``) where a reward has no finite soft value."""
    expert_moments = occupancy_moments(problem, expert)
    state = trirl_init(problem, start)
    duals, kls = [], []
    for i in range(iterations + 1):
        theta, bias = theta_from_reward(state.reward)
        duals.append(dual(problem, theta, expert, beta, bias=bias).value)
        kls.append(expected_kl(problem, expert, state.policy, expert_moments) / problem.mass)
        if i == iterations:
            break
        try:
            state, _ = trirl_step(problem, state, expert_moments, eps, beta, eta)
        except NotSoftSolvableError:
            duals.append(math.inf)
            kls.append(math.inf)
            return ExactTrace(np.array(duals), np.array(kls), True)
    return ExactTrace(np.array(duals), np.array(kls), False)
