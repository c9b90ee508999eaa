"""The lqr environment (JAX) against the closed forms of trirl.continuous.lq."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trirl.continuous import envs, lq
from trirl.continuous.envs import features
from trirl.continuous.envs.lqr import LQRConfig, clip_probability

pytestmark = [pytest.mark.slow, pytest.mark.continuous]


def test_quadratic_features_match_the_closed_forms():
    rng = np.random.default_rng(0)
    for n, m in ((2, 2), (1, 3), (4, 4)):
        name = "lqr:quadratic" if (n, m) == (2, 2) else f"lqr:quadratic_{n}x{m}"
        feature_set = features.get(name)
        obs, action = rng.standard_normal((6, n)), 0.5 * rng.standard_normal((6, m))
        phi = np.asarray(feature_set.fn(jnp.asarray(obs), jnp.asarray(action)))
        np.testing.assert_allclose(phi, lq.features(np.concatenate([obs, np.clip(action, -1, 1)], 1)), rtol=1e-6)
        assert feature_set.size == lq.feature_size(n + m) == phi.shape[1]


def test_env_rollouts_match_the_closed_form_occupancy():
    """The JAX environment, driven by the exact soft-optimal policy, gives discounted feature sums
    and true-reward returns whose means agree with the closed forms within 5 standard errors (the
    clip probability, computed exactly, is 3e-5 here and below the statistical error)."""
    config = LQRConfig()
    problem = config.problem
    policy = lq.soft_optimal(problem, config.reward).policy
    assert clip_probability(config, policy) < 1e-4
    env = envs.make("lqr", {})
    K, k = jnp.asarray(policy.K, jnp.float32), jnp.asarray(policy.k, jnp.float32)
    chol = jnp.asarray(np.linalg.cholesky(policy.cov), jnp.float32)
    steps, episodes, gamma = 150, 2000, problem.gamma

    def episode(key):
        reset_key, act_key = jax.random.split(key)

        def body(state, step_key):
            action = K @ state.obs + k + chol @ jax.random.normal(step_key, k.shape)
            z = jnp.concatenate([state.obs, jnp.clip(action, -1.0, 1.0)])
            i, j = jnp.triu_indices(z.shape[0])
            phi = jnp.concatenate([z[i] * z[j], z])
            state = env.step(state, action)
            return state, (phi, state.reward)

        _, (phi, reward) = jax.lax.scan(body, env.reset(reset_key), jax.random.split(act_key, steps))
        weights = gamma ** jnp.arange(steps)
        return weights @ phi, weights @ reward

    phi_sums, returns = jax.jit(jax.vmap(episode))(jax.random.split(jax.random.PRNGKey(0), episodes))
    sums = np.concatenate([np.asarray(phi_sums, float), np.asarray(returns, float)[:, None]], axis=1)
    moments = lq.occupancy_moments(problem, policy)
    exact = np.append(lq.feature_expectations(moments), lq.expected_reward(moments, config.reward))
    error = sums.std(axis=0, ddof=1) / math.sqrt(episodes)
    assert np.all(np.abs(sums.mean(axis=0) - exact) <= 5.0 * error + 1e-3 * np.maximum(1.0, np.abs(exact)))


def test_lqr_registered():
    assert "lqr" in envs.ENV_NAMES
    env = envs.make("lqr", {"state_dim": 3, "action_dim": 1})
    state = env.step(env.reset(jax.random.PRNGKey(0)), jnp.zeros(1))
    assert state.obs.shape == (3,) and bool(jnp.isfinite(state.reward))
    features.check_env("lqr:quadratic_3x1", "lqr")
