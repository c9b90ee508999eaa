"""Tests of the discriminator buffer and corrected rewards (trirl.continuous.reward).

Linear discriminators (no hidden layer) make every logit, and every corrected reward, a linear
function of the input features, so the buffer can be checked against a direct numpy
computation of Algorithm 1's recursion.
"""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from trirl.continuous import discriminator as disc  # noqa: E402
from trirl.continuous import reward  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = pytest.mark.continuous

OBS_DIM, ACT_DIM = 2, 1
FEATURES = OBS_DIM + ACT_DIM + 1  # obs, action, absorbing indicator
LINEAR = disc.DiscriminatorConfig(hidden_sizes=())


def _config(capacity=3, eps=0.6, beta=2.0, **kwargs):
    return reward.RewardBufferConfig(capacity=capacity, eps=eps, beta=beta, network=LINEAR, **kwargs)


def _linear_params(weights, bias):
    return {"params": {"Dense_0": {"kernel": jnp.asarray(weights, jnp.float32).reshape(FEATURES, 1),
                                   "bias": jnp.asarray([bias], jnp.float32)}}}


def _inputs(seed, n=7):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, OBS_DIM)).astype(np.float32)
    act = rng.normal(size=(n, ACT_DIM)).astype(np.float32)
    absorbing = np.zeros(n, np.float32)
    features = np.concatenate([obs, act, absorbing[:, None]], axis=1)
    return obs, act, absorbing, features


@pytest.fixture(scope="module")
def jitted():
    return {
        "push": jax.jit(reward.push),
        "rewards": jax.jit(reward.rewards, static_argnums=0),
        "corrected": jax.jit(reward.corrected_rewards, static_argnums=0),
    }


def _steps(eps, etas):
    return eps / (1.0 + np.asarray(etas))


def test_buffer_with_exact_fits_reproduces_the_full_history_recursion(jitted):
    """With R_fit exact, truncating to k pairs changes nothing: Algorithm 1 over all T pairs."""
    config = _config(capacity=3)
    rng = np.random.default_rng(0)
    obs, act, absorbing, features = _inputs(1)
    state = reward.init(config, jax.random.PRNGKey(0), OBS_DIM, ACT_DIM)
    exact_w, exact_b = np.zeros(FEATURES), 0.0  # r^(0) = 0
    for _ in range(7):  # wraps the buffer twice
        w, b, eta = rng.normal(size=FEATURES), rng.normal(), rng.exponential()
        # R_fit = r^(i) / beta exactly (it predicts in log-ratio units)
        state = state._replace(fit_params=_linear_params(exact_w / config.beta, exact_b / config.beta))
        state = jitted["push"](state, _linear_params(w, b), jnp.float32(eta))
        step = config.eps / (1 + eta)
        exact_w = (1 - step) * exact_w + step * config.beta * w
        exact_b = (1 - step) * exact_b + step * config.beta * b
        got = jitted["corrected"](config, state, obs, act, absorbing)
        np.testing.assert_allclose(np.asarray(got), features @ exact_w + exact_b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("capacity", [3, 2 * reward.CHUNK + 3])  # one chunk; three, the last part-filled
def test_correction_recursion_matches_a_direct_numpy_computation(jitted, capacity):
    """Arbitrary (inexact) fits: start at the fit stored with the oldest pair, then k steps, with
    the buffer filling (only the chunks that hold a pair run), full, and wrapped."""
    config = _config(capacity=capacity, eps=0.5, beta=1.5)
    rng = np.random.default_rng(2)
    obs, act, absorbing, features = _inputs(3)
    state = reward.init(config, jax.random.PRNGKey(1), OBS_DIM, ACT_DIM)
    history = []  # (disc logits, eta, fit values) per push
    for t in range(capacity + 2):
        w, b, eta = rng.normal(size=FEATURES), rng.normal(), rng.exponential()
        fw, fb = rng.normal(size=FEATURES), rng.normal()
        state = state._replace(fit_params=_linear_params(fw, fb))
        state = jitted["push"](state, _linear_params(w, b), jnp.float32(eta))
        history.append((features @ w + b, eta, features @ fw + fb))

        window = history[-config.capacity:]
        # Until the buffer wraps, the chain starts at r^(0) = 0, not at a fit.
        # R_fit predicts r / beta: the chain starts at beta times the stored fit.
        r = config.beta * window[0][2] if len(history) > config.capacity else np.zeros(len(features))
        for logit, eta_j, _ in window:
            step = config.eps / (1 + eta_j)
            r = (1 - step) * r + step * config.beta * logit
        got = jitted["corrected"](config, state, obs, act, absorbing)
        np.testing.assert_allclose(np.asarray(got), r, rtol=1e-5, atol=1e-5, err_msg=f"after push {t + 1}")


def test_circular_overwrite_after_k_pushes(jitted):
    config = _config(capacity=3)
    state = reward.init(config, jax.random.PRNGKey(2), OBS_DIM, ACT_DIM)
    for t in range(5):
        state = jitted["push"](state, _linear_params(np.full(FEATURES, float(t)), float(t)), jnp.float32(10 + t))
    assert int(state.pushes) == 5 and int(state.count) == 3 and int(state.index) == 2
    # Slots 0 and 1 were overwritten by pushes 3 and 4; slot 2 still holds push 2.
    np.testing.assert_array_equal(np.asarray(state.etas), [13.0, 14.0, 12.0])
    np.testing.assert_array_equal(np.asarray(state.disc_params["params"]["Dense_0"]["bias"])[:, 0], [3.0, 4.0, 2.0])
    slots, valid = reward._chronological_slots(state)
    np.testing.assert_array_equal(np.asarray(slots), [2, 0, 1])
    assert np.all(np.asarray(valid))


def test_exponential_forgetting_of_old_discriminators():
    """Weight of D^(j) is eps_tr_j beta prod_{l > j} (1 - eps_tr_l); the start's is prod (1 - eps_tr)."""
    eps, beta, k = 0.7, 3.0, 5
    etas = np.random.default_rng(4).exponential(size=k)
    steps = _steps(eps, etas)
    valid = np.ones(k, bool)
    # Column j of the identity isolates discriminator j.
    weights = reward.correct(jnp.zeros(k), jnp.eye(k), jnp.asarray(etas), valid[:, None], eps, beta)
    expected = [steps[j] * beta * np.prod(1 - steps[j + 1:]) for j in range(k)]
    np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5)
    start_weight = reward.correct(jnp.ones(()), jnp.zeros(k), jnp.asarray(etas), valid, eps, beta)
    np.testing.assert_allclose(float(start_weight), np.prod(1 - steps), rtol=1e-5)
    # The oldest discriminator is forgotten geometrically as newer pairs arrive.
    assert expected[0] < expected[-1] and np.prod(1 - steps) < 1
    # Invalid (empty) slots leave the reward untouched.
    untouched = reward.correct(jnp.ones(()), jnp.ones(k), jnp.asarray(etas), np.zeros(k, bool), eps, beta)
    assert float(untouched) == 1.0


