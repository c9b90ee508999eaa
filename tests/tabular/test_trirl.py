import numpy as np
import pytest

from trirl.tabular import random_mdp
from trirl import InvalidConfigError
from trirl.rundir import RunDir
from trirl.tabular import (
    empirical_occupancy,
    occupancy,
    policy_kl,
    sample_trajectories,
    solve,
    trirl,
)

# effective step alpha = eps * beta / (1 + eta) = 0.5: the monotone regime (book/findings)
DEFAULTS = dict(eps=0.5, beta=1e4, eta=9999.0)


@pytest.fixture
def problem():
    mdp = random_mdp(1, n_states=8, n_actions=4, discount=0.95, sparsity=4.0)
    expert = solve(mdp, np.random.default_rng(1).normal(size=mdp.shape) * 2)
    return mdp, expert, occupancy(mdp, expert.policy)


def test_recovers_the_expert_and_improves_monotonically(problem):
    mdp, expert, rho_e = problem
    result = trirl(mdp, rho_e, iterations=40, **DEFAULTS)
    kl, dual = result.metric("reverse_kl"), result.metric("dual")
    assert kl[-1] <= 1e-6
    assert np.abs(result.policy - expert.policy).max() <= 1e-3
    assert np.all(np.diff(dual) <= 1e-9 * np.abs(dual[1:]))
    assert np.all(np.diff(kl) <= 1e-12)
    assert result.metric("correction_gap").max() < 1e-8  # Theorem 3.2 holds to rounding
    # the learned reward, re-optimised from scratch, gives back the expert's policy
    np.testing.assert_allclose(solve(mdp, result.reward).policy, expert.policy, atol=1e-3)


def test_history_has_the_shared_metric_names(problem):
    mdp, _, rho_e = problem
    result = trirl(mdp, rho_e, iterations=3, **DEFAULTS)
    assert [row["iteration"] for row in result.history] == [0, 1, 2, 3]
    for name in ("iteration", "eta", "eps_tr", "reverse_kl", "policy_kl", "dual", "backups", "wall_time"):
        assert name in result.history[-1]
    assert result.history[1]["eps_tr"] == pytest.approx(0.5 / 1e4)


def test_too_large_a_step_breaks_monotonicity(problem):
    """eta = 0 and eps = 1 with beta = 1 jumps to r = beta log(rho_E / rho_pi) and oscillates."""
    mdp, _, rho_e = problem
    dual = trirl(mdp, rho_e, eps=1.0, beta=1.0, eta=0.0, iterations=10, safeguard=False).metric("dual")
    assert np.any(np.diff(dual) > 0)
    # the default (safeguarded) step backtracks instead: the same eps, a dual that never rises
    safe = trirl(mdp, rho_e, eps=1.0, beta=1.0, eta=0.0, iterations=10)
    assert safe.history[-1]["total_backtracks"] > 0
    assert np.all(np.diff(safe.metric("dual")) <= 1e-11 * np.abs(safe.metric("dual")[1:]))


def test_solved_eta_meets_the_kl_bound(problem):
    mdp, _, rho_e = problem
    result = trirl(mdp, rho_e, eps=1.0, beta=1.0, kl_bound=0.05, iterations=3)
    for row in result.history[1:]:
        if row["eta"] > 0:
            assert row["policy_kl"] == pytest.approx(0.05, rel=1e-6)
        else:
            assert row["policy_kl"] <= 0.05


def test_inexact_inner_solves_break_the_correction_identity(problem):
    mdp, _, rho_e = problem
    gaps = trirl(mdp, rho_e, inner_steps=1, iterations=5, **DEFAULTS).metric("correction_gap")
    assert gaps[1:].max() > 1e-4


def test_learns_from_sampled_demonstrations(problem):
    mdp, expert, rho_e = problem
    demos = sample_trajectories(mdp, expert.policy, 500, 100, seed=0)
    rho_hat = empirical_occupancy(mdp, demos, smoothing=1e-3)
    result = trirl(mdp, rho_hat, iterations=40, **DEFAULTS)
    assert occupancy(mdp, result.policy).sum() == pytest.approx(mdp.mass)
    assert np.abs(result.policy - expert.policy).max() < 0.2


def test_resume_reproduces_the_uninterrupted_run(problem, tmp_path):
    mdp, _, rho_e = problem
    full = trirl(mdp, rho_e, iterations=8, **DEFAULTS)
    config = {"world": "random"}
    trirl(mdp, rho_e, iterations=5, run_dir=RunDir(tmp_path, config), **DEFAULTS)
    resumed = trirl(mdp, rho_e, iterations=8, run_dir=RunDir(tmp_path, config, resume=True), **DEFAULTS)
    np.testing.assert_allclose(resumed.reward, full.reward, rtol=1e-12)
    np.testing.assert_allclose(resumed.metric("dual"), full.metric("dual"), rtol=1e-12)


def test_nan_stops_the_run_with_a_named_error(problem, tmp_path):
    mdp, _, rho_e = problem
    with pytest.raises(InvalidConfigError, match="eta schedule gave nan at iteration 2"):
        trirl(mdp, rho_e, eta=lambda i: float("nan") if i == 2 else 1.0, iterations=5, run_dir=RunDir(tmp_path, {}))
    assert RunDir(tmp_path, {}, resume=True).latest_checkpoint().step == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(eps=0.0), "eps"), (dict(eps=1.5), "eps"), (dict(beta=0.0), "beta"), (dict(eta=-1.0), "eta"),
     (dict(kl_bound=-1.0), "kl_bound"), (dict(inner_steps=0), "inner_steps"), (dict(iterations=-1), "iterations")],
)
def test_bad_configuration_is_named(problem, kwargs, message):
    mdp, _, rho_e = problem
    with pytest.raises(InvalidConfigError, match=message):
        trirl(mdp, rho_e, **{"iterations": 1, **kwargs})


def test_policy_kl_metric_is_the_trust_region_quantity(problem):
    mdp, _, rho_e = problem
    result = trirl(mdp, rho_e, iterations=1, **DEFAULTS)
    initial = np.full(mdp.shape, -np.log(mdp.n_actions))
    assert result.history[1]["policy_kl"] == pytest.approx(policy_kl(mdp, result.log_policy, initial))


def test_until_stops_early(problem):
    mdp, _, rho_e = problem
    result = trirl(mdp, rho_e, iterations=100, until=lambda m: m["reverse_kl"] <= 1e-3, **DEFAULTS)
    kl = result.metric("reverse_kl")
    assert kl[-1] <= 1e-3 < kl[-2] and len(kl) < 101
