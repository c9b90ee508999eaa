"""Numerical faults of the soft solvers, each with its right value worked by hand or by an
independent computation: normalisation at large ``|Q| / T``, invariance to reward offsets,
rewards whose values overflow float64."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from trirl import ConvergenceError, InvalidConfigError
from trirl.errors import describe_sum
from trirl.tabular import MDP, occupancy, soft
from trirl.tabular.algorithms.common import soft_policy_steps

from trirl.tabular import random_mdp


def _two_state_mdp(discount=0.99):
    # action a moves to state a, deterministically
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1.0
    return MDP(P, [1.0, 0.0], discount)


def test_policy_sums_to_one_at_large_q_over_temperature():
    # Q(a) = r(a) + gamma V is ~1e5 and Q / T ~ 1e9; the common gamma V cancels, so by hand
    # pi = softmax(r / T) = softmax([0, 0.5]) = [1, e^0.5] / (1 + e^0.5)
    mdp = MDP(np.ones((1, 2, 1)), [1.0], 0.999)
    solution = soft.solve(mdp, [[100.0, 100.00005]], temperature=1e-4)
    expected = np.array([1.0, np.exp(0.5)]) / (1.0 + np.exp(0.5))
    np.testing.assert_allclose(solution.policy[0], expected, atol=1e-9)
    assert abs(solution.policy.sum() - 1.0) <= 4 * np.finfo(float).eps
    # trirl accepts its own output
    assert occupancy(mdp, solution.policy).sum() == pytest.approx(mdp.mass)


@pytest.mark.parametrize("magnitude", [1.0, 1e5, 1e9, 1e13])
@pytest.mark.parametrize("temperature", [1e-6, 1e-2, 1.0, 1e3])
def test_soft_greedy_rows_sum_to_one(magnitude, temperature):
    rng = np.random.default_rng(0)
    q = magnitude + rng.normal(size=(200, 7)) * temperature * rng.choice([1e-3, 1.0, 30.0], size=(200, 1))
    v, log_pi = soft.soft_greedy(q, temperature)
    assert np.max(np.abs(np.exp(log_pi).sum(axis=1) - 1.0)) <= 8 * np.finfo(float).eps
    # V against scipy's logsumexp, relative to the magnitude it carries
    np.testing.assert_allclose(v, temperature * logsumexp(q / temperature, axis=1), rtol=1e-14, atol=0)
    assert np.all(log_pi <= 0.0)


@pytest.mark.parametrize("temperature", [1e-5, 1e-3, 1.0])
@pytest.mark.parametrize("method", ["value_iteration", "policy_iteration"])
def test_solvers_return_normalised_policies_that_trirl_accepts(temperature, method):
    for seed in range(3):
        mdp = random_mdp(seed, discount=0.95)
        reward = 1e3 + np.random.default_rng(seed).normal(size=mdp.shape)
        solution = soft.solve(mdp, reward, temperature=temperature, method=method)
        assert np.max(np.abs(solution.policy.sum(axis=1) - 1.0)) <= 8 * np.finfo(float).eps
        soft.check_policy(mdp, solution.policy)
        soft.soft_policy_evaluation(mdp, solution.policy, reward, temperature)


@pytest.mark.parametrize("method", ["value_iteration", "policy_iteration"])
def test_inexact_policy_steps_are_normalised(method):
    mdp = random_mdp(1, discount=0.99)
    reward = 1e6 + np.random.default_rng(1).normal(size=mdp.shape)
    uniform = np.full(mdp.shape, -np.log(mdp.n_actions))
    steps = soft_policy_steps(mdp, reward, np.zeros(mdp.n_states), uniform, 3, method)
    assert np.max(np.abs(np.exp(steps.log_policy).sum(axis=1) - 1.0)) <= 8 * np.finfo(float).eps


def test_sum_messages_show_the_difference():
    assert describe_sum(1 - 1.2e-7) == "1 - 1.2e-07"
    assert describe_sum(1 + 3e-9) == "1 + 3e-09"
    assert describe_sum(0.5) == "0.5"
    mdp = MDP(np.ones((1, 2, 1)), [1.0], 0.9)
    with pytest.raises(InvalidConfigError, match=r"policy\[0\] sums to 1 - 1.2e-07, expected 1"):
        occupancy(mdp, [[0.5, 0.5 - 1.2e-7]])
    with pytest.raises(Exception, match=r"initial sums to 1 \+ 2e-07"):
        MDP(np.ones((2, 1, 2)) / 2, [0.5, 0.5 + 2e-7], 0.9)


def _independent_soft_policy(mdp, reward, sweeps=20_000):
    P = np.zeros((mdp.n_states, mdp.n_actions, mdp.n_states))
    P[:, 0, 0] = P[:, 1, 1] = 1.0
    v = np.zeros(mdp.n_states)
    for _ in range(sweeps):
        v = logsumexp(reward + mdp.discount * P @ v, axis=1)
    q = reward + mdp.discount * P @ v
    return np.exp(q - logsumexp(q, axis=1, keepdims=True))


@pytest.mark.parametrize("offset", [0.0, 1e6, 1e8, -1e8])
@pytest.mark.parametrize("method", ["value_iteration", "policy_iteration"])
def test_reward_offset_keeps_the_policy(offset, method):
    # reported: + 1e6 stopped policy iteration after 2 iterations at [[0.18, 0.82], [0.50, 0.50]],
    # + 1e8 returned [[0, 1], [0, 1]]; right: [[0.32, 0.68], [0.68, 0.32]] for every offset
    mdp = _two_state_mdp()
    reward = np.array([[0.0, 1.0], [0.5, 0.0]])
    expected = _independent_soft_policy(mdp, reward)
    np.testing.assert_allclose(expected, [[0.3204, 0.6796], [0.6788, 0.3212]], atol=1e-4)
    solution = soft.solve(mdp, reward + offset, method=method)
    np.testing.assert_allclose(solution.policy, expected, atol=1e-7)
    # and the values carry the offset exactly: V_{r + c} = V_r + c / (1 - gamma)
    base = soft.solve(mdp, reward, method=method)
    np.testing.assert_allclose(solution.v, base.v + offset * mdp.mass, rtol=1e-13, atol=1e-6)


def test_overflowing_reward_is_named_not_a_convergence_failure():
    mdp = _two_state_mdp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning on the way
        for reward in (np.full(mdp.shape, 1e308), np.array([[1e308, -1e308], [0.0, 0.0]])):
            for method in ("value_iteration", "policy_iteration"):
                with pytest.raises(InvalidConfigError, match="reward spans .* overflow float64"):
                    soft.solve(mdp, reward, method=method)
        # large but representable: solved, and V = r / (1 - gamma) + log 2 / (1 - gamma)
        solution = soft.solve(mdp, np.full(mdp.shape, 1e305))
        np.testing.assert_allclose(solution.v, 1e305 * mdp.mass, rtol=1e-12)
        np.testing.assert_allclose(solution.policy, 0.5)


def test_non_finite_values_are_reported_as_such():
    mdp = _two_state_mdp()
    with pytest.raises(ConvergenceError, match="non-finite"):
        soft.soft_value_iteration(mdp, np.zeros(mdp.shape), v0=np.array([np.inf, 0.0]))
