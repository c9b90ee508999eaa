"""Dense and sparse engines agree; a factorisation serves evaluation and occupancy; thread policy."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from trirl import InvalidConfigError, InvalidMDPError
from trirl.tabular import MDP, gridworld, occupancy, solve, soft_policy_evaluation, trirl
from trirl.tabular.objectives import policy_kl
from trirl.tabular.linsolve import linear_solver
from trirl.tabular.threads import BLAS_THREADS_ENV, blas_threads, thread_limit


def dirichlet_mdp(seed: int, n_states: int, n_actions: int, discount: float, successors: int | None = None, **kwargs) -> MDP:
    """A random MDP: ``P(.|s, a)`` Dirichlet(0.3) over all states, or over ``successors`` random ones."""
    rng = np.random.default_rng(seed)
    if successors is None:
        P = rng.dirichlet(np.full(n_states, 0.3), size=(n_states, n_actions))
    else:
        P = np.zeros((n_states, n_actions, n_states))
        for s in range(n_states):
            for a in range(n_actions):
                P[s, a, rng.choice(n_states, successors, replace=False)] = rng.dirichlet(np.ones(successors))
    mu0 = rng.random(n_states)
    return MDP(P, mu0 / mu0.sum(), discount, **kwargs)


def both(seed, n_states, n_actions, discount, successors=None):
    dense = dirichlet_mdp(seed, n_states, n_actions, discount, successors, representation="dense")
    sparse = dirichlet_mdp(seed, n_states, n_actions, discount, successors, representation="sparse")
    return dense, sparse


def test_the_representation_follows_the_density():
    assert dirichlet_mdp(0, 300, 4, 0.9).representation == "dense"  # every entry non-zero
    assert dirichlet_mdp(0, 300, 4, 0.9, successors=3).representation == "sparse"  # density 1 %
    assert gridworld.open_grid(32, 32, slip=0.1, discount=0.99).mdp.representation == "sparse"
    assert gridworld.open_grid(4, 4, slip=0.1, discount=0.99).mdp.representation == "dense"  # tiny: dense whatever
    with pytest.raises(InvalidMDPError, match="representation is 'csr'"):
        dirichlet_mdp(0, 5, 2, 0.9, representation="csr")


def test_sparse_lu_that_fills_in_switches_to_a_dense_lu():
    grid = gridworld.open_grid(24, 24, slip=0.1, discount=0.99).mdp
    garnet = dirichlet_mdp(1, 600, 3, 0.99, successors=3)
    for mdp in (grid, garnet):
        assert mdp.representation == "sparse"
        occupancy(mdp, np.full(mdp.shape, 1.0 / mdp.n_actions))
    assert linear_solver(grid) == "sparse"  # SuperLU keeps a grid's factors sparse
    assert linear_solver(garnet) == "dense"  # a random pattern fills in


@pytest.mark.parametrize("seed, n_states, n_actions, discount, successors", [
    (0, 64, 4, 0.99, None), (1, 200, 3, 0.9, None), (2, 150, 5, 0.999, 3), (3, 500, 2, 0.99, 2),
])
def test_dense_and_sparse_engines_agree(seed, n_states, n_actions, discount, successors):
    dense, sparse = both(seed, n_states, n_actions, discount, successors)
    assert (dense.representation, sparse.representation) == ("dense", "sparse")
    reward = np.random.default_rng(seed).normal(size=dense.shape)
    a, b = solve(dense, reward), solve(sparse, reward)
    # both solvers stop within tol = 1e-10 of the fixed point, relative to max(1, ||V||)
    scale = max(1.0, np.abs(a.v).max())
    np.testing.assert_allclose(a.v, b.v, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(a.log_policy, b.log_policy, rtol=0, atol=1e-10 * scale)
    # the linear solves themselves agree to rounding on the same policy
    np.testing.assert_allclose(soft_policy_evaluation(dense, a.policy, reward).v,
                               soft_policy_evaluation(sparse, a.policy, reward).v, rtol=1e-11)
    np.testing.assert_allclose(occupancy(dense, a.policy), occupancy(sparse, a.policy), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dense.transitions, sparse.transitions, rtol=0, atol=0)
    np.testing.assert_allclose(dense.expected_next(a.v), sparse.expected_next(a.v), rtol=1e-12)
    np.testing.assert_allclose(dense.dense_policy_transitions(a.policy), sparse.dense_policy_transitions(a.policy), atol=1e-15)


def test_dense_and_sparse_trirl_runs_agree():
    dense, sparse = both(4, 80, 3, 0.95)
    rho_expert = occupancy(dense, solve(dense, np.random.default_rng(4).normal(size=dense.shape)).policy)
    runs = [trirl(m, rho_expert, eps=0.5, beta=1.0, eta=1.0, iterations=5) for m in (dense, sparse)]
    np.testing.assert_allclose(runs[0].reward, runs[1].reward, rtol=1e-10, atol=1e-10)
    for key in ("reverse_kl", "dual", "policy_kl"):
        np.testing.assert_allclose(runs[0].metric(key), runs[1].metric(key), rtol=1e-9, atol=1e-12)


def test_one_factorisation_serves_evaluation_and_occupancy():
    mdp = dirichlet_mdp(5, 120, 3, 0.99)
    pi = np.random.default_rng(5).dirichlet(np.ones(3), size=120)
    before = mdp.factorisations
    v = soft_policy_evaluation(mdp, pi, np.zeros(mdp.shape)).v
    d = occupancy(mdp, pi).sum(axis=1)
    assert mdp.factorisations == before + 1
    # each solve is the exact one: (I - gamma P_pi) v = r_pi and (I - gamma P_pi^T) d = mu0
    P_pi = mdp.dense_policy_transitions(pi)
    system = np.eye(120) - 0.99 * P_pi
    np.testing.assert_allclose(system @ v, -np.sum(pi * np.log(pi), axis=1), atol=1e-10)
    np.testing.assert_allclose(system.T @ d, mdp.initial, atol=1e-12)
    occupancy(mdp, np.full(mdp.shape, 1 / 3))  # a new policy is factorised anew
    assert mdp.factorisations == before + 2


def test_trirl_reports_factorisations_and_reuses_its_occupancy():
    mdp = dirichlet_mdp(6, 100, 4, 0.99)
    rho_expert = occupancy(mdp, solve(mdp, np.random.default_rng(6).normal(size=mdp.shape)).policy)
    policies = []
    result = trirl(mdp, rho_expert, eps=0.5, beta=1.0, eta=1.0, iterations=4, safeguard=False,
                   callback=lambda state, metrics: policies.append(state.log_policy))
    factorised = np.diff(result.metric("factorisations"))
    solves = np.diff(result.metric("solves"))
    # per iteration: one per policy-iteration step (the first reuses the previous iteration's
    # factorisation, the evaluation of the new policy adds one), none for occupancy or policy_kl
    np.testing.assert_array_equal(factorised, solves)
    assert np.all(solves >= 1)
    # the safeguard counts the evaluation that gives its dual V as a solve; its factorisation is
    # the one above, shared with the occupancy
    safe = trirl(mdp, rho_expert, eps=0.5, beta=1.0, eta=1.0, iterations=4)
    assert safe.history[-1]["total_backtracks"] == 0
    np.testing.assert_array_equal(np.diff(safe.metric("factorisations")), np.diff(safe.metric("solves")) - 1)
    # policy_kl weighted by the reused occupancy equals the one that solves for its own
    for old, new, row in zip(policies, policies[1:], result.history[2:]):
        assert row["policy_kl"] == pytest.approx(policy_kl(mdp, new, old), rel=1e-12, abs=1e-15)


def _blas_threads_now() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_thread_policy(monkeypatch):
    monkeypatch.delenv(BLAS_THREADS_ENV, raising=False)
    assert thread_limit(100) == 1 and thread_limit(100_000) is None
    assert thread_limit(100, limit="off") is None and thread_limit(100_000, limit=3) == 3
    monkeypatch.setenv(BLAS_THREADS_ENV, "off")
    assert thread_limit(100) is None
    monkeypatch.setenv(BLAS_THREADS_ENV, "2")
    assert thread_limit(100) == 2
    monkeypatch.setenv(BLAS_THREADS_ENV, "many")
    with pytest.raises(InvalidConfigError, match="TRIRL_BLAS_THREADS .* is 'many', expected 'auto', 'off' or an integer >= 1"):
        thread_limit(100)
    monkeypatch.delenv(BLAS_THREADS_ENV)
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS too)

    outside = _blas_threads_now()
    with blas_threads(100) as threads:
        assert threads == 1 and _blas_threads_now() == {1}
    assert _blas_threads_now() == outside


def test_the_driver_runs_small_problems_on_one_blas_thread(monkeypatch):
    monkeypatch.delenv(BLAS_THREADS_ENV, raising=False)
    mdp = dirichlet_mdp(7, 30, 2, 0.9)
    rho_expert = occupancy(mdp, solve(mdp, np.ones(mdp.shape)).policy)
    seen = []
    trirl(mdp, rho_expert, iterations=2, callback=lambda state, metrics: seen.append(_blas_threads_now()))
    assert seen == [{1}, {1}]


def _residuals(mdp, pi, v, d, r_pi):
    system = np.eye(mdp.n_states) - mdp.discount * mdp.dense_policy_transitions(pi)
    return np.abs(system @ v - r_pi).max(), np.abs(system.T @ d - mdp.initial).max()


def test_a_fast_mixing_dense_mdp_is_solved_without_factorising():
    mdp = dirichlet_mdp(8, 400, 3, 0.99)
    pi = np.random.default_rng(8).dirichlet(np.ones(3), size=400)
    reward = np.random.default_rng(9).normal(size=mdp.shape)
    v = soft_policy_evaluation(mdp, pi, reward).v
    d = occupancy(mdp, pi).sum(axis=1)
    assert mdp.factorisations == 0 and mdp._iterative_solves  # the iteration converged
    res_v, res_d = _residuals(mdp, pi, v, d, np.sum(pi * (reward - np.log(pi)), axis=1))
    assert res_v <= 1e-13 * np.abs(v).max() and res_d <= 1e-13 * d.max()


def test_a_slowly_mixing_dense_mdp_falls_back_to_the_lu():
    # every action stays put with probability 0.999: |lambda_2| ~ 1, the iteration stalls
    n, rng = 300, np.random.default_rng(10)
    P = 0.001 * rng.dirichlet(np.ones(n), size=(n, 2)) + 0.999 * np.eye(n)[:, None, :]
    mdp = MDP(P, np.full(n, 1 / n), 0.99)
    assert mdp.representation == "dense"
    pi = rng.dirichlet(np.ones(2), size=n)
    d = occupancy(mdp, pi).sum(axis=1)
    assert mdp.factorisations == 1 and not mdp._iterative_solves
    _, res_d = _residuals(mdp, pi, np.zeros(n), d, np.zeros(n))
    assert res_d <= 1e-13 * d.max()
    exact = np.linalg.solve(np.eye(n) - 0.99 * mdp.dense_policy_transitions(pi).T, mdp.initial)
    np.testing.assert_allclose(d, exact, rtol=1e-10)


def test_an_mdp_with_a_factorisation_still_pickles():
    import pickle

    mdp = gridworld.open_grid(6, 6, slip=0.1, discount=0.9).mdp
    mdp = MDP(mdp.transition_matrix, mdp.initial, 0.9, n_actions=mdp.n_actions, representation="sparse")
    rho = occupancy(mdp, np.full(mdp.shape, 0.2))
    copy = pickle.loads(pickle.dumps(mdp))
    np.testing.assert_allclose(occupancy(copy, np.full(mdp.shape, 0.2)), rho, rtol=1e-12)
