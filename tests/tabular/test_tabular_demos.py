import warnings

import numpy as np
import pytest
from trirl.tabular import random_mdp

from trirl import DemonstrationWarning, InvalidConfigError, InvalidDemonstrationError
from trirl.tabular import MDP, Trajectories, empirical_occupancy, occupancy, sample_trajectories
from trirl.tabular.demos import TRUNCATION_WARNING_MASS


def test_sampling_is_deterministic_and_in_range(small_mdp):
    pi = np.full(small_mdp.shape, 1 / 3)
    a = sample_trajectories(small_mdp, pi, 5, 7, seed=1)
    b = sample_trajectories(small_mdp, pi, 5, 7, seed=1)
    np.testing.assert_array_equal(a.states, b.states)
    assert a.states.shape == (5, 8) and a.actions.shape == (5, 7)
    assert a.states.max() < small_mdp.n_states and a.actions.max() < 3


def test_sampled_transitions_follow_the_dynamics(chain_mdp):
    traj = sample_trajectories(chain_mdp, np.full((2, 2), 0.5), 50, 4, seed=0)
    assert (traj.states[:, 0] == 0).all() and (traj.states[:, 1:] == 1).all()


def test_empirical_occupancy_by_hand(chain_mdp):
    # s0=0 a0=1 (weight 1), then absorbing state 1 forever: its tail 0.9 / (1 - 0.9) = 9 goes to
    # the action taken there (0)
    traj = Trajectories(np.array([[0, 1, 1]]), np.array([[1, 0]]))
    rho = empirical_occupancy(chain_mdp, traj, smoothing=0.0)
    expected = np.array([[0.0, 1.0], [9.0, 0.0]])
    np.testing.assert_allclose(rho, expected)
    smooth = empirical_occupancy(chain_mdp, traj, smoothing=0.1)
    assert smooth.sum() == pytest.approx(10.0) and (smooth[chain_mdp.reachable] > 0).all()


def test_bad_demonstrations_are_named(small_mdp):
    with pytest.raises(InvalidDemonstrationError, match="empty"):
        empirical_occupancy(small_mdp, Trajectories(np.zeros((0, 1), int), np.zeros((0, 0), int)))
    with pytest.raises(InvalidDemonstrationError, match=r"trajectories.actions\[0, 1\] is 7"):
        empirical_occupancy(small_mdp, Trajectories(np.zeros((1, 3), int), np.array([[0, 7]])))
    with pytest.raises(InvalidDemonstrationError, match=r"trajectories.states\[0, 2\] is -1"):
        empirical_occupancy(small_mdp, Trajectories(np.array([[0, 1, -1]]), np.array([[0, 0]])))
    with pytest.raises(InvalidDemonstrationError, match="dtype float64"):
        empirical_occupancy(small_mdp, Trajectories(np.zeros((1, 2)), np.zeros((1, 1))))
    with pytest.raises(InvalidConfigError, match="smoothing"):
        empirical_occupancy(small_mdp, Trajectories(np.zeros((1, 2), int), np.zeros((1, 1), int)), smoothing=1.0)
    with pytest.raises(InvalidConfigError, match="horizon"):
        sample_trajectories(small_mdp, np.full(small_mdp.shape, 1 / 3), 1, 0, seed=0)


def corridor(discount=0.99) -> MDP:
    """0 -> 1 -> 2 -> 3 under the one action; 3 is absorbing."""
    P = np.zeros((4, 1, 4))
    P[[0, 1, 2, 3], 0, [1, 2, 3, 3]] = 1.0
    return MDP(P, [1.0, 0.0, 0.0, 0.0], discount, absorbing=[3])


def test_corridor_absorbed_tails_are_exact():
    # the case: 200 demonstrations of 10 steps, absorbed at step 3. The former estimator
    # (observed counts rescaled to 1 / (1 - gamma)) gave [10.46, 10.35, 10.25, 68.94].
    mdp = corridor()
    demos = sample_trajectories(mdp, np.ones((4, 1)), 200, 10, seed=0)
    rho = empirical_occupancy(mdp, demos, smoothing=0.0)
    np.testing.assert_allclose(rho.ravel(), [1.0, 0.99, 0.9801, 0.99**3 / 0.01], rtol=1e-12)
    np.testing.assert_allclose(rho, occupancy(mdp, np.ones((4, 1))), rtol=1e-12)


