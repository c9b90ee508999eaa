"""Regression tests for ``book/findings.md``: each shrunk counterexample, with its exact parameters,
asserting the documented behaviour of exact TRIRL (fixed ``eta``, from ``r = 0``).

``kappa = eps (1 + beta) / (1 + eta)`` and ``alpha = eps beta / (1 + eta)``; ``eps_tr = kappa - alpha``.
"""

import numpy as np
import pytest

from trirl.verify.findings import Setting, expert_problem, run_setting
from trirl.verify.findings import example_mdp  # the 8-state example MDP
from trirl.verify.properties import increase, trirl_trace


def kl_increase(trace):
    return float(max(0.0, np.diff(trace.reverse_kl).max()))


def test_alpha_one_half_is_not_enough_when_eps_tr_is_large():
    """Shrunk by hypothesis: alpha = 0.5 (a step that is monotone on the 8-state example MDP) with eps = 1, beta = 0.5,
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
        (0.5, True, (0.0, 1e-14)),  # eps 0.5, eta 9999: monotone to rounding
        (1.0, True, (1e-11, 1e-9)),  # the reverse KL overshoots the Eq. 1 optimum by ~8e-11
        (1.75, False, (0.1, 10.0)),  # both break
    ],
)
def test_example_mdp_large_beta(alpha, dual_monotone, kl_increase_range):
    """The 8-state problem of tests/tabular/test_trirl.py with eps = 0.5, beta = 1e4 and eta chosen for
    alpha (eps_tr ~ 1e-4, the MCE-IRL limit): the dual survives alpha = 1; the reverse KL
    already rises at alpha = 1, by an amount of the order of KL(rho* || rho_E) = 2.3e-9 of
    the finite-beta optimum rho*, and both fail at alpha = 1.75."""
    mdp, rho_e = example_mdp()
    eps, beta = 0.5, 1e4
    eta = eps * beta / alpha - 1.0
    trace = trirl_trace(mdp, rho_e, eps, beta, eta, 40)
    assert (increase(trace.dual) <= 1e-12) == dual_monotone
    low, high = kl_increase_range
    assert low <= kl_increase(trace) <= high


def test_kappa_two_oscillates():
    """eta = 0, eps = 1, beta = 1 is kappa = 2, the stability boundary of the linearised iteration:
    the dual rises by 11 % and the reverse KL by 1.24 on the 8-state example MDP."""
    mdp, rho_e = example_mdp()
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


def test_alpha_one_half_fails_on_a_deterministic_mdp():
    """The setting that is monotone on the 8-state example MDP (eps = 0.5, beta = 1e4, eta = 9999: alpha = 0.5, kappa = 0.50005)
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


def test_reverse_kl_jumps_when_the_expert_underflows():
    """Shrunk by hypothesis from a deep `trirl verify` run (seed 20261123): inside nu <= 0.9 the
    reverse KL is not monotone when the expert's occupancy underflows on a reachable state.

    Two states, deterministic: in state 0 action 0 stays and action 1 moves to state 1, which
    loops forever. The expert (reward 9.34 in state 0, -19.24 in state 1, discount 0.99) never
    leaves state 0: rho_E of state 1 is ~exp(-2700), floored at 1e-300. The first step already
    brings the reverse KL from 688 to ~0, but beta * log(1e-300 / rho) puts rewards near -1e7,
    where float64 soft values lose their last digits, and at iteration 6 the KL jumps to 30.
    The monotone_reverse_kl property therefore excludes experts below 1e-12 (resolvable_expert)."""
    from trirl.tabular import MDP, occupancy, solve
    from trirl.verify.properties import trirl_trace

    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    mdp = MDP(P, [1.0, 0.0], 0.99)
    expert_reward = np.array([[9.341221603157134, 9.341221603157134], [-19.243611626857458, -19.243611626857458]])
    rho_expert = occupancy(mdp, solve(mdp, expert_reward).policy)
    rho_expert = np.maximum(rho_expert, 1e-300)
    rho_expert *= mdp.mass / rho_expert.sum()
    trace = trirl_trace(mdp, rho_expert, 4.9999983074910614e-05, 9999.0, 0.0, 10)
    assert trace.reverse_kl[0] > 600 and abs(trace.reverse_kl[1]) < 1e-6
    assert np.max(np.diff(trace.reverse_kl[1:])) > 1.0


