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


def _textbook_cov_kl(log_std, old_log_std):
    # d_cov in float64 numpy from the log-std difference, the reference for the float32 results
    x = 2.0 * (np.asarray(log_std, np.float64) - np.asarray(old_log_std, np.float64))
    return 0.5 * np.sum(np.expm1(x) - x)


def test_reported_log_std_jump_is_projected_in_float32():
    # reported: a jump of 8.7 in float32 gave eta_cov = 0 and the log-std unchanged, because
    # 1 + expm1(-17.4) rounds to 0 and the violation test read the resulting NaN as "inside";
    # its covariance KL is (e^17.4 - 17.4 - 1) / 2 = 1.8e7 against a bound of 5e-4
    config = trpl.TrustRegionConfig()
    args = [np.float32(x) for x in ([[0.0]], [8.7], [[0.0]], [0.0])]
    assert _textbook_cov_kl([8.7], [0.0]) == pytest.approx(0.5 * (np.exp(17.4) - 18.4), rel=1e-9)
    result = trpl.project(config, *args)
    assert float(result.eta_cov) > 0
    kl = _textbook_cov_kl(result.log_std, [0.0])
    assert kl <= config.eps_cov * (1 + 1e-4) and kl >= 0.5 * config.eps_cov
    # on the boundary: the positive root of (exp(2 s) - 2 s - 1) / 2 = eps_cov, s ~ sqrt(eps_cov) (1 - sqrt(eps_cov) / 3)
    root = scipy_optimize.brentq(lambda v: 0.5 * (np.expm1(2 * v) - 2 * v) - config.eps_cov, 0.0, 1.0, xtol=1e-15)
    assert root == pytest.approx(np.sqrt(config.eps_cov) * (1 - np.sqrt(config.eps_cov) / 3), rel=1e-4)
    assert float(result.log_std[0]) == pytest.approx(root, rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_projection_meets_its_bounds_over_log_std_and_mean_jumps(dtype):
    """Sweep: log-std jumps -30 .. 30 per dimension (and +-60, +-200) and mean jumps 1e-8 .. 1e30
    (in units of the old standard deviation), in float32 and float64, old log-stds in [-3, 3]:
    every projection is finite, meets both bounds (checked in float64 from the textbook
    formulas), lands on the boundary for jumps up to 40, and has finite gradients."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", dtype == np.float64)
    try:
        config = trpl.TrustRegionConfig(eps_mean=1e-3, eps_cov=5e-4)
        project = jax.jit(trpl.project, static_argnums=0)

        def loss(mean, log_std, old_mean, old_log_std):
            out = trpl.project(config, mean, log_std, old_mean, old_log_std)
            return jnp.sum(out.mean) + jnp.sum(out.log_std) + out.eta_cov + jnp.sum(jnp.log1p(out.eta_mean))

        gradient = jax.jit(jax.grad(loss, argnums=(0, 1)))
        rng = np.random.default_rng(0)
        jumps = np.concatenate([np.linspace(-30, 30, 61), [-8.7, 8.7, 8.5, 1e-4, -1e-4, 0.0, -200.0, -60.0, 60.0, 200.0]])
        mean_scales = 10.0 ** np.arange(-8, 31, 2)
        for jump in jumps:
            old_log_std = rng.uniform(-3, 3, size=2)
            log_std = old_log_std + np.array([jump, rng.uniform(-1, 1) * min(abs(jump), 1.0)])
            old_mean = rng.normal(size=(len(mean_scales), 2))
            direction = rng.normal(size=(len(mean_scales), 2))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            mean = old_mean + mean_scales[:, None] * direction * np.exp(old_log_std)
            args = [np.asarray(a, dtype) for a in (mean, log_std, old_mean, old_log_std)]
            result = project(config, *args)
            for leaf in result:
                assert np.all(np.isfinite(np.asarray(leaf))), (jump, leaf)
            # bounds in float64 from the returned values; float32 results may overshoot by rounding
            slack = 1e-4 if dtype == np.float32 else 1e-9
            cov = _textbook_cov_kl(result.log_std, args[3])
            assert cov <= config.eps_cov * (1 + slack), (jump, cov)
            if abs(2 * jump) > 1e-3 and _textbook_cov_kl(args[1], args[3]) > config.eps_cov and abs(jump) <= 40:
                assert cov >= 0.99 * config.eps_cov, (jump, cov)  # active, not over-projected
            diff = np.asarray(result.mean, np.float64) - np.asarray(args[2], np.float64)
            m = 0.5 * np.sum((diff * np.exp(-np.asarray(args[3], np.float64))) ** 2, axis=1)
            assert np.all(m <= config.eps_mean * (1 + slack)), (jump, m)
            big = 0.5 * mean_scales**2 > 2 * config.eps_mean
            np.testing.assert_allclose(m[big], config.eps_mean, rtol=slack * 10)
            for g in gradient(*args):
                assert np.all(np.isfinite(np.asarray(g))), (jump, g)
    finally:
        jax.config.update("jax_enable_x64", previous)


def test_line_search_returns_the_largest_feasible_step():
    """Worked by hand: a KL quadratic along the line, violation(alpha) = 9 alpha^2, crosses its
    bound at alpha = 1/3; the search returns the feasible side within 2^-steps, 1 when the whole
    step is feasible and 0 when no step is (e.g. a normaliser shift alone leaves the region)."""
    alpha = float(trpl.line_search(lambda a: 9.0 * a**2, steps=20))
    assert 9.0 * alpha**2 <= 1.0 and alpha == pytest.approx(1.0 / 3.0, abs=2.0**-20)
    assert float(trpl.line_search(lambda a: 0.5 * a**2)) == 1.0
    assert float(trpl.line_search(lambda a: 2.0 + a)) == 0.0
    old, new = {"w": jnp.zeros(3)}, {"w": jnp.ones(3)}
    np.testing.assert_allclose(trpl.interpolate(old, new, 0.25)["w"], 0.25)


def test_line_search_runs_the_networks_once_when_the_whole_step_is_feasible():
    """The bisection (one network run per step) only runs when the whole update leaves the
    region; vmapped over seeds that need it and seeds that do not, each gets its own answer."""
    calls = []

    def search(scale):
        def violation(alpha):
            jax.debug.callback(lambda: calls.append(1))
            return scale * alpha**2
        return trpl.line_search(violation, steps=20)

    assert float(jax.jit(search)(0.5)) == 1.0 and len(calls) == 1
    calls.clear()
    assert float(jax.jit(search)(9.0)) == pytest.approx(1.0 / 3.0, abs=2.0**-20) and len(calls) == 21
    alphas = np.asarray(jax.jit(jax.vmap(search))(jnp.asarray([0.5, 9.0])))
    assert alphas[0] == 1.0 and alphas[1] == pytest.approx(1.0 / 3.0, abs=2.0**-20)
    with pytest.raises(InvalidConfigError, match="line_search_steps"):
        trpl.TrustRegionConfig(line_search_steps=0)


def test_mean_projection_holds_its_bound_in_float32_for_tiny_old_standard_deviations():
    """Sweep over old log-stds down to -80 (float32): where the allowed displacement is below the
    spacing of the floats around the old mean, rounding the projected mean to the nearest float
    overshot the bound (2.4x at old log std -15 with a proposed log std of 0, 6 % at -10 ->
    -9.9999); the projection now rounds towards the old mean. The bound is checked in float64."""
    config = trpl.TrustRegionConfig(eps_mean=1e-3, eps_cov=5e-4)
    project = jax.jit(trpl.project, static_argnums=0)
    gradient = jax.jit(jax.grad(lambda *a: jnp.sum(trpl.project(config, *a).mean), argnums=0))
    rng = np.random.default_rng(0)
    mean_scales = 10.0 ** np.arange(-8, 31, 2)
    for old in (-80.0, -40.0, -20.0, -15.0, -12.0, -10.0, -7.0, -3.0):
        for proposal in (0.0, old + 1e-4, old + 1.0, old - 1.0):
            for _ in range(5):
                old_log_std, log_std = np.full(2, old), np.full(2, proposal)
                old_mean = rng.normal(size=(len(mean_scales), 2)) * rng.choice([1e-3, 1.0, 1e3])
                direction = rng.normal(size=(len(mean_scales), 2))
                direction /= np.linalg.norm(direction, axis=1, keepdims=True)
                mean = old_mean + mean_scales[:, None] * direction * np.exp(old_log_std)
                args = [np.asarray(a, np.float32) for a in (mean, log_std, old_mean, old_log_std)]
                result = project(config, *args)
                diff = np.asarray(result.mean, np.float64) - np.asarray(args[2], np.float64)
                m = 0.5 * np.sum((diff * np.exp(-np.asarray(args[3], np.float64))) ** 2, axis=1)
                assert np.all(m <= config.eps_mean * (1 + 1e-4)), (old, proposal, m.max() / config.eps_mean)
                assert np.all(np.isfinite(np.asarray(gradient(*args)))), (old, proposal)
