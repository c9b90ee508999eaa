"""Properties of the soft LQ closed forms (:mod:`trirl.continuous.lq`), as violation measures.

Each ``check_*`` states one claim over random stable instances and returns its violation
(``0`` or rounding when it holds). The independent side of each comparison: Monte Carlo rollouts
(a confidence-interval tolerance), the time-marginal recursion (not the Lyapunov solve), the
penalised objective evaluated from occupancy moments (no Riccati), central finite differences.
``tests/continuous/test_lq.py`` and ``trirl verify --continuous`` both run them
(:data:`LQ_PROPERTIES`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from trirl.continuous import lq

#: Monte Carlo: a closed form may differ from the sample mean by this many standard errors
MC_STANDARD_ERRORS = 5.0


class LQCase(NamedTuple):
    """A random instance, a reward (quadratic cost) and the seed of anything else drawn."""

    problem: lq.LQProblem
    reward: lq.Quadratic
    seed: int

    def __repr__(self) -> str:  # what a failing property prints: everything to rebuild it
        p = self.problem
        return (f"LQCase(n={p.n}, m={p.m}, gamma={p.gamma}, A={p.A.tolist()}, B={p.B.tolist()}, m0={p.m0.tolist()}, "
                f"reward_M={self.reward.M.tolist()}, seed={self.seed})")


@st.composite
def lq_cases(draw, max_dim: int = 3, min_gamma: float = 0.5, max_gamma: float = 0.95) -> LQCase:
    """Random stable instances: ``n, m`` in ``1..max_dim``, ``gamma``, state cost in [0.1, 2],
    action cost in [1, 20], noise in [0.05, 0.3] and an instance seed."""
    n = draw(st.integers(1, max_dim))
    m = draw(st.integers(1, max_dim))
    seed = draw(st.integers(0, 2**31 - 1))
    gamma = draw(st.floats(min_gamma, max_gamma))
    noise = draw(st.floats(0.05, 0.3))
    radius = draw(st.floats(0.0, 0.97))
    rng = np.random.default_rng(seed)
    problem = lq.random_problem(rng, n, m, gamma, radius, noise)
    reward = lq.cost_reward(n, m, draw(st.floats(0.1, 2.0)), draw(st.floats(1.0, 20.0)))
    return LQCase(problem, reward, seed)


def _scale(*values) -> float:
    return max(1.0, *(float(np.max(np.abs(v))) for v in values))


def check_soft_bellman(case: LQCase) -> float:
    """The soft-optimal solution is a fixed point of the soft Bellman equation (coefficients of V)."""
    solution = lq.soft_optimal(case.problem, case.reward)
    return lq.soft_riccati_residual(case.problem, case.reward, solution)


def check_soft_value_is_return(case: LQCase) -> float:
    """``E_mu0[V(s_0)]`` of the Riccati solution equals the policy's entropy-regularised return
    ``E_rho[r] + E_d[H(pi)]`` computed from its occupancy moments (relative)."""
    problem, reward = case.problem, case.reward
    solution = lq.soft_optimal(problem, reward)
    value = lq.initial_value(problem, solution)
    soft_return = lq.penalised_objective(problem, solution.policy, reward, solution.policy, 0.0)
    return abs(value - soft_return) / _scale(value)


def _perturb(policy: lq.LinearGaussian, rng: np.random.Generator, size: float) -> lq.LinearGaussian:
    m = policy.k.shape[0]
    L = np.linalg.cholesky(policy.cov) @ (np.eye(m) + size * np.tril(rng.standard_normal((m, m))))
    return lq.LinearGaussian(policy.K + size * rng.standard_normal(policy.K.shape),
                             policy.k + size * rng.standard_normal(m), L @ L.T)


def check_soft_optimal_dominates(case: LQCase) -> float:
    """No linear-Gaussian policy has a higher entropy-regularised return than the soft-optimal one
    (20 random perturbations of sizes 1e-3 .. 0.3; returns from moments, relative)."""
    problem, reward = case.problem, case.reward
    policy = lq.soft_optimal(problem, reward).policy
    best = lq.penalised_objective(problem, policy, reward, policy, 0.0)
    rng = np.random.default_rng(case.seed)
    worst = 0.0
    for size in np.geomspace(1e-3, 0.3, 20):
        other = _perturb(policy, rng, size)
        try:
            value = lq.penalised_objective(problem, other, reward, policy, 0.0)
        except lq.NotSoftSolvableError:
            continue  # unstable closed loop: return -inf
        worst = max(worst, value - best)
    return worst / _scale(best)


def check_moments_by_time(case: LQCase) -> float:
    """The Lyapunov moments equal the discounted sum of the time marginals (forward recursion)."""
    problem = case.problem
    policy = lq.soft_optimal(problem, case.reward).policy
    moments = lq.occupancy_moments(problem, policy)
    steps = lq.truncation_steps(problem.gamma, 1e-15)
    means, covs = lq.time_marginals(problem, policy, steps)
    w = problem.gamma ** np.arange(steps)
    mean = w @ means
    second = np.einsum("t,tij->ij", w, covs + np.einsum("ti,tj->tij", means, means))
    return max(np.max(np.abs(mean - moments.mean)), np.max(np.abs(second - moments.second))) / _scale(moments.second)


def check_moments_monte_carlo(case: LQCase, episodes: int = 2000) -> float:
    """Feature expectations ``E_rho[phi]`` and the soft value ``E_mu0 V(s_0)`` against the means of
    per-episode discounted sums over ``episodes`` sampled episodes (cut at ``gamma^T <= 1e-6``).
    Violation: the largest ``|closed - sample mean| / (standard error + 1e-6 scale)`` divided by
    :data:`MC_STANDARD_ERRORS` (> 1 fails)."""
    problem, reward = case.problem, case.reward
    solution = lq.soft_optimal(problem, reward)
    moments = lq.occupancy_moments(problem, solution.policy)
    exact = np.append(lq.feature_expectations(moments), lq.initial_value(problem, solution))
    steps = lq.truncation_steps(problem.gamma, 1e-6)
    states, actions = lq.rollout(problem, solution.policy, episodes, steps, np.random.default_rng(case.seed))
    z = np.concatenate([states, actions], axis=-1)
    soft_reward = reward(z) - lq.log_policy(solution.policy)(z)
    per_step = np.concatenate([lq.features(z), soft_reward[..., None]], axis=-1)
    sums = np.einsum("t,ntf->nf", problem.gamma ** np.arange(steps), per_step)
    error = sums.std(axis=0, ddof=1) / math.sqrt(episodes)
    deviation = np.abs(sums.mean(axis=0) - exact) / (error + 1e-6 * _scale(exact))
    return float(np.max(deviation) / MC_STANDARD_ERRORS)


def _central_difference(f, x: np.ndarray, step: float) -> np.ndarray:
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = step
        grad[i] = (f(x + e) - f(x - e)) / (2.0 * step)
    return grad


def check_dual_gradients(case: LQCase) -> float:
    """The gradients of ``G_inf`` and ``G_beta`` (beta in [10, 100]) match central finite
    differences at a reward between 0.5 and 1.5 times the expert's (relative to the gradient scale)."""
    problem, reward = case.problem, case.reward
    rng = np.random.default_rng(case.seed)
    expert = lq.soft_optimal(problem, reward).policy
    expert_features = lq.feature_expectations(lq.occupancy_moments(problem, expert))
    theta = lq.theta_from_reward(reward)[0] * rng.uniform(0.5, 1.5)
    beta = float(rng.uniform(10.0, 100.0))
    worst = 0.0
    for G in (lambda t: lq.dual_feature_matching(problem, t, expert_features),
              lambda t: lq.dual(problem, t, expert, beta)):
        at = G(theta)
        numeric = _central_difference(lambda t: G(t).value, theta, 1e-6)
        worst = max(worst, np.max(np.abs(numeric - at.gradient)) / _scale(at.gradient))
    return float(worst)


