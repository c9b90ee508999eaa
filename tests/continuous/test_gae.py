import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from trirl.continuous.gae import gae  # noqa: E402

pytestmark = pytest.mark.continuous


def naive_gae(rewards, values, next_values, absorbing, done, gamma, lam, absorbing_value=0.0):
    T = len(rewards)
    advantages = np.zeros(T)
    running = 0.0
    for t in reversed(range(T)):
        if absorbing[t]:
            bootstrap = absorbing_value
        else:
            bootstrap = gamma * next_values[t]
        delta = rewards[t] + bootstrap - values[t]
        if done[t]:
            running = 0.0
        running = delta + gamma * lam * running
        advantages[t] = running
    return advantages


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("absorbing_value", [0.0, 2.5])
def test_gae_matches_a_naive_loop(seed, absorbing_value):
    rng = np.random.default_rng(seed)
    T = 17
    rewards, values, next_values = rng.normal(size=(3, T))
    truncated = rng.random(T) < 0.1
    absorbing = (rng.random(T) < 0.15) & ~truncated
    done = truncated | absorbing
    adv, target = gae(jnp.asarray(rewards), jnp.asarray(values), jnp.asarray(next_values),
                      jnp.asarray(absorbing), jnp.asarray(done), 0.97, 0.9, absorbing_value)
    expected = naive_gae(rewards, values, next_values, absorbing, done, 0.97, 0.9, absorbing_value)
    np.testing.assert_allclose(adv, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(target, expected + values, rtol=1e-5, atol=1e-5)


def test_gae_by_hand():
    # two steps, gamma = 0.5, lambda = 1: step 1 truncates (bootstraps V(s') = 4), step 0 continues
    adv, _ = gae(jnp.array([1.0, 1.0]), jnp.array([0.0, 0.0]), jnp.array([2.0, 4.0]),
                 jnp.array([False, False]), jnp.array([False, True]), 0.5, 1.0)
    # delta_1 = 1 + 0.5 * 4 = 3; delta_0 = 1 + 0.5 * 2 = 2; A_0 = 2 + 0.5 * 3 = 3.5
    np.testing.assert_allclose(adv, [3.5, 3.0])
    adv, _ = gae(jnp.array([1.0, 1.0]), jnp.array([0.0, 0.0]), jnp.array([2.0, 4.0]),
                 jnp.array([False, True]), jnp.array([False, True]), 0.5, 1.0)
    np.testing.assert_allclose(adv, [1.0 + 1.0 + 0.5 * 1.0, 1.0])  # absorbing: no bootstrap


def test_gae_vmaps_over_the_batch_axis():
    rng = np.random.default_rng(0)
    r, v, nv = (jnp.asarray(rng.normal(size=(6, 3))) for _ in range(3))
    flags = jnp.zeros((6, 3), bool)
    batched, _ = jax.vmap(gae, in_axes=(1, 1, 1, 1, 1, None, None), out_axes=1)(r, v, nv, flags, flags, 0.9, 0.8)
    for b in range(3):
        np.testing.assert_allclose(batched[:, b], gae(r[:, b], v[:, b], nv[:, b], flags[:, b], flags[:, b], 0.9, 0.8)[0], rtol=1e-6)
