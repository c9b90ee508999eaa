"""Soft linear-quadratic control: the exact continuous problem the continuous half is checked against.

The problem (float64 numpy/scipy throughout; ``n`` state and ``m`` action dimensions, ``z = [s; a]``
of size ``d = n + m``)::

    s_0 ~ N(m0, S0),     s' = A s + B a + w,   w ~ N(0, W),   discount gamma in [0, 1)
    r(s, a) = z^T M z + g^T z + c                  (a :class:`Quadratic` in z)
    pi(a | s) = N(K s + k, Sigma)                   (a :class:`LinearGaussian` policy)

Soft (max-ent) RL with temperature 1 as everywhere in trirl (DESIGN.md):
``Q = r + gamma E[V(s')]``, ``V = log int exp Q da``, ``log pi = Q - V``.

What is exact here (closed form, up to rounding) and where each formula comes from:

- :func:`soft_optimal` (soft Riccati fixed point). With ``V(s) = s^T P s + p^T s + v`` the
  Q-function is the quadratic ``Q(z) = z^T H z + h^T z + q`` with ``H = M + gamma F^T P F``,
  ``F = [A B]``, ``h = g + gamma F^T p``, ``q = c + gamma (tr(P W) + v)``. If the action block
  ``H_aa`` is negative definite, ``exp Q`` is a Gaussian in ``a``: ``pi = N(K s + k, Sigma)`` with
  ``Sigma = (-2 H_aa)^{-1}``, ``K = -H_aa^{-1} H_as``, ``k = -H_aa^{-1} h_a / 2`` (state-independent
  covariance), and integrating it out gives the Riccati-type map
  ``P <- H_ss - H_sa H_aa^{-1} H_as`` (the Schur complement), ``p = g_s + K^T g_a + gamma (A + B K)^T p``
  (a linear solve) and ``v = [c + gamma tr(P W) + k^T Sigma^{-1} k / 2 + log det(2 pi Sigma) / 2] / (1 - gamma)``.
  ``P`` is found by iterating the map from ``P = 0`` (soft value iteration restricted to
  quadratics; it converges whenever the soft value is finite). The LQR texts' (Kalman; for the
  soft version Levine 2018, "RL and control as probabilistic inference", Sec. 3) sign is flipped:
  rewards, not costs.
- :func:`occupancy_moments` (discounted Lyapunov equations). Under ``pi`` the state follows
  ``s' = A_pi s + b_pi + noise`` with ``A_pi = A + B K``, ``b_pi = B k``, noise covariance
  ``W_pi = B Sigma B^T + W``. The unnormalised discounted moments ``x = sum_t gamma^t E[s_t]`` and
  ``X = sum_t gamma^t E[s_t s_t^T]`` solve ``x = m0 + gamma (A_pi x + Z b_pi)`` and
  ``X = gamma A_pi X A_pi^T + S0 + m0 m0^T + gamma (A_pi x b_pi^T + b_pi x^T A_pi^T + Z (b_pi b_pi^T + W_pi))``
  (``Z = 1 / (1 - gamma)``, the occupancy's mass), finite iff ``sqrt(gamma) rho(A_pi) < 1``.
  The action moments follow from ``a = K s + k + noise``.
- :func:`feature_expectations`: ``E_rho[phi]`` for the quadratic features :func:`features`
  (monomials ``z_i z_j, i <= j`` then ``z_i``) are entries of these moments.
- :func:`dual_feature_matching` ``G_inf(theta) = E_mu0[V_theta(s_0)] - theta^T E_rhoE[phi]``
  (the ``beta -> infinity`` limit of the dual with a reward linear in ``phi``, Ziebart's MCE-IRL
  dual) and its gradient ``E_rho_theta[phi] - E_rhoE[phi]``: exact.
- :func:`dual` ``G_beta(theta)`` (DESIGN.md's dual restricted to ``r = theta^T phi``):
  ``G = E_mu0[V_theta(s_0)] + beta Z log E_{p_E}[exp(-r / beta)]`` with ``p_E = rho_E / Z``. The
  normalised occupancy is the mixture ``p_E = sum_t (1 - gamma) gamma^t N(m_t, S_t)`` of the
  expert's time marginals of ``z``; each term's ``E[exp(-r / beta)]`` is a Gaussian integral
  (:func:`_log_gaussian_expectation`), so ``G`` is exact up to cutting the sum after ``T`` terms,
  chosen so that the dropped weight ``gamma^T`` is below ``tail`` (stated in the result). Its
  gradient is ``E_rho_theta[phi] - Z E_q[phi]`` with ``q ∝ p_E exp(-r / beta)``, whose moments are
  the tilted Gaussians' moments weighted per term.
- :func:`trust_region_policy` (Lemma 3.1): ``log pi_old`` of a linear-Gaussian policy is a
  quadratic in ``z``, so ``r_eta = (r + eta log pi_old) / (1 + eta)`` is quadratic and its soft-optimal
  policy is again linear-Gaussian. :func:`corrected_reward` is Theorem 3.2's ``U_{eps/(1+eta)} r``.
- :func:`trirl_step`: the exact TRIRL iteration in feature space, with the discriminator's target
  replaced by the Gaussian log-ratio :func:`gaussian_log_ratio` (below).

What is **not** exact: the discriminator's target ``log(rho_E / rho_pi)`` is a log-ratio of two
discounted Gaussian mixtures, not a quadratic, so Eq. 2 leaves the quadratic class. The exact
feature-space iteration uses instead the log-ratio of the two occupancies' moment-matched
Gaussians (same mass, mean and covariance as ``rho_E`` and ``rho_pi``), which is quadratic and
equals the true log-ratio whenever both occupancies are Gaussian (e.g. both start in their
stationary distribution). The true log-ratio at given points is :func:`mixture_log_ratio` (the
mixture densities summed to ``gamma^T <= tail``, exact to that truncation); a logistic
discriminator's population optimum is estimated by Monte Carlo (:func:`sample_occupancy`, exact
samples, error ``O(1/sqrt(N))``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg
import scipy.special
import scipy.stats

from trirl.errors import InvalidConfigError

LOG_2PI = math.log(2.0 * math.pi)


class NotSoftSolvableError(ValueError):
    """The reward has no finite soft value (``H_aa`` not negative definite, or the soft value
    iteration diverges): the dual is ``+inf`` there."""


class Quadratic(NamedTuple):
    """``f(z) = z^T M z + g^T z + c`` with ``M`` symmetric ``[d, d]``, ``g [d]``, ``c []``."""

    M: np.ndarray
    g: np.ndarray
    c: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Values at ``z [..., d]``."""
        return np.einsum("...i,ij,...j->...", z, self.M, z) + z @ self.g + self.c

    def __add__(self, other: Quadratic) -> Quadratic:
        return Quadratic(self.M + other.M, self.g + other.g, self.c + other.c)

    def scale(self, alpha: float) -> Quadratic:
        return Quadratic(alpha * self.M, alpha * self.g, alpha * self.c)


