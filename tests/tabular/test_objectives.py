import numpy as np
import pytest

from trirl.tabular import random_mdp
from trirl import InvalidConfigError, InvalidDemonstrationError
from trirl.tabular import dual, dual_gradient, occupancy, primal, reverse_kl, solve
from trirl.tabular.objectives import check_expert_occupancy, log_ratio, policy_kl


def expert(mdp, seed=0):
    sol = solve(mdp, np.random.default_rng(seed).normal(size=mdp.shape) * 2)
    return sol.policy, occupancy(mdp, sol.policy)


def test_reverse_kl_by_hand():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.25, 0.5])
    assert reverse_kl(p, q) == pytest.approx(np.log(2))
    assert reverse_kl(p * 10, q * 10) == pytest.approx(np.log(2))  # normalised occupancies
    assert reverse_kl(q, p) == float("inf")
    assert reverse_kl(q, q) == 0.0


def test_dual_at_zero_reward_by_hand(small_mdp):
    # V_0 = log A / (1 - gamma) everywhere and the expert term is beta Z log 1 = 0
    _, rho_e = expert(small_mdp)
    assert dual(small_mdp, np.zeros(small_mdp.shape), rho_e, 3.0) == pytest.approx(np.log(3) / 0.1)


@pytest.mark.parametrize("beta", [0.3, 1.0, 10.0])
def test_weak_duality(beta):
    mdp = random_mdp(2, discount=0.8)
    rng = np.random.default_rng(3)
    _, rho_e = expert(mdp)
    for _ in range(10):
        r = rng.normal(size=mdp.shape) * 3
        pi = rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)
        assert dual(mdp, r, rho_e, beta) >= primal(mdp, pi, rho_e, beta) - 1e-9


def test_strong_duality_at_the_saddle_point():
    """At the saddle point r* = beta log(rho_E / rho*) the dual equals the primal of pi*."""
    mdp = random_mdp(4, discount=0.7)
    _, rho_e = expert(mdp)
    beta = 2.0
    r = np.zeros(mdp.shape)
    for _ in range(400):  # small function-space steps converge to the saddle point
        sol = solve(mdp, r)
        r = 0.9 * r + 0.1 * beta * log_ratio(np.log(rho_e), np.log(occupancy(mdp, sol.policy)))
    pi = solve(mdp, r).policy
    assert dual(mdp, r, rho_e, beta) == pytest.approx(primal(mdp, pi, rho_e, beta), abs=1e-7)


def test_dual_gradient_matches_finite_differences(small_mdp):
    _, rho_e = expert(small_mdp)
    r = np.random.default_rng(5).normal(size=small_mdp.shape)
    grad = dual_gradient(small_mdp, r, rho_e, 1.5)
    h = 1e-5
    fd = np.zeros_like(r)
    for index in np.ndindex(r.shape):
        e = np.zeros_like(r)
        e[index] = h
        fd[index] = (dual(small_mdp, r + e, rho_e, 1.5) - dual(small_mdp, r - e, rho_e, 1.5)) / (2 * h)
    np.testing.assert_allclose(grad, fd, atol=1e-6)
    assert abs(grad.sum()) < 1e-8  # both terms have mass Z: a constant shift leaves G unchanged


def test_policy_kl_by_hand(chain_mdp):
    new = np.log([[0.5, 0.5], [0.5, 0.5]])
    old = np.log([[0.25, 0.75], [0.5, 0.5]])
    # state weights d = [1, 9] / 10; KL at state 0 = 0.5 log 2 + 0.5 log(2/3)
    kl0 = 0.5 * np.log(2) + 0.5 * np.log(2 / 3)
    assert policy_kl(chain_mdp, new, old) == pytest.approx(kl0 / 10)


def test_expert_occupancy_validation(small_mdp):
    _, rho_e = expert(small_mdp)
    with pytest.raises(InvalidDemonstrationError, match=r"rho_expert has shape"):
        check_expert_occupancy(small_mdp, rho_e[:, :2])
    with pytest.raises(InvalidDemonstrationError, match="sums to"):
        check_expert_occupancy(small_mdp, rho_e * 0.5)
    bad = rho_e.copy()
    bad[1, 2] = np.nan
    with pytest.raises(InvalidDemonstrationError, match=r"rho_expert\[1, 2\] is nan"):
        check_expert_occupancy(small_mdp, bad)
    zero = rho_e.copy()
    zero[0, 0], zero[0, 1] = 0.0, zero[0, 1] + zero[0, 0]
    with pytest.raises(InvalidDemonstrationError, match=r"rho_expert\[0, 0\] is 0 at a reachable"):
        check_expert_occupancy(small_mdp, zero)
    with pytest.raises(InvalidConfigError, match="beta"):
        dual(small_mdp, np.zeros(small_mdp.shape), rho_e, -1.0)
