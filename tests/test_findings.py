"""Regression tests for ``book/findings.md``: each shrunk counterexample, with its exact parameters,
asserting the documented behaviour of exact TRIRL (fixed ``eta``, from ``r = 0``).

``kappa = eps (1 + beta) / (1 + eta)`` and ``alpha = eps beta / (1 + eta)``; ``eps_tr = kappa - alpha``.
"""

import numpy as np
import pytest

from trirl.verify.findings import Setting, expert_problem, lead_problem, run_setting
from trirl.verify.properties import increase, trirl_trace


def kl_increase(trace):
    return float(max(0.0, np.diff(trace.reverse_kl).max()))


def test_alpha_one_half_is_not_enough_when_eps_tr_is_large():
    """Shrunk by hypothesis: alpha = 0.5 (the lead's "monotone" step) with eps = 1, beta = 0.5,
    i.e. kappa = 1.5: the dual still decreases, the reverse KL jumps up by 0.30."""
    setting = Setting(seed=0, n_states=2, n_actions=2, discount=0.0, structure="dense", eps=1.0, beta=0.5, eta=0.0)
    assert (setting.alpha, setting.kappa) == (0.5, 1.5)
    dual_up, kl_up = run_setting(setting)
    assert dual_up <= 1e-12
    assert kl_up == pytest.approx(0.297, abs=0.01)


def test_reverse_kl_fails_below_kappa_one_at_high_discount():
    """Sweep counterexample: discount 0.9, eps_tr = 0.099, beta = 9 (kappa = 0.99, alpha = 0.891):
    dual monotone, reverse KL up by 2.2e-4, so the KL domain must stop below 1 (it is 0.9)."""
    setting = Setting(seed=0, n_states=6, n_actions=3, discount=0.9, structure="dense", eps=0.099, beta=9.0, eta=0.0)
    assert setting.kappa == pytest.approx(0.99)
    dual_up, kl_up = run_setting(setting)
    assert dual_up <= 1e-12
    assert kl_up == pytest.approx(2.19e-4, rel=0.05)


@pytest.mark.parametrize(
    "alpha, dual_monotone, kl_increase_range",
    [
        (0.5, True, (0.0, 1e-14)),  # the lead's setting: monotone to rounding
        (1.0, True, (1e-11, 1e-9)),  # the reverse KL overshoots the Eq. 1 optimum by ~8e-11
        (1.75, False, (0.1, 10.0)),  # both break
    ],
)
def test_lead_problem_large_beta(alpha, dual_monotone, kl_increase_range):
    """The 8-state problem of tests/test_trirl.py with eps = 0.5, beta = 1e4 and eta chosen for
    alpha (eps_tr ~ 1e-4, the MCE-IRL limit): the dual survives alpha = 1; the reverse KL
    already rises at alpha = 1, by an amount of the order of KL(rho* || rho_E) = 2.3e-9 of
    the finite-beta optimum rho*, and both fail at alpha = 1.75."""
    mdp, rho_e = lead_problem()
    eps, beta = 0.5, 1e4
    eta = eps * beta / alpha - 1.0
    trace = trirl_trace(mdp, rho_e, eps, beta, eta, 40)
    assert (increase(trace.dual) <= 1e-12) == dual_monotone
    low, high = kl_increase_range
    assert low <= kl_increase(trace) <= high


def test_kappa_two_oscillates():
    """eta = 0, eps = 1, beta = 1 is kappa = 2, the stability boundary of the linearised iteration:
    the dual rises by 11 % and the reverse KL by 1.24 on the lead's problem."""
    mdp, rho_e = lead_problem()
    trace = trirl_trace(mdp, rho_e, 1.0, 1.0, 0.0, 10)
    assert increase(trace.dual) == pytest.approx(0.113, rel=0.02)
    assert kl_increase(trace) == pytest.approx(1.245, rel=0.02)


def test_dual_fails_beyond_kappa_two_even_on_two_states():
    """Shrunk by hypothesis: eps = 0.5, beta = 4 (kappa = 2.5, alpha = 2) on 2 states, discount 0."""
    setting = Setting(seed=0, n_states=2, n_actions=2, discount=0.0, structure="dense", eps=0.5, beta=4.0, eta=0.0)
    dual_up, kl_up = run_setting(setting)
    assert dual_up == pytest.approx(2.81, rel=0.02)
    assert kl_up > 1.0


def test_only_the_corrected_step_matters():
    """Theorem 3.2 makes exact TRIRL depend on (eps, eta) only through eps_tr = eps / (1 + eta):
    eps = 0.5, eta = 0 and eps = 1, eta = 1 give the same iterates, so a sweep over eta is redundant."""
    mdp, rho_e = expert_problem(3, 5, 3, 0.9)
    a = trirl_trace(mdp, rho_e, 0.5, 3.0, 0.0, 8)
    b = trirl_trace(mdp, rho_e, 1.0, 3.0, 1.0, 8)
    np.testing.assert_allclose(a.dual, b.dual, rtol=1e-9)
    np.testing.assert_allclose(a.reverse_kl, b.reverse_kl, rtol=1e-6, atol=1e-12)


def test_lead_setting_alpha_one_half_fails_on_a_deterministic_mdp():
    """The lead's monotone setting (eps = 0.5, beta = 1e4, eta = 9999: alpha = 0.5, kappa = 0.50005)
    breaks both monotonicities on a 6-state deterministic MDP at discount 0.99, whose
    lambda_max(J) = 5.13 puts the linearised stability bound at kappa = 2 / 5.13 = 0.39."""
    setting = Setting(seed=47, n_states=6, n_actions=3, discount=0.99, structure="deterministic", eps=0.5, beta=1e4, eta=9999.0)
    dual_up, kl_up = run_setting(setting)
    assert dual_up > 1e-3
    assert kl_up > 1e-3


def test_dual_fails_at_kappa_1_42_on_three_states():
    """Shrunk by hypothesis (CI profile): 3 states, one absorbing, deterministic, discount 0.9,
    a near-uniform expert; eps = 1, beta = 0.4166, eta = 0 (kappa = 1.42) with lambda_max(J) = 2.67,
    i.e. nu = 2.11: the dual rises by 1.4e-5. With beta = 0.3 (nu = 1.80) it is monotone again."""
    from trirl.tabular import occupancy, solve
    from trirl.verify.properties import jacobian_lambda_max
    from trirl.verify.strategies import MDPSpec

    mdp = MDPSpec(seed=0, n_states=3, n_actions=2, discount=0.9, structure="deterministic", n_absorbing=1, point_start=False).build()
    expert_reward = np.array([[0.0012573, 0.0012573], [-0.00132105, -0.00132105], [0.00640423, 0.00640423]])
    rho_e = occupancy(mdp, solve(mdp, expert_reward).policy)
    assert jacobian_lambda_max(mdp, expert_reward) == pytest.approx(2.666, abs=0.01)
    assert increase(trirl_trace(mdp, rho_e, 1.0, 0.4165783802053667, 0.0, 12).dual) == pytest.approx(1.356e-5, rel=0.05)
    assert increase(trirl_trace(mdp, rho_e, 1.0, 0.3, 0.0, 12).dual) <= 1e-12
