import numpy as np
import pytest

from trirl import InvalidConfigError, InvalidDemonstrationError
from trirl.tabular import Trajectories, empirical_occupancy, sample_trajectories


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
    # every trajectory: s0=0 a0=1, then state 1 with action 0; weights 1, 0.9
    traj = Trajectories(np.array([[0, 1, 1]]), np.array([[1, 0]]))
    rho = empirical_occupancy(chain_mdp, traj, smoothing=0.0)
    expected = np.array([[0.0, 1.0], [0.9, 0.0]]) / 1.9 * 10
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
