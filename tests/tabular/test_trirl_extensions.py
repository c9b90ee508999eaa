"""The safeguarded TRIRL step and TRIRL in restricted reward classes."""

import numpy as np
import pytest

from trirl.tabular import random_mdp
from trirl import InvalidConfigError
from trirl.rundir import RunDir
from trirl.tabular import occupancy, solve, trirl
from trirl.tabular.rewards import log_mean_weights, make_reward_class, projection_weights

EXACT = dict(eps=0.25, beta=1e4, eta=9999.0)


@pytest.fixture(scope="module")
def problem():
    mdp = random_mdp(1, n_states=8, n_actions=4, discount=0.95, sparsity=4.0)
    expert = solve(mdp, np.random.default_rng(1).normal(size=mdp.shape) * 2)
    return mdp, expert, occupancy(mdp, expert.policy)


# -- safeguard -----------------------------------------------------------------------------------


def test_safeguard_makes_a_too_large_step_monotone(problem):
    """alpha = eps beta / (1 + eta) = 1e4: plain TRIRL blows up, the safeguard backtracks."""
    mdp, _, rho_e = problem
    plain = trirl(mdp, rho_e, eps=1.0, beta=1e4, eta=0.0, iterations=4, safeguard=False).metric("dual")
    assert np.any(np.diff(plain) > 0)
    safe = trirl(mdp, rho_e, eps=1.0, beta=1e4, eta=0.0, safeguard=True, iterations=12)
    dual = safe.metric("dual")
    assert np.all(np.diff(dual) <= 1e-11 * np.abs(dual[1:]))
    backtracks = safe.metric("backtracks")
    assert backtracks[1] > 0
    assert safe.history[-1]["total_backtracks"] == backtracks[1:].sum()
    # every accepted step is a halving of the step the iteration started from: eps = 1 at first,
    # then twice the step accepted before (at most eps)
    accepted = safe.metric("eps")[1:]
    starts = np.minimum(1.0, 2.0 * np.concatenate([[0.5], accepted[:-1]]))
    assert np.allclose(accepted, starts * 0.5 ** backtracks[1:])
    assert safe.metric("reverse_kl")[-1] < 1e-3
    assert safe.algorithm == "trirl"


def test_the_step_grows_back_after_accepted_steps(problem):
    """A world that needs a small step pays its halvings once, not in every iteration."""
    mdp, _, rho_e = problem
    safe = trirl(mdp, rho_e, eps=1.0, beta=1e4, eta=0.0, iterations=12)
    backtracks = safe.metric("backtracks")[1:]
    first = backtracks[0]
    assert first >= 3
    # later iterations start from twice the last accepted step: a halving or two each, not `first`
    assert backtracks[1:].max() < first and backtracks[1:].mean() <= 1.5


def test_safeguard_costs_nothing_when_the_step_is_fine(problem):
    mdp, _, rho_e = problem
    plain = trirl(mdp, rho_e, iterations=5, safeguard=False, **EXACT)
    safe = trirl(mdp, rho_e, iterations=5, safeguard=True, **EXACT)
    assert plain.algorithm == "trirl-fixed" and safe.algorithm == "trirl"
    assert safe.history[-1]["total_backtracks"] == 0
    # the same steps, bit for bit: the safeguard only checks them
    np.testing.assert_array_equal(safe.reward, plain.reward)
    np.testing.assert_array_equal(safe.log_policy, plain.log_policy)
    np.testing.assert_array_equal(safe.metric("dual"), plain.metric("dual"))
    # the backup that confirms V of the corrected reward is counted (the fixed step computes it too)
    assert safe.history[-1]["backups"] - plain.history[-1]["backups"] <= 5


def test_safeguard_rejects_a_step_it_cannot_repair(problem):
    mdp, _, rho_e = problem
    result = trirl(mdp, rho_e, eps=1.0, beta=1e4, eta=0.0, safeguard=True, max_backtracks=0, iterations=1)
    assert result.history[1]["eps_tr"] == 0.0
    np.testing.assert_array_equal(result.reward, np.zeros(mdp.shape))


def test_safeguard_resumes(problem, tmp_path):
    mdp, _, rho_e = problem
    kwargs = dict(eps=1.0, beta=1e4, eta=0.0, safeguard=True)
    full = trirl(mdp, rho_e, iterations=4, **kwargs)
    trirl(mdp, rho_e, iterations=2, run_dir=RunDir(tmp_path, {}), **kwargs)
    resumed = trirl(mdp, rho_e, iterations=4, run_dir=RunDir(tmp_path, {}, resume=True), **kwargs)
    assert resumed.history[-1]["total_backtracks"] == full.history[-1]["total_backtracks"]
    np.testing.assert_allclose(resumed.reward, full.reward, rtol=1e-12)