class LinearGaussian(NamedTuple):
    """``pi(a | s) = N(K s + k, cov)``: ``K [m, n]``, ``k [m]``, ``cov [m, m]`` (state-independent)."""

    K: np.ndarray
    k: np.ndarray
    cov: np.ndarray


class LQProblem(NamedTuple):
    """A discounted LQ problem: dynamics, noise, initial distribution and discount."""

    A: np.ndarray  #: [n, n]
    B: np.ndarray  #: [n, m]
    W: np.ndarray  #: [n, n] positive definite noise covariance
    m0: np.ndarray  #: [n] initial mean
    S0: np.ndarray  #: [n, n] initial covariance (positive semi-definite)
    gamma: float

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def m(self) -> int:
        return self.B.shape[1]

    @property
    def d(self) -> int:
        return self.n + self.m

    @property
    def mass(self) -> float:
        """``Z = 1 / (1 - gamma)``, the mass of a discounted occupancy."""
        return 1.0 / (1.0 - self.gamma)


def check_problem(problem: LQProblem) -> LQProblem:
    """Validate shapes, symmetry and definiteness, naming the bad field."""
    n, m = problem.A.shape[0], problem.B.shape[1] if problem.B.ndim == 2 else -1
    expected = {"A": (n, n), "B": (n, m), "W": (n, n), "m0": (n,), "S0": (n, n)}
    for name, shape in expected.items():
        value = np.asarray(getattr(problem, name))
        if value.shape != shape or not np.all(np.isfinite(value)):
            raise InvalidConfigError(f"LQProblem.{name} must be a finite array of shape {shape}, got {value.shape}")
    if not 0.0 <= problem.gamma < 1.0:
        raise InvalidConfigError(f"LQProblem.gamma must be in [0, 1), got {problem.gamma}")
    for name, strict in (("W", True), ("S0", False)):
        value = np.asarray(getattr(problem, name))
        if not np.allclose(value, value.T) or np.min(np.linalg.eigvalsh(value)) < (1e-12 if strict else -1e-12):
            kind = "positive definite" if strict else "positive semi-definite"
            raise InvalidConfigError(f"LQProblem.{name} must be symmetric {kind}")
    return problem


