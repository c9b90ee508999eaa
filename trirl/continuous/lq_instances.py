"""Random stable LQ instances, cost rewards, and the distance between two rewards up to potential
shaping and scale (:func:`reward_distance`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg

from trirl.continuous.lq_riccati import feature_size, LQProblem, Quadratic, theta_from_reward

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
