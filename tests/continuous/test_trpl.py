"""Tests of the reverse-KL Gaussian trust-region projection (trirl.continuous.trpl)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
scipy_optimize = pytest.importorskip("scipy.optimize")

from trirl.continuous import trpl  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = pytest.mark.continuous


@pytest.fixture
def x64():
    """Float64 for the numerical comparisons; restored afterwards so other tests keep float32."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


def _random_case(seed, batch=6, action_dim=3, mean_scale=0.3, std_scale=0.3):
    rng = np.random.default_rng(seed)
    old_mean = rng.normal(size=(batch, action_dim))
    mean = old_mean + mean_scale * rng.normal(size=(batch, action_dim))
    old_log_std = 0.5 * rng.normal(size=action_dim)
    log_std = old_log_std + std_scale * rng.normal(size=action_dim)
    return mean, log_std, old_mean, old_log_std


def _kl_parts(mean, log_std, old_mean, old_log_std):
    return jax.vmap(trpl.gaussian_kl_parts, in_axes=(0, None, 0, None))(mean, log_std, old_mean, old_log_std)


def test_gaussian_kl_parts_matches_the_textbook_formula(x64):
    mean, log_std, old_mean, old_log_std = _random_case(0, batch=1)
    var, old_var = np.exp(2 * log_std), np.exp(2 * old_log_std)
    diff = mean[0] - old_mean[0]
    full = 0.5 * (np.sum(np.log(old_var / var)) + np.sum(var / old_var) - len(var) + np.sum(diff**2 / old_var))
    parts = trpl.gaussian_kl_parts(mean[0], log_std, old_mean[0], old_log_std)
    np.testing.assert_allclose(float(parts.mean + parts.cov), full, rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_projection_satisfies_both_bounds(x64, seed):
    config = trpl.TrustRegionConfig(eps_mean=1e-3, eps_cov=5e-4)
    mean, log_std, old_mean, old_log_std = _random_case(seed)
    result = jax.jit(trpl.project, static_argnums=0)(config, mean, log_std, old_mean, old_log_std)
    parts = _kl_parts(result.mean, result.log_std, old_mean, old_log_std)
    assert np.all(np.asarray(parts.mean) <= config.eps_mean + 1e-6)
    assert float(np.max(parts.cov)) <= config.eps_cov + 1e-6
    # Violated constraints become active: the projection lands on the boundary, not inside it.
    violated = np.asarray(_kl_parts(mean, log_std, old_mean, old_log_std).mean) > config.eps_mean
    assert violated.any()
    np.testing.assert_allclose(np.asarray(parts.mean)[violated], config.eps_mean, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(parts.cov), config.eps_cov, rtol=1e-9)


def test_projection_in_float32_satisfies_bounds():
    config = trpl.TrustRegionConfig(eps_mean=1e-3, eps_cov=5e-4, bisection_steps=40)
    mean, log_std, old_mean, old_log_std = (np.float32(x) for x in _random_case(7))
    result = trpl.project(config, mean, log_std, old_mean, old_log_std)
    assert result.mean.dtype == jnp.float32
    parts = _kl_parts(result.mean, result.log_std, old_mean, old_log_std)
    assert np.all(np.asarray(parts.mean) <= config.eps_mean + 1e-6)
    assert float(np.max(parts.cov)) <= config.eps_cov + 1e-6


def test_projection_is_a_no_op_inside_the_region(x64):
    config = trpl.TrustRegionConfig(eps_mean=1.0, eps_cov=1.0)
    mean, log_std, old_mean, old_log_std = _random_case(1, mean_scale=0.05, std_scale=0.05)
    result = trpl.project(config, mean, log_std, old_mean, old_log_std)
    np.testing.assert_array_equal(np.asarray(result.mean), mean)
    np.testing.assert_allclose(np.asarray(result.log_std), log_std, rtol=0, atol=1e-14)
    assert np.all(np.asarray(result.eta_mean) == 0.0)
    assert float(result.eta_cov) == 0.0 and float(result.eta) == 0.0


def test_eta_is_nonnegative_and_max_eta_is_the_batch_maximum(x64):
    config = trpl.TrustRegionConfig(eps_mean=1e-2, eps_cov=1e-2)
    mean, log_std, old_mean, old_log_std = _random_case(2, batch=32)
    # Half the states stay inside the mean bound: their multiplier must be exactly zero.
    mean[::2] = old_mean[::2] + 1e-3
    result = trpl.project(config, mean, log_std, old_mean, old_log_std)
    eta_mean = np.asarray(result.eta_mean)
    assert np.all(eta_mean >= 0) and float(result.eta_cov) >= 0
    assert np.all(eta_mean[::2] == 0.0) and np.all(eta_mean[1::2] > 0)
    assert float(result.eta) == max(eta_mean.max(), float(result.eta_cov))


@pytest.mark.parametrize("seed", range(3))
def test_projection_matches_an_independent_constrained_solve(x64, seed):
    """The projection problems of Eq. 6 solved by SLSQP, independently of the closed forms."""
    config = trpl.TrustRegionConfig(eps_mean=2e-3, eps_cov=1e-3)
    mean, log_std, old_mean, old_log_std = _random_case(10 + seed, batch=2)
    result = trpl.project(config, mean, log_std, old_mean, old_log_std)
    old_precision = np.exp(-2 * old_log_std)
    options = {"ftol": 1e-15, "maxiter": 1000}

    for b in range(mean.shape[0]):
        def mean_objective(m, b=b):
            return 0.5 * np.sum((m - mean[b]) ** 2 * old_precision)

        def mean_constraint(m, b=b):
            return config.eps_mean - 0.5 * np.sum((m - old_mean[b]) ** 2 * old_precision)

        solved = scipy_optimize.minimize(
            mean_objective, old_mean[b], method="SLSQP",
            constraints=[{"type": "ineq", "fun": mean_constraint}], options=options,
        )
        np.testing.assert_allclose(np.asarray(result.mean[b]), solved.x, atol=1e-6)

    def cov_kl(a, b):  # d_cov(Sigma_a, Sigma_b) for log standard deviations a, b
        x = 2 * (a - b)
        return 0.5 * np.sum(np.exp(x) - x - 1)

    solved = scipy_optimize.minimize(
        lambda s: cov_kl(s, log_std), old_log_std, method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda s: config.eps_cov - cov_kl(s, old_log_std)}],
        options=options,
    )
    np.testing.assert_allclose(np.asarray(result.log_std), solved.x, atol=1e-6)


