"""Soft LQ closed forms (trirl.continuous.lq) against Monte Carlo, finite differences and each other.

Properties over random stable instances (hypothesis, bounded: each is a few ms to 1 s per example);
numbers worked by hand; a broken piece that a property must catch; the lqr environment.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings

from trirl.continuous import lq, lq_dual
from trirl.continuous.envs.lqr import LQRConfig, clip_probability
from trirl.errors import InvalidConfigError
from trirl.verify.properties import lq as props

FAST = settings(max_examples=max(5, settings.default.max_examples // 4))
SLOW = settings(max_examples=max(3, settings.default.max_examples // 12))


def _holds(prop, example):
    violation = prop.violation(example)
    assert violation <= prop.tolerance, f"{prop.name}: {violation:.3e} > {prop.tolerance:.1e} on {example}"


@pytest.mark.parametrize("name", [p.name for p in props.LQ_PROPERTIES])
def test_property(name):
    prop = props.LQ_BY_NAME[name]
    budget = SLOW if name in ("lq_dual_gradients", "lq_monotone_dual", "lq_moments_monte_carlo") else FAST
    budget(given(prop.strategy())(lambda example: _holds(prop, example)))()


def test_scalar_soft_riccati_by_hand():
    """n = m = 1, A = 0: V = v (constant), so Q = -q s^2 - r a^2 + gamma v and pi = N(0, 1 / (2 r)),
    V(s) = -q s^2 + log sqrt(pi / r) + gamma v, i.e. P = -q, v = log(sqrt(pi / r)) / (1 - gamma)."""
    q, r, gamma = 0.7, 3.0, 0.8
    problem = lq.LQProblem(np.zeros((1, 1)), np.ones((1, 1)), np.eye(1), np.zeros(1), np.eye(1), gamma)
    solution = lq.soft_optimal(problem, lq.cost_reward(1, 1, q, r))
    # with A = 0 the next state's value is -q (a + w)^2 + v: the action cost becomes r + gamma q
    cost = r + gamma * q
    assert solution.policy.cov[0, 0] == pytest.approx(1.0 / (2.0 * cost), rel=1e-12)
    assert solution.P[0, 0] == pytest.approx(-q, rel=1e-12)
    expected_v = (0.5 * math.log(math.pi / cost) - gamma * q) / (1.0 - gamma)
    assert solution.v == pytest.approx(expected_v, rel=1e-10)


def test_theta_round_trip_and_features():
    rng = np.random.default_rng(0)
    d = 4
    theta = rng.standard_normal(lq.feature_size(d))
    reward = lq.reward_from_theta(theta, d, 0.3)
    z = rng.standard_normal((7, d))
    np.testing.assert_allclose(reward(z), lq.features(z) @ theta + 0.3, rtol=1e-12)
    back, bias = lq.theta_from_reward(reward)
    np.testing.assert_allclose(back, theta, rtol=1e-12)
    assert bias == 0.3


def test_log_policy_is_the_gaussian_density():
    rng = np.random.default_rng(1)
    policy = lq.LinearGaussian(rng.standard_normal((2, 3)), rng.standard_normal(2), np.array([[0.5, 0.1], [0.1, 0.3]]))
    z = rng.standard_normal((5, 5))
    from scipy.stats import multivariate_normal

    expected = [multivariate_normal(policy.K @ zi[:3] + policy.k, policy.cov).logpdf(zi[3:]) for zi in z]
    np.testing.assert_allclose(lq.log_policy(policy)(z), expected, rtol=1e-12)


def test_theorem_3_2_property_catches_an_uncorrected_reward(monkeypatch):
    """A reward corrected with eps instead of eps / (1 + eta) must fail lq_theorem_3_2."""
    case = props.LQCase(lq.random_problem(np.random.default_rng(2), 2, 2), lq.cost_reward(2, 2, 1.0, 5.0), 2)
    assert props.check_theorem_3_2(case, 0.02, 20.0, 3.0) < 1e-8
    # trirl_step lives in lq_dual and calls corrected_reward there
    monkeypatch.setattr(lq_dual, "corrected_reward",
                        lambda r, d, eps, beta, eta: lq.function_space_update(r, d, eps, beta))
    assert props.check_theorem_3_2(case, 0.02, 20.0, 3.0) > 1e-3


def test_soft_optimal_of_its_own_log_policy():
    """The saddle point's inversion: a Gaussian policy is soft-optimal for r = log pi (V = 0)."""
    problem = lq.random_problem(np.random.default_rng(3), 3, 2)
    expert = lq.soft_optimal(problem, lq.cost_reward(3, 2, 1.0, 4.0))
    inverted = lq.soft_optimal(problem, lq.log_policy(expert.policy))
    for a, b in zip(inverted.policy, expert.policy):
        np.testing.assert_allclose(a, b, atol=1e-10)
    assert abs(inverted.v) < 1e-9 and np.max(np.abs(inverted.P)) < 1e-9


