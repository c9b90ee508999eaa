"""Base features phi(s, a) and the feature-based discriminator (paper Section 5.1, Appendix B)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from trirl.continuous import discriminator as disc  # noqa: E402
from trirl.continuous import envs  # noqa: E402
from trirl.continuous import reward  # noqa: E402
from trirl.continuous import trirl as T  # noqa: E402
from trirl.continuous.demos import load_demonstrations  # noqa: E402
from trirl.continuous.envs import features  # noqa: E402
from trirl.continuous.envs import point_maze  # noqa: E402
from trirl.continuous.ppo import PPOConfig  # noqa: E402
from trirl.continuous.train import CONFIG_DIR, EXPERTS_DIR, load_config  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = pytest.mark.continuous


def test_point_maze_goal_features_are_the_true_reward_terms():
    phi = features.get("point_maze:goal").fn
    obs = jnp.array([[0.5, 0.8], [0.5, 0.2], [0.0, 0.8]])
    action = jnp.array([[0.0, 0.0], [1.0, -1.0], [0.5, 0.0]])
    np.testing.assert_allclose(np.asarray(phi(obs, action)), [[0.0, 0.0], [-0.6, -2.0], [-0.5, -0.25]], atol=1e-6)
    assert features.FEATURE_SETS["point_maze:goal"].size == 2
    assert features._POINT_MAZE_GOAL == point_maze.GOAL  # one goal, two modules


def test_point_maze_rbf_features_peak_at_their_centres_and_know_no_goal():
    rbf = features.get("point_maze:rbf")
    obs = rbf_centres = np.asarray(features._rbf_centres())
    phi = np.asarray(rbf.fn(jnp.asarray(obs), jnp.zeros((len(obs), 2))))
    assert phi.shape == (25, rbf.size) == (25, 27)
    np.testing.assert_allclose(np.diag(phi[:, :25]), 1.0)  # each bump is 1 at its own centre
    assert np.all(phi[:, :25] <= 1.0) and np.all(phi[:, 25:] == 0.0)
    assert not np.any(np.all(rbf_centres == np.asarray(point_maze.GOAL), axis=1))


def test_the_same_features_serve_the_transfer_variant_and_no_other_env():
    assert features.check_env("point_maze:goal", "point_maze_mirrored") is features.get("point_maze:goal")
    with pytest.raises(InvalidConfigError, match="defined for 'point_maze' environments, not for 'ant'"):
        features.check_env("point_maze:goal", "ant")
    with pytest.raises(InvalidConfigError, match="unknown feature set 'maze:goal'"):
        disc.DiscriminatorConfig(features="maze:goal")
    with pytest.raises(InvalidConfigError, match="needs input_mode 'state_action'"):
        disc.DiscriminatorConfig(features="point_maze:goal", input_mode="state_transition")
    with pytest.raises(InvalidConfigError, match="expects observations of size 2"):
        disc.init_params(disc.DiscriminatorConfig(features="point_maze:goal"), jax.random.PRNGKey(0), 27, 8)


def test_linear_feature_discriminator_is_theta_phi_and_the_buffer_stays_linear():
    """hidden_sizes = () makes D = theta^T phi + b (absorbing state: one learnt number); the
    corrected reward of a buffer of such discriminators is linear in phi as well."""
    config = disc.DiscriminatorConfig(hidden_sizes=(), features="point_maze:goal")
    params = disc.init_params(config, jax.random.PRNGKey(0), 2, 2)
    kernel = params["params"]["Dense_0"]["kernel"][:, 0]
    bias = params["params"]["Dense_0"]["bias"][0]
    assert kernel.shape == (3,)  # two features and the absorbing indicator
    obs, action = jnp.array([[0.1, 0.3], [0.9, 0.9]]), jnp.array([[0.2, -0.4], [1.0, 0.0]])
    phi = features.get("point_maze:goal").fn(obs, action)
    np.testing.assert_allclose(np.asarray(disc.logits(config, params, obs, action, jnp.zeros(2))),
                               np.asarray(phi @ kernel[:2] + bias), rtol=1e-6)
    absorbing = disc.logits(config, params, obs, action, jnp.ones(2))
    np.testing.assert_allclose(np.asarray(absorbing), float(kernel[2] + bias), rtol=1e-6)
    buffer_config = reward.RewardBufferConfig(capacity=2, eps=0.5, beta=3.0, network=config)
    state = reward.init(buffer_config, jax.random.PRNGKey(1), 2, 2)
    state = reward.push(state, params, jnp.float32(1.0))
    r = reward.corrected_rewards(buffer_config, state, obs, action, jnp.zeros(2))
    np.testing.assert_allclose(np.asarray(r), 0.5 / 2 * 3.0 * np.asarray(phi @ kernel[:2] + bias), rtol=1e-5)


def test_feature_based_trirl_configs_load_and_step():
    """The shipped feature-based configs build a learner whose reward depends on (s, a) only
    through phi: moving along a level set of phi leaves the learnt reward unchanged."""
    demos = load_demonstrations(EXPERTS_DIR / "point_maze" / "demos.npz")
    for name in ("goal", "rbf"):
        config = load_config(CONFIG_DIR / f"trirl_point_maze_{name}.toml")
        assert config.discriminator.features == f"point_maze:{name}" and config.discriminator.hidden_sizes == ()
    config = load_config(CONFIG_DIR / "trirl_point_maze_goal.toml")
    small = T.TRIRLConfig(
        ppo=PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=2, policy_hidden=(8,),
                      value_hidden=(8,), entropy_coef=config.ppo.entropy_coef),
        discriminator=config.discriminator, buffer=config.learner_config().buffer, trust_region=config.trust_region)
    learner = T.make_trirl(envs.make("point_maze_mirrored", {"episode_length": 10}), small, demos)
    state = learner.init(jax.random.PRNGKey(0))
    for i in range(2):
        state, metrics = jax.jit(learner.step)(state, jax.random.PRNGKey(i))
    assert np.isfinite(float(metrics["disc_loss"]))
    # Same distance to the goal and same action norm, different positions and actions: same reward.
    obs = jnp.array([[0.5, 0.5], [0.2, 0.8]])
    action = jnp.array([[0.6, 0.0], [0.0, -0.6]])
    r = learner.reward(state, obs, action, jnp.zeros(2))
    assert float(r[0]) == pytest.approx(float(r[1]), abs=1e-6)
    assert float(learner.reward(state, obs[:1], action[:1] * 0, jnp.zeros(1))[0]) != pytest.approx(float(r[0]))


def test_ant_paper_features_are_the_true_reward_terms_on_sampled_transitions():
    """On the committed Ant demonstrations (30 x 1,000 sampled expert transitions with their true
    rewards), a least-squares linear reward in ``ant:paper`` of ``(s, a)`` recovers the true reward
    (R^2 > 0.9) with the forward velocity's own weight (1 in the true reward); the same fit with the
    sideways velocity ``obs[14]`` in place of ``obs[13]`` explains far less: the features name the answer."""
    demos = load_demonstrations(EXPERTS_DIR / "ant" / "demos.npz")
    valid = demos.mask
    obs, actions, rewards = demos.observations[valid], demos.actions[valid], demos.rewards[valid]
    phi = np.asarray(features.check_env("ant:paper", "ant").fn(jnp.asarray(obs), jnp.asarray(actions)))

    def fit(x):
        x = np.c_[x, np.ones(len(rewards))]
        theta = np.linalg.lstsq(x, rewards, rcond=None)[0]
        return theta, 1.0 - np.var(rewards - x @ theta) / np.var(rewards)

    theta, r2 = fit(phi)
    assert r2 > 0.9 and 0.8 < theta[0] < 1.2
    np.testing.assert_allclose(phi[:, 1], -np.sum(np.clip(actions, -1, 1) ** 2, axis=1), rtol=1e-6)
    _, r2_sideways = fit(np.c_[obs[:, 14], phi[:, 1:]])
    assert r2_sideways < r2 - 0.2
    generic = np.asarray(features.check_env("ant:generic", "ant_disabled").fn(jnp.asarray(obs), jnp.asarray(actions)))
    clipped = np.clip(actions, -1, 1)
    np.testing.assert_array_equal(generic, np.concatenate([obs, clipped, clipped**2], axis=1))

def test_ant_feature_sets_are_registered_for_both_ants_only():
    for name, size in (("ant:paper", 3), ("ant:generic", 43)):
        assert features.check_env(name, "ant") is features.check_env(name, "ant_disabled") is features.get(name)
        assert features.get(name).size == size
        with pytest.raises(InvalidConfigError, match="defined for 'ant' environments, not for 'humanoid'"):
            features.check_env(name, "humanoid")
    phi = features.get("ant:paper").fn(jnp.arange(27.0), jnp.array([2.0, -2.0, 0.5, 0, 0, 0, 0, 0]))
    np.testing.assert_allclose(np.asarray(phi), [13.0, -2.25, 0.0])  # v_x = obs[13], clipped cost, z = obs[0]