# -- reward classes ------------------------------------------------------------------------------


def test_one_hot_linear_features_equal_tabular(problem):
    mdp, _, rho_e = problem
    S, A = mdp.shape
    one_hot = np.eye(S * A).reshape(S, A, S * A)
    tabular = trirl(mdp, rho_e, iterations=6, **EXACT)
    linear = trirl(mdp, rho_e, iterations=6, reward_class="linear", features=one_hot, **EXACT)
    np.testing.assert_allclose(linear.log_policy, tabular.log_policy, atol=1e-9)
    np.testing.assert_allclose(linear.reward, tabular.reward, rtol=1e-9, atol=1e-9 * np.abs(tabular.reward).max())
    np.testing.assert_allclose(linear.metric("reverse_kl"), tabular.metric("reverse_kl"), rtol=1e-6)
    assert linear.metric("projection_error").max() < 1e-6


def test_state_only_reward_is_constant_across_actions(problem):
    mdp, _, rho_e = problem
    result = trirl(mdp, rho_e, iterations=15, reward_class="state_only", **EXACT)
    assert np.ptp(result.reward, axis=1).max() == 0.0
    kl, dual = result.metric("reverse_kl"), result.metric("dual")
    assert kl[-1] < kl[0]
    # the expert's reward is state-action, so the class cannot reach it: the projection loses a part
    assert result.metric("projection_error")[1] > 1.0
    assert np.all(np.diff(dual) <= 1e-9 * np.abs(dual[1:]))


def test_projected_update_keeps_theorem_3_2_and_the_dual_monotone(problem):
    """Both projections use one linear operator that fixes r^(i), so the corrected reward's MCE
    policy is the trust-region policy; the log-mean weighting keeps the dual decreasing."""
    mdp, _, rho_e = problem
    features = np.random.default_rng(0).normal(size=(*mdp.shape, 5))
    result = trirl(mdp, rho_e, iterations=30, reward_class="linear", features=features, **EXACT)
    assert result.metric("correction_gap").max() < 1e-8
    dual = result.metric("dual")
    assert np.all(np.diff(dual) <= 1e-9 * np.abs(dual[1:]))
    assert result.metric("reverse_kl")[-1] < result.metric("reverse_kl")[0]


def test_state_features_broadcast_over_actions(problem):
    mdp, _, rho_e = problem
    state_features = np.random.default_rng(1).normal(size=(mdp.n_states, 3))
    result = trirl(mdp, rho_e, iterations=3, reward_class="linear", features=state_features, **EXACT)
    assert np.ptp(result.reward, axis=1).max() < 1e-9 * np.abs(result.reward).max()


def test_projection_weights():
    mdp = random_mdp(0)
    rho = occupancy(mdp, np.full(mdp.shape, 1.0 / mdp.n_actions))
    w = projection_weights(mdp, rho, rho, floor=0.0)
    np.testing.assert_allclose(w, (1 - mdp.discount) * rho)
    # the logarithmic mean of 1 and e is e - 1; of equal arguments the argument
    q = np.e * rho
    np.testing.assert_allclose(log_mean_weights(mdp, rho, q, floor=0.0), (1 - mdp.discount) * rho * (np.e - 1))
    np.testing.assert_allclose(log_mean_weights(mdp, rho, rho, floor=0.0), (1 - mdp.discount) * rho)


def test_state_only_projection_is_the_weighted_action_mean():
    mdp = random_mdp(0, n_states=2, n_actions=2)
    cls = make_reward_class(mdp, "state_only")
    target = np.array([[1.0, 3.0], [2.0, 2.0]])
    weights = np.array([[1.0, 3.0], [1.0, 1.0]])
    np.testing.assert_allclose(cls.project(target, weights), [2.5, 2.0])


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(reward_class="neural"), "reward_class"), (dict(features=np.ones((8, 2))), "reward_class='linear'"),
     (dict(reward_class="linear"), "needs features"), (dict(reward_class="linear", features=np.ones((3, 2))), "features has shape"),
     (dict(max_backtracks=-1), "max_backtracks")],
)
def test_bad_extension_configuration_is_named(problem, kwargs, message):
    mdp, _, rho_e = problem
    with pytest.raises(InvalidConfigError, match=message):
        trirl(mdp, rho_e, iterations=1, **kwargs)