def test_ragged_episodes_and_the_absorbed_flag(chain_mdp):
    # episode 0 is absorbed after one step, episode 1 is only state 0 for one step (truncated, renormalised)
    traj = Trajectories(np.array([[0, 1, 1], [0, 0, -5]]), np.array([[1, 0], [0, 9]]), np.array([2, 1]),
                        np.array([True, False]))
    with pytest.warns(DemonstrationWarning, match=r"horizon 1, gamma\^horizon = 0.9"):
        rho = empirical_occupancy(chain_mdp, traj, smoothing=0.0)
    np.testing.assert_allclose(rho, (np.array([[0.0, 1.0], [9.0, 0.0]]) + np.array([[10.0, 0.0], [0.0, 0.0]])) / 2)
    with pytest.raises(InvalidDemonstrationError, match=r"trajectories.absorbed\[1\] is True .* state 0"):
        empirical_occupancy(chain_mdp, traj._replace(absorbed=np.array([True, True])))
    with pytest.raises(InvalidDemonstrationError, match=r"trajectories.lengths\[1\] is 3"):
        empirical_occupancy(chain_mdp, traj._replace(lengths=np.array([2, 3])))


def test_truncation_warns_with_horizon_and_gamma_power(small_mdp):
    # small_mdp has no absorbing state: every episode is truncated
    demos = sample_trajectories(small_mdp, np.full(small_mdp.shape, 1 / 3), 20, 10, seed=0)
    with pytest.warns(DemonstrationWarning, match=r"20 of 20 .*horizon 10, gamma\^horizon = 0.349 .*horizon >= 44"):
        empirical_occupancy(small_mdp, demos)
    long = sample_trajectories(small_mdp, np.full(small_mdp.shape, 1 / 3), 20, 60, seed=0)
    assert 0.9**60 < TRUNCATION_WARNING_MASS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empirical_occupancy(small_mdp, long)


def _absorbing_mdp(seed: int = 3) -> MDP:
    """6 random states + 2 absorbing ones that every state can reach; discount 0.9."""
    rng = np.random.default_rng(seed)
    P = rng.random((8, 2, 8)) ** 3
    P[6:] = 0.0
    P[6, :, 6] = P[7, :, 7] = 1.0
    P[:6, :, 6:] += 0.15
    P /= P.sum(axis=-1, keepdims=True)
    return MDP(P, np.r_[np.full(6, 1 / 6), 0, 0], 0.9, absorbing=[6, 7])


def test_estimator_is_unbiased_with_the_documented_variance():
    # 400 data sets of n = 25 episodes, horizon 12: mostly absorbed, the truncated rest renormalised.
    mdp = _absorbing_mdp()
    pi = np.random.default_rng(0).dirichlet(np.ones(2), size=8)
    exact = occupancy(mdp, pi)
    n, horizon, repeats = 25, 12, 400
    big = sample_trajectories(mdp, pi, n * repeats, horizon, seed=1)
    estimates = np.stack([
        empirical_occupancy(mdp, Trajectories(big.states[k::repeats], big.actions[k::repeats]), smoothing=0.0, warn=False)
        for k in range(repeats)
    ])
    per_episode = np.stack([empirical_occupancy(mdp, Trajectories(big.states[i:i + 1], big.actions[i:i + 1]), 0.0, warn=False)
                            for i in range(0, 2000)])
    # bias: within the documented bound 2 gamma^L Z (truncated share), and within 4 standard errors
    truncated = ~mdp.absorbing[big.states].any(axis=1)
    bound = 2 * truncated.mean() * mdp.discount**horizon * mdp.mass
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0) / np.sqrt(repeats)
    assert np.abs(mean - exact).sum() <= bound + 4 * se.sum()
    assert np.all(np.abs(mean - exact) <= 4 * se + bound)
    # variance: Var[rho_i] / n, with rho_i the one-episode estimator (pooled split: not exact, 30 %)
    np.testing.assert_allclose(estimates.var(axis=0).sum(), per_episode.var(axis=0).sum() / n, rtol=0.3)


def test_truncated_bias_stays_within_its_bound():
    # no absorbing state, horizon 5 at discount 0.9: the renormalised tail is biased, at most 2 gamma^L Z in L1
    mdp = random_mdp(4, n_actions=2)
    pi = np.full((6, 2), 0.5)
    demos = sample_trajectories(mdp, pi, 20_000, 5, seed=2)
    rho = empirical_occupancy(mdp, demos, smoothing=0.0, warn=False)
    exact = occupancy(mdp, pi)
    assert np.abs(rho - exact).sum() <= 2 * 0.9**5 * mdp.mass
