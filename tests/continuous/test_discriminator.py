"""Tests of the density-ratio discriminator (trirl.continuous.discriminator)."""

import dataclasses

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from trirl.continuous import discriminator as disc  # noqa: E402
from trirl.errors import InvalidConfigError, InvalidDemonstrationError  # noqa: E402

pytestmark = pytest.mark.continuous

SMALL = disc.DiscriminatorConfig(hidden_sizes=(16, 16), epochs=2, minibatch_size=32)


def _batch(key, n, obs_dim, other_dim, shift=0.0, absorbing=None):
    k1, k2 = jax.random.split(key)
    return disc.DiscriminatorBatch(
        obs=jax.random.normal(k1, (n, obs_dim)) + shift,
        action_or_next_obs=jax.random.normal(k2, (n, other_dim)) + shift,
        absorbing=jnp.zeros(n) if absorbing is None else absorbing,
    )


def test_logits_converge_to_the_log_density_ratio_of_two_gaussians():
    """Expert x ~ N(mu, I), agent x ~ N(0, I) on x = (s, s'): log ratio = mu.x - |mu|^2 / 2.

    Run in ``state_transition`` mode; the same compiled ``update`` also checks determinism
    (``state_action`` mode differs only in what the caller passes as the second input).
    """
    config = disc.DiscriminatorConfig(
        hidden_sizes=(32, 32), input_mode="state_transition", learning_rate=3e-3, grad_penalty=0.0,
        epochs=20, minibatch_size=256,
    )
    k_expert, k_agent, k_init, k_update, k_eval = jax.random.split(jax.random.PRNGKey(0), 5)
    mu = jnp.array([0.6, -0.4])
    n = 4096
    x_expert = jax.random.normal(k_expert, (n, 2)) + mu
    x_agent = jax.random.normal(k_agent, (n, 2))
    expert = disc.DiscriminatorBatch(x_expert[:, :1], x_expert[:, 1:], jnp.zeros(n))
    agent = disc.DiscriminatorBatch(x_agent[:, :1], x_agent[:, 1:], jnp.zeros(n))
    state = disc.init(config, k_init, obs_dim=1, input_dim=1)
    update = jax.jit(disc.update, static_argnums=0)
    state_after, metrics = update(config, state, expert, agent, k_update)

    # Evaluate where both densities have mass (between the two means).
    x = jax.random.normal(k_eval, (2000, 2)) + mu / 2
    true_log_ratio = x @ mu - mu @ mu / 2
    estimate = disc.logits(config, state_after.params, x[:, :1], x[:, 1:], jnp.zeros(2000))
    assert estimate.shape == (2000,)
    rmse = float(jnp.sqrt(jnp.mean((estimate - true_log_ratio) ** 2)))
    assert rmse < 0.2, rmse
    assert np.corrcoef(estimate, true_log_ratio)[0, 1] > 0.97
    # The Bayes accuracy of this pair is Phi(|mu| / 2) ~ 0.64.
    assert 0.55 < float(metrics.expert_accuracy) < 0.75

    again, _ = update(config, state, expert, agent, k_update)
    for a, b in zip(jax.tree.leaves(state_after.params), jax.tree.leaves(again.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_gradient_penalty_is_nonnegative_and_zero_weight_gives_the_plain_loss():
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    expert = _batch(keys[0], 64, 3, 2, shift=0.5)
    agent = _batch(keys[1], 64, 3, 2)
    params = disc.init_params(SMALL, keys[2], 3, 2)
    plain_config = dataclasses.replace(SMALL, grad_penalty=0.0)

    @jax.jit  # one compilation for everything this test evaluates
    def evaluate(params):
        return (
            disc.loss(SMALL, params, expert, agent),
            disc.loss(plain_config, params, expert, agent),
            disc.logits(SMALL, params, *expert),
            disc.logits(SMALL, params, *agent),
        )

    (total, metrics), (plain, plain_metrics), expert_logits, agent_logits = evaluate(params)
    assert float(metrics.grad_penalty) > 0.0
    np.testing.assert_allclose(
        float(total), float(metrics.logistic_loss + SMALL.grad_penalty * metrics.grad_penalty), rtol=1e-6
    )
    assert float(plain) == float(plain_metrics.logistic_loss) == float(metrics.logistic_loss)
    # The balanced logistic loss by hand: softplus(-D) on expert, softplus(D) on agent samples.
    by_hand = np.mean(np.log1p(np.exp(-np.asarray(expert_logits)))) + np.mean(
        np.log1p(np.exp(np.asarray(agent_logits)))
    )
    np.testing.assert_allclose(float(plain), by_hand, rtol=1e-5)


def test_state_transition_mode_shapes_and_validation():
    config = dataclasses.replace(SMALL, input_mode="state_transition")
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    params = disc.init_params(config, keys[0], obs_dim=4, input_dim=4)
    agent = _batch(keys[1], 12, 4, 4)
    assert disc.logits(config, params, *agent).shape == (12,)
    assert disc.logits(config, params, agent.obs[0], agent.action_or_next_obs[0], agent.absorbing[0]).shape == ()
    with pytest.raises(InvalidConfigError, match="state_transition"):
        disc.init(config, keys[0], obs_dim=4, input_dim=2)
    with pytest.raises(InvalidDemonstrationError, match="next_obs"):
        disc.loss(config, params, _batch(keys[2], 8, 4, 3), agent)
    with pytest.raises(InvalidDemonstrationError, match="disagree"):
        disc.loss(config, params, agent._replace(absorbing=jnp.zeros(5)), agent)


def test_absorbing_samples_share_one_logit():
    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    params = disc.init_params(SMALL, keys[0], 3, 2)
    batch = _batch(keys[1], 10, 3, 2, absorbing=jnp.ones(10))
    values = disc.logits(SMALL, params, *batch)
    np.testing.assert_allclose(np.asarray(values), float(values[0]), rtol=0, atol=1e-6)
    regular = disc.logits(SMALL, params, batch.obs, batch.action_or_next_obs, jnp.zeros(10))
    assert not np.allclose(np.asarray(regular), float(values[0]))


def test_absorbing_weight_counts_s_a_as_that_many_visited_states():
    """The s_a logit converges to the log ratio of the weighted s_a masses: with a share p of s_a
    samples in a class and weight W, that class's s_a mass is W p / (W p + 1 - p)."""
    n, p_expert, p_agent = 2048, 0.05, 0.2
    keys = jax.random.split(jax.random.PRNGKey(4), 4)
    flags = lambda p: (jnp.arange(n) < int(p * n)).astype(jnp.float32)  # noqa: E731
    expert = _batch(keys[0], n, 3, 2, absorbing=flags(p_expert))  # the same visited-state distribution
    agent = _batch(keys[1], n, 3, 2, absorbing=flags(p_agent))
    s_a = disc.absorbing_sample(3, 2)
    for weight in (1.0, 10.0):
        config = disc.DiscriminatorConfig(hidden_sizes=(), learning_rate=3e-2, grad_penalty=0.0, epochs=40,
                                          minibatch_size=512, absorbing_weight=weight)
        state = disc.update(config, disc.init(config, keys[2], 3, 2), expert, agent, keys[3])[0]
        mass = lambda p: weight * int(p * n) / (weight * int(p * n) + n - int(p * n))  # noqa: E731
        expected = np.log(mass(p_expert) / mass(p_agent))
        np.testing.assert_allclose(float(disc.logits(config, state.params, *s_a)[0]), expected, atol=0.1)

    # in the loss, weight W is W copies of each s_a sample
    config = dataclasses.replace(SMALL, absorbing_weight=3.0)
    params = disc.init_params(config, keys[2], 3, 2)
    small = _batch(keys[1], 8, 3, 2, absorbing=jnp.array([1.0, 0, 0, 0, 0, 0, 0, 0]))
    copies = jax.tree.map(lambda x: jnp.concatenate([x, x[:1], x[:1]]), small)
    no_s_a = _batch(keys[0], 16, 3, 2)
    weighted = disc.loss(config, params, no_s_a, small)[1].logistic_loss
    plain = disc.loss(dataclasses.replace(config, absorbing_weight=1.0), params, no_s_a, copies)[1].logistic_loss
    np.testing.assert_allclose(float(weighted), float(plain), rtol=1e-6)


def test_invalid_config_raises():
    with pytest.raises(InvalidConfigError, match="absorbing_weight"):
        disc.DiscriminatorConfig(absorbing_weight=0.0)
    with pytest.raises(InvalidConfigError, match="input_mode"):
        disc.DiscriminatorConfig(input_mode="sa")
    with pytest.raises(InvalidConfigError, match="grad_penalty"):
        disc.DiscriminatorConfig(grad_penalty=-1.0)
    with pytest.raises(InvalidConfigError, match="hidden_sizes"):
        disc.DiscriminatorConfig(hidden_sizes=[8])