def test_unsolvable_rewards_have_an_infinite_dual():
    problem = lq.random_problem(np.random.default_rng(4), 2, 1)
    convex_in_action = lq.Quadratic(np.diag([-1.0, -1.0, 100.0]), np.zeros(3), 0.0)
    with pytest.raises(lq.NotSoftSolvableError, match="H_aa"):
        lq.soft_optimal(problem, convex_in_action)
    theta, _ = lq.theta_from_reward(convex_in_action)
    assert lq.dual_feature_matching(problem, theta, np.zeros_like(theta)).value == math.inf


def test_large_steps_leave_the_domain():
    """Finding (book chapter 10): on the shipped instance, exact TRIRL steps with
    ``eps beta / (1 + eta) = 2.5`` (beta 10) and ``0.9`` (beta 1, eta 0) leave the rewards with a
    finite soft value by the second step (the first also raising the dual), while ``eps beta / (1 + eta) = 0.25`` descends."""
    config = LQRConfig(state_dim=2, action_dim=2, instance=0)
    problem = config.problem
    expert = lq.soft_optimal(problem, config.reward).policy
    start = lq.cost_reward(2, 2, 0.0, 0.5)

    def duals(eps, beta, eta, iterations=5):
        trace = lq.exact_trace(problem, expert, start, eps, beta, eta, iterations)
        return trace.dual[np.isfinite(trace.dual)], trace.left_domain

    values, left = duals(0.05, 10.0, 1.0)
    assert not left and np.all(np.diff(values) <= 0)
    values, left = duals(0.5, 10.0, 1.0)
    assert left and len(values) == 2 and values[1] > values[0] + 1.0
    values, left = duals(0.9, 1.0, 0.0)
    assert left and len(values) <= 2


def test_lqr_instances_are_near_the_policy_class():
    """The shipped instance: clipping probability and the diagonal-covariance gap, exact."""
    config = LQRConfig()
    policy = lq.soft_optimal(config.problem, config.reward).policy
    assert clip_probability(config, policy) < 1e-4
    assert 0.0 < lq.class_gap(policy, config.discount) < 0.01
    decoupled = LQRConfig(state_dim=2, action_dim=1)
    assert lq.class_gap(lq.soft_optimal(decoupled.problem, decoupled.reward).policy, decoupled.discount) == 0.0


def test_lqr_config_errors_name_the_field():
    with pytest.raises(InvalidConfigError, match="episode_length = 50 .* use at least 66"):
        LQRConfig(episode_length=50)
    with pytest.raises(InvalidConfigError, match="LQRConfig.state_dim"):
        LQRConfig(state_dim=5)


def test_reward_distance_ignores_shaping_and_scale():
    problem = lq.random_problem(np.random.default_rng(5), 2, 2)
    theta, _ = lq.theta_from_reward(lq.cost_reward(2, 2, 1.0, 10.0))
    expert = lq.soft_optimal(problem, lq.reward_from_theta(theta, 4)).policy
    cov = np.cov(lq.features(lq.sample_occupancy(problem, expert, 20_000, np.random.default_rng(0))), rowvar=False)
    shaping = lq.shaping_basis(problem) @ np.random.default_rng(1).standard_normal(5)
    shaped = 0.25 * (theta + shaping)
    distance = lq.reward_distance(problem, theta, shaped, cov)
    assert distance.residual < 1e-8 and distance.scale == pytest.approx(4.0, rel=1e-8)
    # shaping leaves the soft-optimal policy unchanged: the basis really is shaping
    reshaped = lq.soft_optimal(problem, lq.reward_from_theta(theta + shaping, 4)).policy
    for a, b in zip(reshaped, expert):
        np.testing.assert_allclose(a, b, atol=1e-9)
    other = lq.reward_distance(problem, theta, lq.theta_from_reward(lq.cost_reward(2, 2, 1.0, 0.1))[0], cov)
    assert other.residual > 0.1


def test_verify_continuous_runs_the_lq_properties(capsys):
    from trirl.verify.runner import main

    assert main(["--continuous", "--examples", "2", "--quiet", "--only", "lq_soft_bellman", "lq_theorem_3_2"]) == 0
    out = capsys.readouterr().out
    assert "lq_soft_bellman" in out and "lq_theorem_3_2" in out and "FAIL" not in out


def test_bad_problems_name_the_field():
    good = lq.random_problem(np.random.default_rng(6), 2, 1)
    with pytest.raises(InvalidConfigError, match="LQProblem.W must be symmetric positive definite"):
        lq.soft_optimal(good._replace(W=np.zeros((2, 2))), lq.cost_reward(2, 1, 1.0, 1.0))
    with pytest.raises(InvalidConfigError, match=r"LQProblem.B must be a finite array of shape \(2, 1\)"):
        lq.soft_optimal(good._replace(B=np.full((2, 1), np.nan)), lq.cost_reward(2, 1, 1.0, 1.0))
    with pytest.raises(InvalidConfigError, match="LQProblem.gamma"):
        lq.soft_optimal(good._replace(gamma=1.0), lq.cost_reward(2, 1, 1.0, 1.0))
    with pytest.raises(InvalidConfigError, match="reward: M must be"):
        lq.soft_optimal(good, lq.cost_reward(1, 1, 1.0, 1.0))
