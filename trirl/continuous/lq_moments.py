"""Discounted occupancy moments of a linear-Gaussian policy (discounted Lyapunov equations), the
exact feature expectations and KL divergences they give, and exact samples for the Monte Carlo
checks (equations: :mod:`trirl.continuous.lq`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg

from trirl.continuous.lq_riccati import LinearGaussian, LQProblem, NotSoftSolvableError, Quadratic

# -- occupancy moments ------------------------------------------------------------------------------
class Moments(NamedTuple):
    """Unnormalised discounted moments of ``z = [s; a]`` (mass ``Z``): ``mean = sum_t gamma^t E[z_t]``,
    ``second = sum_t gamma^t E[z_t z_t^T]``. Divide by ``Z`` for the normalised occupancy's moments."""

    mean: np.ndarray  #: [d]
    second: np.ndarray  #: [d, d]
    mass: float

    @property
    def covariance(self) -> np.ndarray:
        """Covariance of the normalised occupancy ``rho / Z``."""
        mu = self.mean / self.mass
        return self.second / self.mass - np.outer(mu, mu)


def closed_loop(problem: LQProblem, policy: LinearGaussian):
    """``(A_pi, b_pi, W_pi)`` of ``s' = A_pi s + b_pi + N(0, W_pi)`` under ``policy``."""
    A_pi = problem.A + problem.B @ policy.K
    return A_pi, problem.B @ policy.k, problem.B @ policy.cov @ problem.B.T + problem.W