def test_reverse_kl_overshoots_the_finite_beta_limit_and_settles_back():
    """Shrunk by hypothesis from the thorough `trirl verify` run (seed 20261123, case 9,199): the
    paper's "each policy gets closer to the expert in reverse KL" fails at finite beta even for a
    small step (nu = 0.75, alpha = 0.43) and a well-resolved expert (min rho_E = 0.053).

    Three states, deterministic, discount 0.9, state 2 absorbing, beta = 9, eta = 0. The iteration
    converges to the optimum of Eq. 1, which lies at KL_inf = 9.36e-5 from the expert, not 0. The
    first step lands closer to the expert than that (5.6e-5); the KL then rises past KL_inf
    (9.447e-5 at iteration 5) and settles back to it. The dual improves at every step. What holds
    (the monotone_reverse_kl property): no rise exceeds KL_inf, which vanishes as beta grows."""
    from trirl.tabular import occupancy, solve
    from trirl.verify import properties as P
    from trirl.verify.strategies import IRLCase, MDPSpec

    spec = MDPSpec(seed=5, n_states=3, n_actions=3, discount=0.9, structure="deterministic", n_absorbing=1, point_start=False)
    mdp = spec.build()
    expert_reward = np.broadcast_to(np.array([[0.1257302210933933], [-0.1321048632913019], [0.6404226504432821]]), mdp.shape)
    rho_expert = occupancy(mdp, solve(mdp, expert_reward).policy)
    eps, beta = 0.04743779214431584, 9.0
    trace = trirl_trace(mdp, rho_expert, eps, beta, 0.0, 60)
    kl_inf = P.eq1_reverse_kl(mdp, rho_expert, beta)
    assert kl_inf == pytest.approx(9.3615e-5, rel=1e-4)
    assert kl_inf == pytest.approx(trace.reverse_kl[-1], rel=1e-6)          # the fixed point of the iteration
    kl = trace.reverse_kl
    assert kl[1] < 0.6 * kl_inf                                              # the first step overshoots towards the expert
    assert np.diff(kl[:13]).max() > 1e-5                                     # the literal claim fails by 2e-5
    assert kl[:13].max() - kl_inf > 5e-7                                     # the KL passes its limit and comes back
    assert np.all(np.diff(trace.dual) <= 1e-12)                              # the dual improves throughout
    assert np.diff(kl).max() <= kl_inf                                       # what the property states
    case = IRLCase(mdp, spec, rho_expert, np.zeros(mdp.shape), eps, beta, 0.0, expert_reward)
    assert P.check_monotone_reverse_kl(case) == 0.0
    # and the bias shrinks with beta: at beta = 900 (same alpha) the limit is ~1e4 times closer
    assert P.eq1_reverse_kl(mdp, rho_expert, 900.0) < 1e-3 * kl_inf