def test_gradients_match_finite_differences(x64):
    config = trpl.TrustRegionConfig(eps_mean=1e-2, eps_cov=5e-3)
    mean, log_std, old_mean, old_log_std = _random_case(3, batch=3)
    weights = np.random.default_rng(4).normal(size=mean.shape)

    def scalar(mean_, log_std_, old_log_std_):
        out = trpl.project(config, mean_, log_std_, old_mean, old_log_std_)
        return (
            jnp.sum(weights * out.mean)
            + jnp.sum(jnp.sin(3 * out.log_std))
            + 0.1 * out.eta_cov
            + 0.1 * jnp.sum(out.eta_mean)
        )

    scalar = jax.jit(scalar)  # one compilation for the 27 finite-difference pairs
    args = [jnp.asarray(mean), jnp.asarray(log_std), jnp.asarray(old_log_std)]
    grads = jax.grad(scalar, argnums=(0, 1, 2))(*args)
    h = 1e-6
    for i, (arg, grad) in enumerate(zip(args, grads)):
        flat = np.asarray(arg).ravel()
        fd = np.empty_like(flat)
        for j in range(flat.size):
            step = np.zeros_like(flat)
            step[j] = h
            plus = list(args)
            minus = list(args)
            plus[i] = jnp.asarray((flat + step).reshape(arg.shape))
            minus[i] = jnp.asarray((flat - step).reshape(arg.shape))
            fd[j] = (scalar(*plus) - scalar(*minus)) / (2 * h)
        np.testing.assert_allclose(np.asarray(grad).ravel(), fd, rtol=1e-5, atol=1e-7)


def test_cov_multiplier_gradient_is_zero_inside_the_region(x64):
    grad = jax.grad(lambda s: trpl.cov_multiplier(s, jnp.zeros(3), 1.0, 60))(jnp.full(3, 0.01))
    np.testing.assert_array_equal(np.asarray(grad), 0.0)


def test_trust_region_loss_is_zero_at_the_projection_and_positive_outside(x64):
    config = trpl.TrustRegionConfig(eps_mean=1e-3, eps_cov=1e-3, regression_coef=0.5)
    mean, log_std, old_mean, old_log_std = _random_case(5)
    result = trpl.project(config, mean, log_std, old_mean, old_log_std)
    assert float(trpl.trust_region_loss(config, result.mean, result.log_std, result)) == pytest.approx(0.0, abs=1e-14)
    loss = trpl.trust_region_loss(config, mean, log_std, result)
    assert float(loss) > 0
    # The targets are stop-gradient: the gradient only moves the prediction.
    grad = jax.grad(lambda m: trpl.trust_region_loss(config, m, log_std, result))(jnp.asarray(mean))
    assert np.all(np.isfinite(np.asarray(grad)))


def test_invalid_inputs_raise():
    with pytest.raises(InvalidConfigError, match="eps_mean"):
        trpl.TrustRegionConfig(eps_mean=0.0)
    with pytest.raises(InvalidConfigError, match="bisection_steps"):
        trpl.TrustRegionConfig(bisection_steps=0)
    config = trpl.TrustRegionConfig()
    with pytest.raises(InvalidConfigError, match="log_std"):
        trpl.project(config, np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(3))
