"""Non-finite physics never reaches a learner: the environment ends the episode (absorbing, with a
finite reward), counts it in ``metrics["non_finite"]``, and the learners report the count as
``non_finite_steps`` (envs/base.py). The MJX Ant case is in test_locomotion.py (slow)."""

import dataclasses
import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from trirl.continuous import envs  # noqa: E402
from trirl.continuous import trirl as T  # noqa: E402
from trirl.continuous.demos import load_demonstrations  # noqa: E402
from trirl.continuous.discriminator import DiscriminatorConfig  # noqa: E402
from trirl.continuous.envs.base import Env  # noqa: E402
from trirl.continuous.ppo import PPOConfig, make_ppo  # noqa: E402
from trirl.continuous.reward import RewardBufferConfig  # noqa: E402
from trirl.continuous.train import EXPERTS_DIR  # noqa: E402

pytestmark = pytest.mark.continuous

TINY = PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=2, policy_hidden=(8,), value_hidden=(8,))


def corrupted(env: Env, at_time: int = 2) -> Env:
    """``env`` whose physics becomes NaN just before the step taken at ``time == at_time``
    (a simulator blowing up), so the environment's own step sees non-finite physics."""

    def step(state, action):
        bad = state.time == at_time
        physics = jax.tree_util.tree_map(lambda x: jnp.where(bad, jnp.nan, x), state.physics)
        return env.step(state._replace(physics=physics), action)

    return Env(env.spec, env.reset, step)


def _assert_finite_state(state):
    for name in ("obs", "next_obs", "reward", "episode_return"):
        assert np.all(np.isfinite(np.asarray(getattr(state, name)))), name
    for name, value in state.metrics.items():
        assert np.all(np.isfinite(np.asarray(value))), name


@pytest.mark.parametrize("options", [{}, {"terminate_at_goal": True}, {"mirrored": True}])
def test_non_finite_position_ends_the_episode_with_a_finite_reward(options):
    env = envs.make("point_maze", options)
    state = env.reset(jax.random.PRNGKey(0))
    before = np.asarray(state.obs)
    state = jax.jit(env.step)(state._replace(physics=jnp.array([jnp.nan, 0.5])), jnp.zeros(2))
    _assert_finite_state(state)
    assert bool(state.absorbing) and bool(state.done) and not bool(state.truncated)
    assert float(state.reward) == 0.0 and float(state.metrics["non_finite"]) == 1.0
    np.testing.assert_array_equal(np.asarray(state.next_obs), before)  # the last finite observation
    # a finite step counts nothing
    fine = env.step(env.reset(jax.random.PRNGKey(1)), jnp.zeros(2))
    assert float(fine.metrics["non_finite"]) == 0.0 and not bool(fine.absorbing)


def test_auto_reset_starts_a_finite_episode_after_non_finite_physics():
    env = envs.auto_reset(corrupted(envs.make("point_maze", {"episode_length": 50})))
    state = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    flags = []
    for _ in range(8):
        state = step(state, jnp.ones(2))
        _assert_finite_state(state)
        assert np.all(np.isfinite(np.asarray(state.physics)))  # reset, not carried on
        flags.append(float(state.metrics["non_finite"]))
    # time 2 is hit on the 3rd step of every 3-step episode
    assert flags == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def _finite_tree(tree):
    return all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(tree)
               if np.issubdtype(np.asarray(x).dtype, np.floating))


def test_ppo_and_trirl_never_see_nan_from_the_environment():
    env = corrupted(envs.make("point_maze", {"episode_length": 20}), at_time=5)
    ppo = make_ppo(env, TINY)
    state = ppo.init(jax.random.PRNGKey(0))
    step = jax.jit(ppo.step)
    state, metrics = step(state, jax.random.PRNGKey(0), None)
    assert all(np.isfinite(np.asarray(v)) for k, v in metrics.items() if k != "episode_return"), metrics
    assert _finite_tree(state)
    # 4 envs x 8 steps: the step at time 5 (the 6th) meets non-finite physics in each env
    assert float(metrics["non_finite_steps"]) == 4.0

    disc = DiscriminatorConfig(hidden_sizes=(8,), minibatch_size=16, epochs=1, grad_penalty=0.0)
    config = T.TRIRLConfig(
        ppo=dataclasses.replace(TINY, entropy_coef=1.0),  # Eq. 1: 1 / beta for the default beta = 1
        discriminator=disc,
        buffer=RewardBufferConfig(capacity=2, eps=0.5, fit_steps=2, network=disc),  # R_fit shares D's config
    )
    learner = T.make_trirl(env, config, load_demonstrations(EXPERTS_DIR / "point_maze" / "demos.npz"))
    state = learner.init(jax.random.PRNGKey(0))
    step = jax.jit(learner.step)
    state, metrics = step(state, jax.random.PRNGKey(0))
    assert all(np.isfinite(np.asarray(v)) for k, v in metrics.items() if k != "episode_return"), metrics
    assert _finite_tree(state)
    assert float(metrics["non_finite_steps"]) == 4.0