def _joint(policy: LinearGaussian, x: np.ndarray, X: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Moments of ``z = [s; K s + k + noise]`` from the state's ``(x, X)`` of total weight ``weight``."""
    K, k, cov = policy
    xa = K @ x + weight * k
    Xsa = X @ K.T + np.outer(x, k)
    Xaa = K @ X @ K.T + K @ np.outer(x, k) + np.outer(k, x) @ K.T + weight * (np.outer(k, k) + cov)
    mean = np.concatenate([x, xa])
    second = np.block([[X, Xsa], [Xsa.T, Xaa]])
    return mean, 0.5 * (second + second.T)


def occupancy_moments(problem: LQProblem, policy: LinearGaussian) -> Moments:
    """Exact discounted moments of ``rho_pi`` by the discounted Lyapunov equations (module docstring).

    Raises :class:`NotSoftSolvableError` if ``sqrt(gamma) A_pi`` is not stable (infinite moments)."""
    gamma, Z = problem.gamma, problem.mass
    A_pi, b_pi, W_pi = closed_loop(problem, policy)
    radius = np.max(np.abs(np.linalg.eigvals(A_pi))) if problem.n else 0.0
    if math.sqrt(gamma) * radius >= 1.0:
        raise NotSoftSolvableError(f"sqrt(gamma) * spectral radius of A + B K = {math.sqrt(gamma) * radius:.3g} >= 1: "
                                   "the discounted second moments are infinite")
    n = problem.n
    x = np.linalg.solve(np.eye(n) - gamma * A_pi, problem.m0 + gamma * Z * b_pi)
    cross = np.outer(A_pi @ x, b_pi)
    source = problem.S0 + np.outer(problem.m0, problem.m0) + gamma * (cross + cross.T + Z * (np.outer(b_pi, b_pi) + W_pi))
    X = scipy.linalg.solve_discrete_lyapunov(math.sqrt(gamma) * A_pi, source)
    mean, second = _joint(policy, x, 0.5 * (X + X.T), Z)
    return Moments(mean, second, Z)


def time_marginals(problem: LQProblem, policy: LinearGaussian, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Means ``[steps, d]`` and covariances ``[steps, d, d]`` of ``z_t`` for ``t < steps`` (the
    mixture components of the occupancy), by the forward recursion."""
    A_pi, b_pi, W_pi = closed_loop(problem, policy)
    mean_s, cov_s = problem.m0.copy(), problem.S0.copy()
    means, covs = [], []
    for _ in range(steps):
        K = policy.K
        mean_a = K @ mean_s + policy.k
        c_sa = cov_s @ K.T
        cov = np.block([[cov_s, c_sa], [c_sa.T, K @ cov_s @ K.T + policy.cov]])
        means.append(np.concatenate([mean_s, mean_a]))
        covs.append(0.5 * (cov + cov.T))
        mean_s, cov_s = A_pi @ mean_s + b_pi, A_pi @ cov_s @ A_pi.T + W_pi
    return np.array(means), np.array(covs)


def truncation_steps(gamma: float, tail: float) -> int:
    """The smallest ``T`` with ``gamma^T <= tail``: the weight of the mixture terms dropped."""
    if gamma == 0.0:
        return 1
    return max(1, math.ceil(math.log(tail) / math.log(gamma)))


def feature_expectations(moments: Moments) -> np.ndarray:
    """``E_rho[phi] [F]`` (unnormalised, mass ``Z``) of the quadratic features :func:`features`."""
    d = moments.mean.shape[0]
    i, j = np.triu_indices(d)
    return np.concatenate([moments.second[i, j], moments.mean])


def expected_reward(moments: Moments, reward: Quadratic) -> float:
    """``E_rho[r] = <M, second> + g^T mean + c Z`` (unnormalised)."""
    return float(np.sum(reward.M * moments.second) + reward.g @ moments.mean + reward.c * moments.mass)


def expected_kl(problem: LQProblem, policy: LinearGaussian, other: LinearGaussian, moments: Moments | None = None) -> float:
    """``E_{s ~ d_pi}[KL(pi(.|s) || other(.|s))]`` under ``policy``'s own discounted state occupancy
    (unnormalised; divide by ``Z`` for the normalised average). The KL of two Gaussians with means
    differing by ``(K - K') s + (k - k')`` is a quadratic in ``s``, whose expectation is exact."""
    moments = occupancy_moments(problem, policy) if moments is None else moments
    n, m = problem.n, problem.m
    prec = np.linalg.inv(other.cov)
    dK, dk = policy.K - other.K, policy.k - other.k
    x, X = moments.mean[:n], moments.second[:n, :n]
    mahalanobis = np.sum((dK.T @ prec @ dK) * X) + 2.0 * dk @ prec @ dK @ x + moments.mass * dk @ prec @ dk
    _, logdet_other = np.linalg.slogdet(other.cov)
    _, logdet = np.linalg.slogdet(policy.cov)
    per_state = 0.5 * (np.trace(prec @ policy.cov) - m + logdet_other - logdet)
    return float(moments.mass * per_state + 0.5 * mahalanobis)


def class_gap(policy: LinearGaussian, gamma: float) -> float:
    """Exact soft-value loss ``E_mu0[V*(s0) - V^pi(s0)]`` of the best policy with a **diagonal**
    covariance (trirl's policy class) against the soft-optimal ``policy``: by the soft performance
    difference ``V* - V^pi = E_{d_pi}[KL(pi || pi*)]`` it is minimised by the same mean and
    ``diag(cov^{-1})^{-1}``, giving ``Z (sum_i log prec_ii + log det cov) / 2`` (0 iff diagonal)."""
    prec = np.linalg.inv(policy.cov)
    _, logdet = np.linalg.slogdet(policy.cov)
    return float(0.5 * (np.sum(np.log(np.diag(prec))) + logdet) / (1.0 - gamma))


# -- sampling (the Monte Carlo side of the checks) -------------------------------------------------
def rollout(problem: LQProblem, policy: LinearGaussian, episodes: int, steps: int, rng: np.random.Generator):
    """Sample ``episodes`` trajectories of ``steps`` steps: ``(states [N, T, n], actions [N, T, m])``."""
    n, m = problem.n, problem.m
    s = rng.multivariate_normal(problem.m0, problem.S0, size=episodes, method="eigh") if n else np.zeros((episodes, 0))
    L_pi = np.linalg.cholesky(policy.cov)
    L_w = np.linalg.cholesky(problem.W)
    states, actions = np.empty((episodes, steps, n)), np.empty((episodes, steps, m))
    for t in range(steps):
        a = s @ policy.K.T + policy.k + rng.standard_normal((episodes, m)) @ L_pi.T
        states[:, t], actions[:, t] = s, a
        s = s @ problem.A.T + a @ problem.B.T + rng.standard_normal((episodes, n)) @ L_w.T
    return states, actions


def sample_occupancy(problem: LQProblem, policy: LinearGaussian, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` exact samples ``z [size, d]`` of the normalised occupancy ``rho_pi / Z``: draw
    ``t ~ Geometric(1 - gamma) - 1`` and ``z_t`` from the time marginal (forward recursion)."""
    t = rng.geometric(1.0 - problem.gamma, size=size) - 1
    steps = int(t.max()) + 1
    means, covs = time_marginals(problem, policy, steps)
    out = np.empty((size, problem.d))
    for step in np.unique(t):
        idx = np.flatnonzero(t == step)
        out[idx] = rng.multivariate_normal(means[step], covs[step], size=idx.size, method="eigh")
    return out