def test_dual_oscillates_when_lambda_is_taken_at_the_expert_only():
    """Shrunk by hypothesis from the thorough `trirl verify` run (seed 20261123, case 753): the
    monotone_dual domain once measured lambda_max(J) at the expert's reward only.

    Two states, deterministic, discount 0.9; a nearly deterministic expert (min rho_E / Z = 3e-8).
    At the expert's reward lambda_max = 1.00, so eps = 1.5e-4, beta = 9999 (alpha = 1.5) has
    nu = 1.5; but the iteration starts at r = 0, where lambda_max = 1.76 and nu = 2.64 > 2: the
    iterates jump between two policies and the dual between ~7 and ~2.3 for ever. With lambda_max
    taken at both ends (the domain now), the same MDP at nu = 1.5 is monotone."""
    from trirl.tabular import occupancy, solve
    from trirl.verify.properties import jacobian_lambda_max
    from trirl.verify.strategies import MDPSpec

    mdp = MDPSpec(seed=1, n_states=2, n_actions=2, discount=0.9, structure="deterministic", n_absorbing=0, point_start=False).build()
    expert_reward = np.broadcast_to(np.array([[1.257302210933933], [-1.3210486329130189]]), mdp.shape)
    rho_expert = occupancy(mdp, solve(mdp, expert_reward).policy)
    lam_expert, lam_start = jacobian_lambda_max(mdp, expert_reward), jacobian_lambda_max(mdp, np.zeros(mdp.shape))
    assert lam_expert == pytest.approx(1.0, abs=1e-4) and lam_start == pytest.approx(1.7617, abs=1e-3)
    eps, beta = 0.00014999844665976908, 9999.0
    trace = trirl_trace(mdp, rho_expert, eps, beta, 0.0, 12)
    assert increase(trace.dual) > 2.0                                      # dual +2.4 relative, every other step
    assert np.all(np.diff(trace.dual[1::2]) > 0)                           # the odd iterates get worse and worse
    eps_tr = 1.5e-4
    alpha = (1.5 - eps_tr) / max(lam_expert, lam_start)                     # nu = 1.5 with both ends
    trace = trirl_trace(mdp, rho_expert, eps_tr, alpha / eps_tr, 0.0, 12)
    assert increase(trace.dual) == 0.0


def test_dual_needs_a_resolvable_expert_too():
    """Shrunk by hypothesis from the thorough `trirl verify` run (seed 20261123, case 3,625): 10
    states, sparse, discount 0.99, an expert whose normalised occupancy is 2e-13 on a reachable
    pair. nu = 1.0 at both ends of the path (lambda_max 4.66 at r = 0, 1.00 at the expert), but
    the first step, alpha log(rho_E / rho_0) ~ -6 on that pair, lands where lambda_max(J) = 62 and
    the dual rises from 9.1 to 21.3. monotone_dual now requires resolvable_expert (>= 1e-12),
    as monotone_reverse_kl already did."""
    from trirl.tabular import occupancy, solve
    from trirl.verify.properties import MIN_EXPERT_PROBABILITY, jacobian_lambda_max
    from trirl.verify.strategies import MDPSpec

    mdp = MDPSpec(seed=257, n_states=10, n_actions=2, discount=0.99, structure="sparse", n_absorbing=1, point_start=True).build()
    expert_reward = np.array([
        [1.513204553339458, -9.730854520660944], [9.535769065917949, -11.150367748516675],
        [-10.317991608827155, 15.74664243944355], [3.778945342251636, -1.4999796937323473],
        [-0.9184151993904922, -8.714621394099677], [7.439619069880915, -0.3321220027977215],
        [-1.6293784763379633, -0.05548828676524621], [-4.148377720133728, 18.978677062573293],
        [-5.515379127557724, -1.252467521830047], [-18.978992513709464, 4.975870542595647],
    ])
    rho_expert = occupancy(mdp, solve(mdp, expert_reward).policy)
    assert (1 - mdp.discount) * rho_expert.min() < MIN_EXPERT_PROBABILITY
    eps, beta = 2.1465817478167673e-05, 9998.999999999998
    lam = max(jacobian_lambda_max(mdp, np.zeros(mdp.shape)), jacobian_lambda_max(mdp, expert_reward))
    assert eps + eps * beta * lam == pytest.approx(1.0, abs=1e-3)
    trace = trirl_trace(mdp, rho_expert, eps, beta, 0.0, 12)
    assert trace.dual[2] > 2 * trace.dual[1]                                 # 9.1 -> 21.3
    assert trace.dual[-1] < 0.01 * trace.dual[0]                             # and then converges