def test_intermediate_reward_formula(jitted):
    config = _config(capacity=4, eps=0.55, beta=2.5)
    rng = np.random.default_rng(5)
    obs, act, absorbing, features = _inputs(6)
    state = reward.init(config, jax.random.PRNGKey(3), OBS_DIM, ACT_DIM)
    for _ in range(2):
        state = jitted["push"](state, _linear_params(rng.normal(size=FEATURES), rng.normal()), jnp.float32(0.3))
    w, b = rng.normal(size=FEATURES), rng.normal()
    out = jitted["rewards"](config, state, _linear_params(w, b), obs, act, absorbing)
    newest = features @ w + b
    np.testing.assert_allclose(np.asarray(out.newest_logit), newest, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(out.intermediate),
        (1 - config.eps) * np.asarray(out.corrected) + config.eps * config.beta * newest,
        rtol=1e-5, atol=1e-6,
    )
    # An empty buffer's corrected reward is r^(0) = 0, so the first intermediate is eps beta D^(0).
    empty = reward.init(config, jax.random.PRNGKey(4), OBS_DIM, ACT_DIM)
    first = jitted["rewards"](config, empty, _linear_params(w, b), obs, act, absorbing)
    np.testing.assert_array_equal(np.asarray(first.corrected), 0.0)
    np.testing.assert_allclose(np.asarray(first.intermediate), config.eps * config.beta * newest, rtol=1e-5, atol=1e-6)


def test_fit_reward_regresses_onto_the_corrected_reward(jitted):
    config = _config(capacity=2, fit_steps=200, fit_learning_rate=5e-2)
    rng = np.random.default_rng(7)
    obs, act, absorbing, _ = _inputs(8, n=64)
    state = reward.init(config, jax.random.PRNGKey(5), OBS_DIM, ACT_DIM)
    state = jitted["push"](state, _linear_params(rng.normal(size=FEATURES), rng.normal()), jnp.float32(1.0))
    fitted, metrics = jax.jit(reward.fit_reward, static_argnums=0)(config, state, obs, act, absorbing)
    assert float(metrics.mse_after) < 1e-3 * float(metrics.mse_before)
    # the caller's corrected rewards (what ``rewards`` computed) give the same fit, bit for bit
    given, given_metrics = jax.jit(reward.fit_reward, static_argnums=0)(
        config, state, obs, act, absorbing, jitted["corrected"](config, state, obs, act, absorbing))
    assert jax.tree.all(jax.tree.map(np.array_equal, given.fit_params, fitted.fit_params))
    assert float(given_metrics.mse_after) == float(metrics.mse_after)
    with pytest.raises(InvalidConfigError, match=r"corrected must have shape \[N\]"):
        reward.fit_reward(config, state, obs, act, absorbing, jnp.zeros(3))
    # push records the fit as the base of the new slot.
    pushed = jitted["push"](fitted, state.fit_params, jnp.float32(0.0))
    np.testing.assert_array_equal(
        np.asarray(pushed.base_params["params"]["Dense_0"]["bias"][1]),
        np.asarray(fitted.fit_params["params"]["Dense_0"]["bias"]),
    )


def test_invalid_config_and_inputs_raise():
    with pytest.raises(InvalidConfigError, match="capacity"):
        reward.RewardBufferConfig(capacity=0)
    with pytest.raises(InvalidConfigError, match="eps"):
        reward.RewardBufferConfig(eps=1.5)
    config = _config()
    state = reward.init(config, jax.random.PRNGKey(6), OBS_DIM, ACT_DIM)
    with pytest.raises(InvalidConfigError, match="reward inputs"):
        reward.corrected_rewards(config, state, np.zeros((3, OBS_DIM)), np.zeros((4, ACT_DIM)), np.zeros(3))
    with pytest.raises(InvalidConfigError, match="scalar"):
        reward.push(state, state.fit_params, jnp.zeros(2))
