"""Soft linear-quadratic control, the problem and its soft-optimal policy: the types (:class:`LQProblem`,
:class:`Quadratic` rewards, :class:`LinearGaussian` policies), the quadratic features ``phi(z)`` and
the soft Riccati fixed point :func:`soft_optimal` (equations: :mod:`trirl.continuous.lq`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg

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
