import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from trirl.continuous import envs  # noqa: E402
from trirl.continuous.envs import point_maze  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = pytest.mark.continuous


def batch_reset(env, key, n=3):
    return jax.jit(jax.vmap(env.reset))(jax.random.split(key, n))


def test_point_maze_shapes_and_spec():
    env = envs.make("point_maze")
    assert (env.observation_size, env.action_size) == (2, 2)
    assert env.spec.to_dict() == {"name": "point_maze", "version": 1, "observation_size": 2,
                                  "action_size": 2, "episode_length": 100}
    state = batch_reset(env, jax.random.PRNGKey(0))
    assert state.obs.shape == (3, 2) and state.done.shape == (3,)
    state = jax.jit(jax.vmap(env.step))(state, jnp.zeros((3, 2)))
    assert state.reward.shape == (3,) and state.time.tolist() == [1, 1, 1]
    assert envs.make("point_maze_mirrored").spec.name == "point_maze_mirrored"


def test_same_key_same_trajectory_and_different_keys_differ():
    env = envs.auto_reset(envs.make("point_maze"))
    step = jax.jit(jax.vmap(env.step))
    actions = jax.random.uniform(jax.random.PRNGKey(5), (20, 3, 2), minval=-1, maxval=1)

    def run(key):
        state = batch_reset(env, key)
        out = []
        for a in actions:
            state = step(state, a)
            out.append(state.obs)
        return np.stack(out)

    np.testing.assert_array_equal(run(jax.random.PRNGKey(1)), run(jax.random.PRNGKey(1)))
    assert not np.allclose(run(jax.random.PRNGKey(1)), run(jax.random.PRNGKey(2)))


def test_auto_reset_truncates_keeps_true_next_obs_and_is_not_absorbing():
    env = envs.auto_reset(envs.make("point_maze", {"episode_length": 5}))
    step = jax.jit(jax.vmap(env.step))
    state = batch_reset(env, jax.random.PRNGKey(0), n=2)
    total = np.zeros(2)
    for t in range(5):
        state = step(state, jnp.tile(jnp.array([[1.0, 0.0]]), (2, 1)))
        total += np.asarray(state.reward)
        assert bool(state.done.all()) == (t == 4)
    assert state.truncated.all() and not state.absorbing.any()
    # the true last observation moved right by 5 full steps; the new obs is a fresh start
    assert np.all(np.asarray(state.next_obs[:, 0]) > 0.5 + 5 * 0.04 - 0.06)
    assert np.all(np.abs(np.asarray(state.obs) - np.array(point_maze.START)) <= 0.05 + 1e-6)
    assert state.time.tolist() == [0, 0]
    np.testing.assert_allclose(state.episode_return, total, rtol=1e-5)  # the finished episode's return
    state = step(state, jnp.zeros((2, 2)))
    assert not state.done.any() and state.time.tolist() == [1, 1]


def test_reaching_the_goal_is_absorbing_when_terminating():
    config = {"terminate_at_goal": True, "wall_length": 0.1, "reset_noise": 0.0}
    env = envs.auto_reset(envs.make("point_maze", config))
    step = jax.jit(env.step)
    state = env.reset(jax.random.PRNGKey(0))
    for _ in range(30):
        state = step(state, jnp.array([0.0, 1.0]))
        if state.done:
            break
    assert bool(state.absorbing) and not bool(state.truncated)
    assert float(jnp.linalg.norm(state.next_obs - jnp.array(point_maze.GOAL))) < 0.05
    np.testing.assert_allclose(state.obs, point_maze.START)


def test_wall_blocks_and_mirror_is_symmetric():
    config = point_maze.PointMazeConfig()
    below = jnp.array([0.3, 0.49])
    after = point_maze.move(config, below, jnp.array([0.0, 1.0]))
    assert float(after[1]) == pytest.approx(0.49)
    mirrored = point_maze.PointMazeConfig(mirrored=True)
    assert float(point_maze.move(mirrored, below, jnp.array([0.0, 1.0]))[1]) > 0.5
    mirror = jnp.array([1.0 - 0.3, 0.49])
    np.testing.assert_allclose(point_maze.move(mirrored, mirror, jnp.array([-0.5, 1.0])),
                               [1.0 - float(point_maze.move(config, below, jnp.array([0.5, 1.0]))[0]), 0.49], atol=1e-6)


def test_reward_is_negative_distance():
    env = envs.make("point_maze", {"reset_noise": 0.0})
    state = jax.jit(env.step)(env.reset(jax.random.PRNGKey(0)), jnp.array([0.0, -1.0]))
    assert float(state.reward) == pytest.approx(-(0.8 - 0.16), abs=1e-6)


@pytest.mark.parametrize("field, value", [("episode_length", 0), ("max_speed", 0.0), ("wall_length", 1.5)])
def test_invalid_point_maze_config_names_the_field(field, value):
    with pytest.raises(InvalidConfigError, match=field):
        envs.make("point_maze", {field: value})


def test_unknown_env_name():
    with pytest.raises(InvalidConfigError, match="unknown environment"):
        envs.make("cheetah")