# -- quadratic features ---------------------------------------------------------------------------
def feature_size(d: int) -> int:
    """``F = d (d + 1) / 2 + d``: the monomials ``z_i z_j (i <= j)`` then ``z_i``."""
    return d * (d + 1) // 2 + d


def features(z: np.ndarray) -> np.ndarray:
    """``phi(z) [..., F]`` for ``z [..., d]``: ``z_i z_j`` for ``i <= j`` (row-major) then ``z_i``.

    The same map as the ``lqr:quadratic`` feature set of :mod:`trirl.continuous.envs.features`
    (one definition there for JAX, this one for numpy; a test keeps them equal)."""
    d = z.shape[-1]
    i, j = np.triu_indices(d)
    return np.concatenate([z[..., i] * z[..., j], z], axis=-1)


def reward_from_theta(theta: np.ndarray, d: int, bias: float = 0.0) -> Quadratic:
    """The quadratic ``theta^T phi(z) + bias`` (off-diagonal weights split over ``M_ij = M_ji``)."""
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (feature_size(d),):
        raise InvalidConfigError(f"theta must have shape ({feature_size(d)},) for d = {d}, got {theta.shape}")
    i, j = np.triu_indices(d)
    q = theta[: len(i)]
    M = np.zeros((d, d))
    M[i, j] = np.where(i == j, q, q / 2.0)
    M[j, i] = M[i, j]
    return Quadratic(M, theta[len(i):].copy(), float(bias))


def theta_from_reward(reward: Quadratic) -> tuple[np.ndarray, float]:
    """Inverse of :func:`reward_from_theta`: ``(theta [F], bias)``."""
    d = reward.g.shape[0]
    i, j = np.triu_indices(d)
    q = np.where(i == j, reward.M[i, j], 2.0 * reward.M[i, j])
    return np.concatenate([q, reward.g]), float(reward.c)


def log_policy(policy: LinearGaussian) -> Quadratic:
    """``log pi(a | s)`` as a quadratic in ``z``: with ``L = [-K, I]``,
    ``-(L z - k)^T cov^{-1} (L z - k) / 2 - log det(2 pi cov) / 2``."""
    m, n = policy.K.shape
    L = np.concatenate([-policy.K, np.eye(m)], axis=1)
    prec = np.linalg.inv(policy.cov)
    _, logdet = np.linalg.slogdet(policy.cov)
    return Quadratic(-0.5 * L.T @ prec @ L, L.T @ prec @ policy.k,
                     float(-0.5 * policy.k @ prec @ policy.k - 0.5 * (m * LOG_2PI + logdet)))


