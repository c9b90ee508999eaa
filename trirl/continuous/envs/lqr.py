"""Soft LQ control as an environment: random stable linear-Gaussian instances with a quadratic cost.

The continuous problem with closed forms (:mod:`trirl.continuous.lq`), in trirl's :class:`Env`
interface so that every continuous command runs on it and its results can be compared with the
exact answer::

    s_0 ~ N(m0, init_scale^2 I),   s' = A s + B clip(a, -1, 1) + w,   w ~ N(0, noise^2 I)
    r(s, a) = -state_cost ||s||^2 - action_cost ||clip(a, -1, 1)||^2

``A`` (spectral radius ``radius < 1``), ``B`` and ``m0`` are drawn from ``instance`` (a seed) by
:func:`trirl.continuous.lq.random_problem`, in float64, so the instance is the same on every
machine. Observation ``s``; no termination. The discounted tail after the time limit weighs
``gamma^episode_length`` (``discount`` is the instance's discount, the one its expert and the
closed forms use; set ``[ppo] gamma`` to it): the config refuses a time limit whose tail exceeds
``1e-3``.

Where it differs from the closed forms (both measured by :func:`clip_probability` and
:func:`trirl.continuous.lq.class_gap`):

- **the action clip**: the environment executes ``clip(a, -1, 1)`` like every trirl env. With the
  default ``action_cost = 10`` the soft-optimal policy's action standard deviation is below
  ``1 / sqrt(20) = 0.22`` and its states are small, so the clip is hit with a small, computed
  probability;
- **the policy class**: trirl's policy has a diagonal, state-independent covariance; the
  soft-optimal covariance ``(2 action_cost I - 2 gamma B^T P B)^{-1}`` is diagonal only when
  ``B^T P B`` is; the loss of the best diagonal policy is exact (``class_gap``) and small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np

from trirl.continuous import lq
from trirl.continuous.envs.base import Env, EnvSpec, EnvState, initial_state, transition_state
from trirl.errors import InvalidConfigError

VERSION = 1
MAX_TAIL = 1e-3


@dataclass(frozen=True)
class LQRConfig:
    """One random instance of soft LQ control (the defaults are the shipped ``lqr`` task)."""

    state_dim: int = 2  #: n, 1 to 4
    action_dim: int = 2  #: m, 1 to 4
    instance: int = 0  #: seed of A, B and m0
    discount: float = 0.9  #: gamma of the instance (its expert, its closed forms)
    episode_length: int = 200  #: time limit; gamma^episode_length must be <= 1e-3
    radius: float = 0.95  #: spectral radius of A (< 1: open-loop stable)
    noise: float = 0.1  #: standard deviation of the process noise w per coordinate
    init_scale: float = 0.5  #: standard deviation of s_0 per coordinate (and size of its mean)
    state_cost: float = 1.0  #: Q = state_cost I
    action_cost: float = 10.0  #: R = action_cost I

    def __post_init__(self):
        for name in ("state_dim", "action_dim"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 1 <= value <= 4):
                raise InvalidConfigError(f"LQRConfig.{name} must be an integer in 1..4, got {value!r}")
        if not isinstance(self.instance, int):
            raise InvalidConfigError(f"LQRConfig.instance must be an integer seed, got {self.instance!r}")
        if not 0.0 < self.discount < 1.0:
            raise InvalidConfigError(f"LQRConfig.discount must be in (0, 1), got {self.discount!r}")
        if not (isinstance(self.episode_length, int) and self.episode_length >= 1):
            raise InvalidConfigError(f"LQRConfig.episode_length must be an integer >= 1, got {self.episode_length!r}")
        if self.discount**self.episode_length > MAX_TAIL:
            need = lq.truncation_steps(self.discount, MAX_TAIL)
            raise InvalidConfigError(
                f"LQRConfig.episode_length = {self.episode_length} leaves a discounted tail of "
                f"{self.discount ** self.episode_length:.2g} at discount {self.discount}; use at least {need}")
        if not 0.0 <= self.radius < 1.0:
            raise InvalidConfigError(f"LQRConfig.radius must be in [0, 1), got {self.radius!r}")
        for name in ("noise", "init_scale", "state_cost", "action_cost"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InvalidConfigError(f"LQRConfig.{name} must be a finite number > 0, got {value!r}")

    @property
    def name(self) -> str:
        return "lqr"

    @cached_property
    def problem(self) -> lq.LQProblem:
        """The instance's :class:`~trirl.continuous.lq.LQProblem` (float64)."""
        rng = np.random.default_rng(self.instance)
        return lq.random_problem(rng, self.state_dim, self.action_dim, self.discount, self.radius, self.noise,
                                 self.init_scale)

    @property
    def reward(self) -> lq.Quadratic:
        """The true reward ``-state_cost ||s||^2 - action_cost ||a||^2`` as a quadratic in ``z = [s; a]``."""
        return lq.cost_reward(self.state_dim, self.action_dim, self.state_cost, self.action_cost)