def _old_policy(case: LQCase) -> lq.LinearGaussian:
    """A different soft-optimal policy: the trust region's centre ``pi_old``."""
    rng = np.random.default_rng(case.seed + 1)
    p = case.problem
    return lq.soft_optimal(p, lq.cost_reward(p.n, p.m, rng.uniform(0.1, 2.0), rng.uniform(1.0, 20.0))).policy


def _policy_vector(policy: lq.LinearGaussian) -> np.ndarray:
    return np.concatenate([policy.K.ravel(), policy.k, np.linalg.cholesky(policy.cov)[np.tril_indices(policy.k.size)]])


def _policy_from_vector(x: np.ndarray, like: lq.LinearGaussian) -> lq.LinearGaussian:
    m, n = like.K.shape
    L = np.zeros((m, m))
    L[np.tril_indices(m)] = x[m * n + m:]
    return lq.LinearGaussian(x[: m * n].reshape(m, n), x[m * n: m * n + m], L @ L.T)


def check_lemma_3_1(case: LQCase, eta: float) -> float:
    """Lemma 3.1: the soft-optimal policy of ``(r + eta log pi_old) / (1 + eta)`` is a stationary
    point of ``E[sum gamma^t (r + H(pi) - eta KL(pi || pi_old))]`` over linear-Gaussian policies
    (finite differences of the objective computed from moments, relative) and no random
    perturbation of it scores higher."""
    problem, reward, old = case.problem, case.reward, _old_policy(case)
    policy = lq.trust_region_policy(problem, reward, old, eta).policy
    x = _policy_vector(policy)

    def objective(v):
        return lq.penalised_objective(problem, _policy_from_vector(v, policy), reward, old, eta)

    at = objective(x)
    gradient = _central_difference(objective, x, 1e-6)
    rng = np.random.default_rng(case.seed)
    improvement = 0.0
    for size in np.geomspace(1e-3, 0.3, 10):
        try:
            improvement = max(improvement, lq.penalised_objective(problem, _perturb(policy, rng, size), reward, old, eta) - at)
        except lq.NotSoftSolvableError:
            continue
    return float(max(np.max(np.abs(gradient)) / (1.0 + eta), improvement) / _scale(at))