# -- soft-optimal policy ----------------------------------------------------------------------------
class SoftSolution(NamedTuple):
    """Soft-optimal policy and soft value ``V(s) = s^T P s + p^T s + v``."""

    policy: LinearGaussian
    P: np.ndarray  #: [n, n]
    p: np.ndarray  #: [n]
    v: float
    iterations: int  #: Riccati iterations used

    def value(self, s: np.ndarray) -> np.ndarray:
        return np.einsum("...i,ij,...j->...", s, self.P, s) + s @ self.p + self.v


def _greedy(problem: LQProblem, reward: Quadratic, P: np.ndarray, p: np.ndarray):
    """One soft Bellman backup of ``V = s^T P s + p^T s`` (+ constants): ``(H, h, K, cov)``."""
    n = problem.n
    F = np.concatenate([problem.A, problem.B], axis=1)
    H = reward.M + problem.gamma * F.T @ P @ F
    H = 0.5 * (H + H.T)
    h = reward.g + problem.gamma * F.T @ p
    Haa = H[n:, n:]
    eig = np.linalg.eigvalsh(Haa)
    if not np.all(eig < 0):
        raise NotSoftSolvableError(f"H_aa is not negative definite (largest eigenvalue {eig.max():.3g}): "
                                   "exp Q is not integrable in the action")
    K = -np.linalg.solve(Haa, H[n:, :n])
    cov = np.linalg.inv(-2.0 * Haa)
    return H, h, K, 0.5 * (cov + cov.T)


def _riccati_map(problem: LQProblem, reward: Quadratic, P: np.ndarray) -> np.ndarray:
    """One soft value-iteration step of the quadratic part: the Schur complement ``H_ss - H_sa H_aa^{-1} H_as``."""
    n = problem.n
    H, _, _, _ = _greedy(problem, reward, P, np.zeros(n))
    new = H[:n, :n] - H[:n, n:] @ np.linalg.solve(H[n:, n:], H[n:, :n])
    return 0.5 * (new + new.T)


def _stabilising_riccati(problem: LQProblem, reward: Quadratic) -> np.ndarray | None:
    """The stabilising solution of the discounted DARE (scipy) in the cost form ``X = -P``
    (``A~ = sqrt(gamma) A``, ``B~ = sqrt(gamma) B``, costs ``-M``), or None where it does not apply.

    Value iteration from ``P = 0`` needs ``M_aa`` negative definite at its first step; a reward
    whose action curvature is positive but whose future value makes ``Q`` concave in ``a`` (TRIRL's
    intermediate rewards can be such) still has a finite soft value, which this finds."""
    n, root = problem.n, math.sqrt(problem.gamma)
    cost = -reward.M
    try:
        X = scipy.linalg.solve_discrete_are(root * problem.A, root * problem.B, cost[:n, :n], cost[n:, n:],
                                            s=cost[:n, n:])
    except (np.linalg.LinAlgError, ValueError):
        return None
    return None if not np.all(np.isfinite(X)) else -0.5 * (X + X.T)


