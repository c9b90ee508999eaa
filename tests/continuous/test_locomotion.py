"""MJX locomotion on CPU: builds, steps under jit, reward terms and absorbing flags (slow: compiles)."""

import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("mujoco.mjx")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from trirl.continuous import checkpoint, envs  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = [pytest.mark.continuous, pytest.mark.slow]


@pytest.mark.parametrize("name, obs_size, action_size", [("ant", 27, 8), ("humanoid", 270, 17)])
def test_builds_steps_and_truncates(name, obs_size, action_size):
    env = envs.auto_reset(envs.make(name, {"episode_length": 3}))
    assert (env.observation_size, env.action_size) == (obs_size, action_size)
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 2))
    assert state.obs.shape == (2, obs_size)
    restored = checkpoint.unflatten(state, checkpoint.flatten(state))  # mjx.Data checkpoints too
    np.testing.assert_array_equal(restored.physics.qpos, state.physics.qpos)
    step = jax.jit(jax.vmap(env.step))
    for t in range(3):
        state = step(state, jnp.full((2, action_size), 0.2))
        assert np.all(np.isfinite(state.obs))
    assert state.truncated.all() and not state.absorbing.any()  # still healthy after 3 steps
    m = state.metrics
    expected = m["forward_reward"] + m["healthy_reward"] - m["ctrl_cost"]
    np.testing.assert_allclose(state.reward, expected, rtol=1e-5)
    assert state.time.tolist() == [0, 0]


def test_unhealthy_is_absorbing_on_the_disabled_ant():
    # a healthy range above the start height: the first step terminates
    env = envs.make("ant_disabled", {"healthy_z_range": (0.9, 2.0)})
    state = jax.jit(env.step)(jax.jit(env.reset)(jax.random.PRNGKey(0)), jnp.zeros(8))  # jitted: MJX op by op is slow
    assert bool(state.absorbing) and bool(state.done) and not bool(state.truncated)
    assert float(state.metrics["healthy_reward"]) == 0.0


def test_invalid_locomotion_config():
    with pytest.raises(InvalidConfigError, match="healthy_z_range"):
        envs.make_config("ant", {"healthy_z_range": (1.0, 0.5)})
    with pytest.raises(InvalidConfigError, match="solver_iterations"):
        envs.make_config("humanoid", {"solver_iterations": 0})


@pytest.mark.parametrize("terminate_when_unhealthy", [True, False])
def test_non_finite_physics_ends_the_episode_with_a_finite_reward(terminate_when_unhealthy):
    # reported: a reset state with qvel[0] = NaN gave reward = NaN, episode_return = NaN and a
    # silently zeroed observation; right: absorbing, reward 0, the last finite observation,
    # finite metrics and metrics["non_finite"] = 1, whatever terminate_when_unhealthy says
    env = envs.make("ant", {"frame_skip": 1, "terminate_when_unhealthy": terminate_when_unhealthy})
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))  # jitted: MJX op by op is slow
    before = np.asarray(state.obs)
    state = state._replace(physics=state.physics.replace(qvel=state.physics.qvel.at[0].set(jnp.nan)))
    after = jax.jit(env.step)(state, jnp.zeros(8))
    assert bool(after.absorbing) and bool(after.done) and not bool(after.truncated)
    assert float(after.reward) == 0.0 and float(after.episode_return) == 0.0
    np.testing.assert_array_equal(np.asarray(after.next_obs), before)
    assert float(after.metrics["non_finite"]) == 1.0
    assert all(np.isfinite(float(v)) for v in after.metrics.values())


def test_physics_that_blew_up_without_turning_non_finite_ends_the_episode():
    # found: HalfCheetah's expert with solver_iterations = 1 reached |qvel| = 1.9e14 and a return of
    # -2e13 with every number finite; right: |qvel| > max_qvel ends the episode like non-finite
    # physics (absorbing, reward 0), counted in metrics["diverged"] and metrics["non_finite"]
    env = envs.make("hopper", {"frame_skip": 1, "terminate_when_unhealthy": False})
    step = jax.jit(env.step)  # one compilation for the blown-up and the ordinary state
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))  # jitted: MJX op by op takes 20 s
    before = np.asarray(state.obs)
    blown_up = state._replace(physics=state.physics.replace(qvel=state.physics.qvel.at[0].set(5e3)))
    after = step(blown_up, jnp.zeros(env.action_size))
    assert bool(after.absorbing) and float(after.reward) == 0.0
    assert float(after.metrics["diverged"]) == 1.0 and float(after.metrics["non_finite"]) == 1.0
    np.testing.assert_array_equal(np.asarray(after.next_obs), before)
    ordinary = step(state, jnp.zeros(env.action_size))
    assert float(ordinary.metrics["diverged"]) == 0.0 and not bool(ordinary.absorbing)
    # the same state with the bound off runs on
    unbounded = envs.make("hopper", {"frame_skip": 1, "terminate_when_unhealthy": False, "max_qvel": float("inf")})
    after = jax.jit(unbounded.step)(blown_up, jnp.zeros(env.action_size))
    assert not bool(after.absorbing) and float(after.metrics["diverged"]) == 0.0
    assert float(np.abs(after.physics.qvel).max()) > 1e3 and np.all(np.isfinite(np.asarray(after.obs)))
    with pytest.raises(InvalidConfigError, match=r"LocomotionConfig.max_qvel must be > 0 \(inf: no bound\), got 0"):
        envs.make_config("hopper", {"max_qvel": 0})
