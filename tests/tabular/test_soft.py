import numpy as np
import pytest
from scipy.special import logsumexp

from trirl.tabular import random_mdp
from trirl import ConvergenceError, InvalidConfigError
from trirl.tabular import (
    MDP,
    soft_bellman_backup,
    soft_policy_evaluation,
    soft_policy_iteration,
    soft_value_iteration,
    solve,
)


def test_one_state_by_hand():
    # one state, two self-looping actions: V = logsumexp(r) + gamma V
    mdp = MDP(np.ones((1, 2, 1)), [1.0], 0.5)
    r = np.array([[0.0, np.log(3.0)]])
    expected_v = np.log(4.0) / 0.5
    for solver in (soft_value_iteration, soft_policy_iteration):
        out = solver(mdp, r, tol=1e-14)
        np.testing.assert_allclose(out.v, [expected_v], rtol=1e-13)
        np.testing.assert_allclose(out.policy, [[0.25, 0.75]], rtol=1e-12)


def test_temperature_scales_the_soft_max(chain_mdp):
    r = np.array([[1.0, 0.0], [0.0, 0.0]])
    cold = solve(chain_mdp, r, temperature=0.01)
    hot = solve(chain_mdp, r, temperature=100.0)
    assert cold.policy[0, 0] > 0.999 and abs(hot.policy[0, 0] - 0.5) < 0.01


@pytest.mark.parametrize("discount", [0.0, 0.5, 0.9, 0.99, 0.999])
def test_solvers_agree_and_reach_the_fixed_point(discount):
    mdp = random_mdp(1, discount=discount)
    r = np.random.default_rng(2).normal(size=mdp.shape) * 10
    vi = soft_value_iteration(mdp, r, tol=1e-12)
    pi = soft_policy_iteration(mdp, r, tol=1e-12)
    scale = max(1.0, np.abs(vi.v).max())
    assert np.abs(vi.v - pi.v).max() <= 1e-9 * scale
    np.testing.assert_allclose(vi.policy, pi.policy, atol=1e-9)
    q, v = soft_bellman_backup(mdp, r, pi.v)
    assert np.abs(v - pi.v).max() <= 1e-9 * scale
    np.testing.assert_allclose(pi.policy.sum(axis=1), 1.0)
    assert pi.iterations <= 10


@pytest.mark.parametrize("scale", [1e3, -1e3])
def test_finite_for_extreme_rewards_and_discount(scale):
    mdp = random_mdp(3, discount=0.999)
    r = np.random.default_rng(4).uniform(-1, 1, mdp.shape) * abs(scale)
    out = solve(mdp, r)
    assert np.all(np.isfinite(out.q)) and np.all(np.isfinite(out.log_policy))
    np.testing.assert_allclose(np.exp(logsumexp(out.log_policy, axis=1)), 1.0)


def test_value_iteration_raises_instead_of_returning_silently():
    mdp = random_mdp(5, discount=0.99)
    with pytest.raises(ConvergenceError, match="did not converge") as info:
        soft_value_iteration(mdp, np.ones(mdp.shape), max_iter=5)
    assert info.value.residual > 0 and info.value.iterations == 5


def test_policy_evaluation_of_the_optimal_policy_gives_its_values(small_mdp):
    r = np.random.default_rng(6).normal(size=small_mdp.shape)
    opt = solve(small_mdp, r)
    ev = soft_policy_evaluation(small_mdp, opt.policy, r, log_policy=opt.log_policy)
    np.testing.assert_allclose(ev.v, opt.v, atol=1e-9)


def test_policy_evaluation_by_hand(chain_mdp):
    # state 1 absorbing, uniform policy, reward 1 everywhere: V1 = (1 + log 2) / (1 - gamma)
    r = np.ones(chain_mdp.shape)
    ev = soft_policy_evaluation(chain_mdp, np.full((2, 2), 0.5), r)
    v1 = (1 + np.log(2)) / 0.1
    np.testing.assert_allclose(ev.v, [1 + np.log(2) + 0.9 * v1, v1])


def test_state_reward_broadcasts_and_bad_rewards_are_named(small_mdp):
    S, A = small_mdp.shape
    a = solve(small_mdp, np.arange(S, dtype=float))
    b = solve(small_mdp, np.repeat(np.arange(S, dtype=float)[:, None], A, axis=1))
    np.testing.assert_allclose(a.q, b.q)
    with pytest.raises(InvalidConfigError, match="reward has shape"):
        solve(small_mdp, np.zeros((S, A + 1)))
    bad = np.zeros((S, A))
    bad[2, 1] = np.nan
    with pytest.raises(InvalidConfigError, match=r"reward\[2, 1\] is nan"):
        solve(small_mdp, bad)
    with pytest.raises(InvalidConfigError, match="method"):
        solve(small_mdp, np.zeros((S, A)), method="newton")
    with pytest.raises(InvalidConfigError, match="temperature"):
        solve(small_mdp, np.zeros((S, A)), temperature=0)


def test_warm_start_needs_fewer_iterations(small_mdp):
    r = np.random.default_rng(7).normal(size=small_mdp.shape)
    cold = soft_policy_iteration(small_mdp, r)
    warm = soft_policy_iteration(small_mdp, r + 1e-6, log_policy0=cold.log_policy)
    assert warm.iterations < cold.iterations