def soft_optimal(problem: LQProblem, reward: Quadratic, tol: float = 1e-12, max_iterations: int = 100_000) -> SoftSolution:
    """The soft-optimal (temperature 1) policy of ``reward`` and its soft value (module docstring).

    ``P`` is the limit of soft value iteration from ``P = 0`` (monotone in the horizon); where its
    first steps are undefined, the stabilising DARE solution, accepted only if it is a fixed point
    with ``H_aa`` negative definite and a discounted-stable closed loop. Raises
    :class:`NotSoftSolvableError` if the soft value is infinite; ``InvalidConfigError`` names a bad
    field of ``problem`` (:func:`check_problem`) or a reward of the wrong size."""
    check_problem(problem)
    if reward.M.shape != (problem.d, problem.d) or reward.g.shape != (problem.d,):
        raise InvalidConfigError(f"reward: M must be [{problem.d}, {problem.d}] and g [{problem.d}] for n = {problem.n}, "
                                 f"m = {problem.m}; got {reward.M.shape} and {reward.g.shape}")
    n = problem.n
    P = np.zeros((n, n))
    zero = np.zeros(n)
    iteration = 0
    try:
        for iteration in range(1, max_iterations + 1):
            new = _riccati_map(problem, reward, P)
            change = np.max(np.abs(new - P))
            P = new
            if not np.all(np.isfinite(P)) or change > 1e12:
                raise NotSoftSolvableError("soft Riccati iteration diverges: the soft value is infinite")
            if change <= tol * max(1.0, np.max(np.abs(P))):
                break
        else:
            raise NotSoftSolvableError(f"soft Riccati iteration did not converge in {max_iterations} iterations")
    except NotSoftSolvableError as err:
        P = _stabilising_riccati(problem, reward)
        if P is None:
            raise err
        try:
            fixed = np.max(np.abs(_riccati_map(problem, reward, P) - P)) <= 1e-8 * max(1.0, np.max(np.abs(P)))
            _, _, K, _ = _greedy(problem, reward, P, zero)
        except NotSoftSolvableError:
            raise err from None
        radius = np.max(np.abs(np.linalg.eigvals(problem.A + problem.B @ K)))
        if not fixed or math.sqrt(problem.gamma) * radius >= 1.0:
            raise err
    _, _, K, cov = _greedy(problem, reward, P, zero)
    closed = problem.A + problem.B @ K
    gs, ga = reward.g[:n], reward.g[n:]
    p = np.linalg.solve(np.eye(n) - problem.gamma * closed.T, gs + K.T @ ga)
    _, h, _, _ = _greedy(problem, reward, P, p)
    H_aa = reward.M[n:, n:] + problem.gamma * problem.B.T @ P @ problem.B
    k = -0.5 * np.linalg.solve(H_aa, h[n:])
    prec = -2.0 * H_aa
    _, logdet = np.linalg.slogdet(2.0 * math.pi * cov)
    v = (reward.c + problem.gamma * np.trace(P @ problem.W) + 0.5 * k @ prec @ k + 0.5 * logdet) / (1.0 - problem.gamma)
    return SoftSolution(LinearGaussian(K, k, cov), P, p, float(v), iteration)