def clip_probability(config: LQRConfig, policy: lq.LinearGaussian) -> float:
    """Discounted probability ``(1 - gamma) sum_t gamma^t P(some |a_t,i| > 1)`` (union bound over
    coordinates) that ``policy`` is clipped: exact Gaussian tails of its time marginals."""
    from scipy.stats import norm

    problem = config.problem
    steps = lq.truncation_steps(problem.gamma, 1e-12)
    means, covs = lq.time_marginals(problem, policy, steps)
    n = problem.n
    mean_a, std_a = means[:, n:], np.sqrt(np.diagonal(covs, axis1=1, axis2=2)[:, n:])
    tails = norm.sf((1.0 - mean_a) / std_a) + norm.cdf((-1.0 - mean_a) / std_a)
    weights = (1.0 - problem.gamma) * problem.gamma ** np.arange(steps)
    return float(weights @ np.minimum(tails.sum(axis=1), 1.0))


def make(config: LQRConfig = LQRConfig()) -> Env:
    """The instance as an :class:`Env` (wrap it with ``auto_reset`` for training)."""
    problem = config.problem
    A, B = jnp.asarray(problem.A, jnp.float32), jnp.asarray(problem.B, jnp.float32)
    m0 = jnp.asarray(problem.m0, jnp.float32)
    n = config.state_dim
    spec = EnvSpec(config.name, VERSION, observation_size=n, action_size=config.action_dim,
                   episode_length=config.episode_length)

    def metrics_of(s):
        return {"state_norm": jnp.linalg.norm(s)}

    def reset(key: jax.Array) -> EnvState:
        key, init_key = jax.random.split(key)
        s = m0 + config.init_scale * jax.random.normal(init_key, (n,))
        return initial_state(s, s, key, metrics_of(s))

    def step(state: EnvState, action: jax.Array) -> EnvState:
        key, noise_key = jax.random.split(state.key)
        a = jnp.clip(action, -1.0, 1.0)
        s = state.physics
        reward = -config.state_cost * jnp.sum(s**2) - config.action_cost * jnp.sum(a**2)
        s_next = A @ s + B @ a + config.noise * jax.random.normal(noise_key, (n,))
        out = transition_state(state, s_next, s_next, reward, False, metrics_of(s_next), config.episode_length,
                               jnp.all(jnp.isfinite(s_next)))
        return out._replace(key=key)

    return Env(spec=spec, reset=reset, step=step)


def expert_demonstrations(config: LQRConfig, episodes: int, seed: int):
    """``episodes`` demonstrations of the soft-optimal (temperature 1) policy of the true reward,
    sampled exactly in float64 (:func:`trirl.continuous.lq.rollout`) with the executed, clipped
    action, as :class:`~trirl.continuous.demos.Demonstrations`."""
    from trirl.continuous.demos import Demonstrations

    problem = config.problem
    policy = lq.soft_optimal(problem, config.reward).policy
    rng = np.random.default_rng(seed)
    T, n, m = config.episode_length, problem.n, problem.m
    s = problem.m0 + config.init_scale * rng.standard_normal((episodes, n))
    L = np.linalg.cholesky(policy.cov)
    obs, act, nxt = np.empty((episodes, T, n)), np.empty((episodes, T, m)), np.empty((episodes, T, n))
    rewards = np.empty((episodes, T))
    for t in range(T):
        a = np.clip(s @ policy.K.T + policy.k + rng.standard_normal((episodes, m)) @ L.T, -1.0, 1.0)
        s_next = s @ problem.A.T + a @ problem.B.T + config.noise * rng.standard_normal((episodes, n))
        obs[:, t], act[:, t], nxt[:, t] = s, a, s_next
        rewards[:, t] = -config.state_cost * np.sum(s**2, 1) - config.action_cost * np.sum(a**2, 1)
        s = s_next
    spec = EnvSpec(config.name, VERSION, n, m, T)
    return Demonstrations(obs.astype(np.float32), act.astype(np.float32), nxt.astype(np.float32),
                          np.zeros((episodes, T), bool), rewards.astype(np.float32),
                          np.full(episodes, T, np.int32), rewards.sum(1).astype(np.float32), spec.to_dict())
