import numpy as np
import pytest

from trirl.tabular import random_mdp
from trirl.tabular import log_occupancy, occupancy, sample_trajectories, solve, state_occupancy
from trirl.tabular.demos import empirical_occupancy


def test_chain_by_hand(chain_mdp):
    pi = np.array([[0.25, 0.75], [0.5, 0.5]])
    # d0 = 1 (start), d1 = gamma + gamma^2 + ... = 0.9 / 0.1 = 9
    np.testing.assert_allclose(state_occupancy(chain_mdp, pi), [1.0, 9.0])
    np.testing.assert_allclose(occupancy(chain_mdp, pi), [[0.25, 0.75], [4.5, 4.5]])


@pytest.mark.parametrize("discount", [0.0, 0.5, 0.95, 0.999])
def test_mass_and_bellman_flow(discount):
    mdp = random_mdp(11, discount=discount)
    pi = solve(mdp, np.random.default_rng(0).normal(size=mdp.shape)).policy
    rho = occupancy(mdp, pi)
    assert rho.sum() == pytest.approx(mdp.mass, rel=1e-10)
    # flow: sum_a rho(s', a) = mu0(s') + gamma sum_{s, a} P(s'|s, a) rho(s, a)
    inflow = mdp.initial + discount * np.einsum("sa,sat->t", rho, mdp.transitions)
    np.testing.assert_allclose(rho.sum(axis=1), inflow, atol=1e-10 * mdp.mass)


def test_log_occupancy_keeps_tiny_probabilities_finite(small_mdp):
    r = np.zeros(small_mdp.shape)
    r[:, 0] = 800.0  # action 0 dominates: other actions have probability ~exp(-800)
    sol = solve(small_mdp, r)
    log_rho = log_occupancy(small_mdp, sol.log_policy)
    assert np.all(np.isfinite(log_rho))
    assert np.all(log_rho[:, 1:] < -700)


def test_unreachable_states_have_zero_occupancy(chain_mdp):
    from trirl.tabular import MDP

    P = np.zeros((3, 1, 3))
    P[0, 0, 0] = P[1, 0, 2] = P[2, 0, 2] = 1.0
    mdp = MDP(P, [1.0, 0.0, 0.0], 0.9)
    np.testing.assert_allclose(state_occupancy(mdp, np.ones((3, 1))), [10.0, 0.0, 0.0])
    assert np.isneginf(log_occupancy(mdp, np.zeros((3, 1)))[1:]).all()


@pytest.mark.slow
def test_matches_monte_carlo(small_mdp):
    mdp = small_mdp
    pi = solve(mdp, np.random.default_rng(1).normal(size=mdp.shape)).policy
    horizon = 200  # gamma^200 ~ 7e-10
    mc = empirical_occupancy(mdp, sample_trajectories(mdp, pi, 20_000, horizon, seed=0), smoothing=0.0)
    np.testing.assert_allclose(mc, occupancy(mdp, pi), atol=0.05)
