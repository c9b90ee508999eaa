"""GAIL, AIRL and AMP on the shared PPO: a couple of iterations with finite metrics, rewards
of the documented form."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from trirl.continuous import baselines as B  # noqa: E402
from trirl.continuous import envs  # noqa: E402
from trirl.continuous.demos import load_demonstrations  # noqa: E402
from trirl.continuous.discriminator import DiscriminatorConfig  # noqa: E402
from trirl.continuous.ppo import PPOConfig  # noqa: E402
from trirl.continuous.train import EXPERTS_DIR  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = pytest.mark.continuous


@pytest.fixture(scope="module")
def demos():
    return load_demonstrations(EXPERTS_DIR / "point_maze" / "demos.npz")


@pytest.mark.slow  # compiles and trains
@pytest.mark.parametrize("algo", B.ALGOS)
def test_baseline_runs_with_finite_metrics(algo, demos):
    env = envs.make("point_maze", {"episode_length": 10})
    config = B.BaselineConfig(
        algo=algo,
        ppo=PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=2, policy_hidden=(8,),
                      value_hidden=(8,)),
        discriminator=DiscriminatorConfig(hidden_sizes=(8,), minibatch_size=16, epochs=1, grad_penalty=0.0,
                                          input_mode=B.input_mode(algo)),
    )
    learner = B.make_baseline(env, config, demos)
    state = jax.vmap(learner.init)(jax.random.split(jax.random.PRNGKey(0), 2))
    step = jax.jit(jax.vmap(learner.step))
    for i in range(2):
        state, metrics = step(state, jax.random.split(jax.random.PRNGKey(i), 2))
    for name in ("policy_kl", "disc_loss", "expert_accuracy", "agent_accuracy", "reward_mean", "absorbing_reward"):
        assert np.all(np.isfinite(np.asarray(metrics[name]))), name
    assert np.all(np.isfinite(np.asarray(metrics["episode_return"])))  # 10-step episodes end in 8-step rollouts
    reward = jax.vmap(learner.reward, in_axes=(0, None, None, None))(state, jnp.ones((3, 2)), jnp.ones((3, 2)),
                                                                        jnp.zeros(3))
    assert reward.shape == (2, 3) and np.all(np.isfinite(reward))
    if algo == "gail":
        assert np.all(reward <= 0)  # log sigmoid(D)
    if algo == "amp":
        assert np.all(reward >= 0)  # max(0, 1 - (D - 1)^2 / 4)


def test_amp_reward_and_loss_by_hand():
    np.testing.assert_allclose(B.amp_reward(jnp.array([1.0, -1.0, 3.0, 5.0])), [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(B.amp_reward(jnp.array([0.0])), [0.75])


def test_unknown_algo():
    with pytest.raises(InvalidConfigError, match="BaselineConfig.algo"):
        B.BaselineConfig(algo="bc")