def soft_riccati_residual(problem: LQProblem, reward: Quadratic, solution: SoftSolution) -> float:
    """Largest violation of the soft Bellman equation ``V(s) = log int exp(r + gamma E V(s')) da``
    in the coefficients of ``V`` (relative to ``max(1, |coefficients|)``), by an independent
    evaluation: the Gaussian integral over ``a`` done numerically on the quadratic's blocks."""
    n = problem.n
    H, h, K, cov = _greedy(problem, reward, solution.P, solution.p)
    q = reward.c + problem.gamma * (np.trace(solution.P @ problem.W) + solution.v)
    Haa, Has, ha = H[n:, n:], H[n:, :n], h[n:]
    P_new = H[:n, :n] - Has.T @ np.linalg.solve(Haa, Has)
    p_new = h[:n] - Has.T @ np.linalg.solve(Haa, ha)
    v_new = q - 0.25 * ha @ np.linalg.solve(Haa, ha) + 0.5 * problem.m * LOG_2PI - 0.5 * np.linalg.slogdet(-2.0 * Haa)[1]
    scale = max(1.0, np.max(np.abs(solution.P)), np.max(np.abs(solution.p), initial=0.0), abs(solution.v))
    return float(max(np.max(np.abs(P_new - solution.P)), np.max(np.abs(p_new - solution.p), initial=0.0),
                     abs(v_new - solution.v)) / scale)


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
    """DESIGN.md's dual for ``r = theta^T phi + bias``:
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


def random_problem(rng: np.random.Generator, n: int, m: int, gamma: float = 0.9, radius: float = 0.95,
                   noise: float = 0.1, init_scale: float = 0.5) -> LQProblem:
    """A random stable instance: ``A`` with spectral radius ``radius`` (< 1, so every bounded-gain
    policy keeps finite moments), Gaussian ``B / sqrt(n)``, isotropic noise ``noise^2 I`` and start
    ``N(0, init_scale^2 I)`` plus a random mean of size ``init_scale``."""
    A = rng.standard_normal((n, n))
    A *= radius / max(np.max(np.abs(np.linalg.eigvals(A))), 1e-12)
    B = rng.standard_normal((n, m)) / math.sqrt(n)
    return LQProblem(A, B, noise**2 * np.eye(n), init_scale * rng.standard_normal(n) / math.sqrt(n),
                     init_scale**2 * np.eye(n), float(gamma))


def cost_reward(n: int, m: int, state_cost: np.ndarray | float, action_cost: np.ndarray | float) -> Quadratic:
    """``r(s, a) = -s^T Q s - a^T R a`` (``Q``, ``R`` matrices or isotropic scalars)."""
    Q = state_cost * np.eye(n) if np.ndim(state_cost) == 0 else np.asarray(state_cost, float)
    R = action_cost * np.eye(m) if np.ndim(action_cost) == 0 else np.asarray(action_cost, float)
    return Quadratic(-scipy.linalg.block_diag(Q, R), np.zeros(n + m), 0.0)



# -- rewards up to shaping and scale ---------------------------------------------------------------
def shaping_basis(problem: LQProblem) -> np.ndarray:
    """``[F, n (n + 1) / 2 + n]``: the feature weights of ``gamma E[Phi(s') | s, a] - Phi(s)`` for each
    potential ``Phi(s) = s_i s_j`` (``i <= j``) and ``Phi(s) = s_i``. Shaping by any quadratic
    potential is a combination of these columns plus a constant (the bias), and leaves every
    soft-optimal policy unchanged (Ng et al. 1999), so rewards are compared modulo their span."""
    n, gamma = problem.n, problem.gamma
    F = np.concatenate([problem.A, problem.B], axis=1)
    columns = []
    for i, j in zip(*np.triu_indices(n)):
        P = np.zeros((n, n))
        P[i, j] = P[j, i] = 1.0 if i == j else 0.5
        M = gamma * F.T @ P @ F
        M[:n, :n] -= P
        columns.append(theta_from_reward(Quadratic(M, np.zeros(problem.d), 0.0))[0])
    for i in range(n):
        p = np.zeros(n)
        p[i] = 1.0
        g = gamma * F.T @ p
        g[:n] -= p
        columns.append(theta_from_reward(Quadratic(np.zeros((problem.d, problem.d)), g, 0.0))[0])
    return np.array(columns).T if columns else np.zeros((feature_size(problem.d), 0))


class RewardDistance(NamedTuple):
    residual: float  #: relative residual in [0, 1]: 0 = equal up to shaping and scale
    scale: float  #: best alpha in ``theta_true ~ alpha theta_learnt + shaping``


def reward_distance(problem: LQProblem, theta_true: np.ndarray, theta_learnt: np.ndarray,
                    feature_cov: np.ndarray) -> RewardDistance:
    """``min_{alpha, shaping} std_E(r_true - alpha r_learnt - shaping) / min_{shaping} std_E(r_true - shaping)``.

    ``std_E`` is the standard deviation under the expert's normalised occupancy, given by the
    feature covariance ``feature_cov [F, F]`` (constants drop out, so the bias is free). Both
    minimisations are weighted least squares over :func:`shaping_basis`. ``alpha`` may come out
    negative: a reward of the wrong sign shows as a residual near 1 only when its fit is poor, so
    read ``scale`` too."""
    S = shaping_basis(problem)
    root = scipy.linalg.sqrtm(0.5 * (feature_cov + feature_cov.T)).real
    target = root @ theta_true

    def residual(columns: np.ndarray) -> tuple[float, np.ndarray]:
        coef, *_ = np.linalg.lstsq(root @ columns, target, rcond=None)
        return float(np.linalg.norm(target - root @ columns @ coef)), coef

    base, _ = residual(S)
    full, coef = residual(np.concatenate([theta_learnt[:, None], S], axis=1))
    return RewardDistance(full / base if base > 0 else 0.0, float(coef[0]))


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