def check_theorem_3_2(case: LQCase, eps: float, beta: float, eta: float) -> float:
    """Theorem 3.2: with ``pi`` soft-optimal for ``r``, the trust-region policy of ``U_eps r``
    (Lemma 3.1) is the soft-optimal policy of the corrected ``U_{eps/(1+eta)} r`` (Gaussian
    log-ratio target); violation: largest difference of ``K, k, cov`` (relative)."""
    problem = case.problem
    expert = lq.soft_optimal(problem, case.reward).policy
    expert_moments = lq.occupancy_moments(problem, expert)
    start = lq.trirl_init(problem, lq.cost_reward(problem.n, problem.m, 0.5, 2.0))
    new, projected = lq.trirl_step(problem, start, expert_moments, eps, beta, eta)
    return float(max(np.max(np.abs(a - b)) / _scale(b) for a, b in zip(projected, new.policy)))


MONOTONE_MAX_ALPHA = 0.5
MONOTONE_MIN_BETA = 10.0


def check_monotone_dual(case: LQCase, beta: float, alpha: float, eta: float, iterations: int = 8) -> float:
    """The exact feature-space TRIRL iterates (Gaussian log-ratio target) from the reward
    ``-||s||^2 / 2 - ||a||^2`` do not increase ``G_beta`` for ``beta >= 10`` and normalised step
    ``alpha = eps beta / (1 + eta) <= 0.5`` (``eps`` set from ``alpha``); violation: the largest
    increase relative to ``max(1, |G|)``. Outside (``beta = 1``, or ``alpha >= 1``) the iterates
    leave the rewards with a finite soft value (book chapter 10)."""
    problem = case.problem
    expert = lq.soft_optimal(problem, case.reward).policy
    expert_moments = lq.occupancy_moments(problem, expert)
    eps = alpha * (1.0 + eta) / beta
    state = lq.trirl_init(problem, lq.cost_reward(problem.n, problem.m, 0.5, 1.0))
    values = []
    for _ in range(iterations + 1):
        theta, bias = lq.theta_from_reward(state.reward)
        values.append(lq.dual(problem, theta, expert, beta, bias=bias).value)
        state, _ = lq.trirl_step(problem, state, expert_moments, eps, beta, eta)
    values = np.array(values)
    return float(max(0.0, np.max(np.diff(values))) / _scale(values))


class LQProperty(NamedTuple):
    name: str
    check: object
    strategy: object
    tolerance: float
    claim: str

    def violation(self, example) -> float:
        return float(self.check(*example))


def _with(*extra):
    return lambda: st.tuples(lq_cases(), *extra)


LQ_PROPERTIES: tuple[LQProperty, ...] = (
    LQProperty("lq_soft_bellman", check_soft_bellman, _with(), 1e-9,
               "the soft Riccati solution is a soft Bellman fixed point"),
    LQProperty("lq_soft_value_is_return", check_soft_value_is_return, _with(), 1e-8,
               "E V(s0) = entropy-regularised return from the occupancy moments"),
    LQProperty("lq_soft_optimal_dominates", check_soft_optimal_dominates, _with(), 1e-10,
               "no perturbed linear-Gaussian policy beats the soft-optimal one"),
    LQProperty("lq_moments_by_time", check_moments_by_time, _with(), 1e-9,
               "Lyapunov moments = discounted sum of time marginals"),
    LQProperty("lq_moments_monte_carlo", check_moments_monte_carlo, _with(), 1.0,
               f"E_rho[phi] and E V(s0) within {MC_STANDARD_ERRORS:g} standard errors of 2,000 rollouts"),
    LQProperty("lq_dual_gradients", check_dual_gradients, _with(), 1e-5,
               "G_inf and G_beta gradients match central finite differences"),
    LQProperty("lq_lemma_3_1", check_lemma_3_1, _with(st.floats(0.0, 10.0)), 1e-6,
               "the soft-optimal policy of r_eta maximises the KL-penalised objective"),
    LQProperty("lq_theorem_3_2", check_theorem_3_2,
               _with(st.floats(0.001, 0.05), st.floats(10.0, 100.0), st.floats(0.0, 10.0)),
               1e-8, "trust-region policy of U_eps r = soft-optimal policy of U_{eps/(1+eta)} r"),
    LQProperty("lq_monotone_dual", check_monotone_dual,
               lambda: st.tuples(lq_cases(max_dim=2), st.floats(MONOTONE_MIN_BETA, 100.0),
                                 st.floats(0.01, MONOTONE_MAX_ALPHA), st.floats(0.0, 5.0)),
               1e-9, f"G_beta non-increasing along exact TRIRL for beta >= {MONOTONE_MIN_BETA:g}, "
                     f"eps beta / (1 + eta) <= {MONOTONE_MAX_ALPHA}"),
)

LQ_BY_NAME = {p.name: p for p in LQ_PROPERTIES}
