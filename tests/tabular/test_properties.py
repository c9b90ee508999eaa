"""Property tests over random MDPs: every property of ``trirl.verify.properties`` under hypothesis.

The statements, domains and tolerances live in ``trirl/verify/properties/`` (one copy, also
run by ``trirl verify``); the strategies in ``trirl/verify/strategies.py``. The number of
examples comes from the hypothesis profile (``tests/conftest.py``); the three expensive
properties (an optimiser or a TRIRL run per example) take a third of it.
"""

import numpy as np
import pytest
from hypothesis import given, settings

from trirl.tabular import occupancy, soft
from trirl.tabular.occupancies import monte_carlo_occupancy
from trirl.verify import properties as P
from trirl.verify import reference as ref
from trirl.verify import strategies as vs

EXPENSIVE = settings(max_examples=max(10, settings.default.max_examples // 3))


def assert_holds(name, *example):
    prop = P.BY_NAME[name]
    violation = prop.check(*example)
    assert violation <= prop.tolerance, f"{name}: violation {violation:.3e} > {prop.tolerance:.1e}"


@given(vs.mdp_policy())
def test_occupancy_flow(example):
    assert_holds("occupancy_flow", *example)


@given(vs.mdp_reward())
def test_soft_vi_fixed_point(example):
    assert_holds("soft_vi_fixed_point", *example)


@given(vs.mdp_reward())
def test_soft_pi_agrees_with_vi(example):
    assert_holds("soft_pi_agrees_with_vi", *example)


@given(vs.mdp_reward_policy())
def test_soft_optimal_dominates(example):
    assert_holds("soft_optimal_dominates", *example)


@given(vs.mdp_reward_potential())
def test_shaping_invariance(example):
    assert_holds("shaping_invariance", *example)


@given(vs.irl_case_policy())
def test_weak_duality(example):
    assert_holds("weak_duality", *example)


@given(vs.irl_case_seed())
def test_dual_gradient(example):
    assert_holds("dual_gradient", *example)


@given(vs.irl_cases())
def test_descent_direction(case):
    assert_holds("descent_direction", case)


@given(vs.irl_cases())
def test_theorem_3_2(case):
    assert_holds("theorem_3_2", case)


@EXPENSIVE
@given(vs.irl_cases())
def test_lemma_3_1(case):
    assert_holds("lemma_3_1", case)


@EXPENSIVE
@given(vs.irl_case_kl_bound(max_states=6, max_discount=0.95, max_scale=10.0))
def test_lemma_3_1_constrained(example):
    assert_holds("lemma_3_1_constrained", *example)


# the monotone claims hold on a stated domain: draw from the property's own strategy
@EXPENSIVE
@given(P.BY_NAME["monotone_dual"].strategy())
def test_monotone_dual(example):
    assert_holds("monotone_dual", *example)


@EXPENSIVE
@given(P.BY_NAME["monotone_reverse_kl"].strategy())
def test_monotone_reverse_kl(example):
    assert_holds("monotone_reverse_kl", *example)


# ---------------------------------------------------------------------------------------------
# the independent references are themselves checked


@given(vs.irl_case_seed(max_states=5))
def test_reference_gradient_matches_finite_differences(example):
    case, seed = example
    mdp = case.mdp
    P_, gamma = ref.dense_transitions(mdp), mdp.discount
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=mdp.shape)
    r = np.clip(case.reward, -10, 10)
    out = ref.soft_return(P_, mdp.initial, gamma, r, logits, tau=1.5)
    u = rng.normal(size=mdp.shape)
    h = 1e-5
    fd = (ref.soft_return(P_, mdp.initial, gamma, r, logits + h * u, 1.5).value
          - ref.soft_return(P_, mdp.initial, gamma, r, logits - h * u, 1.5).value) / (2 * h)
    assert abs(fd - np.sum(out.gradient * u)) <= 1e-6 * max(1.0, np.abs(out.gradient).sum()) / (1 - gamma)


def test_reference_return_matches_occupancy_sum(small_mdp):
    rng = np.random.default_rng(0)
    logits, r = rng.normal(size=small_mdp.shape), rng.normal(size=small_mdp.shape)
    log_pi = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    rho = occupancy(small_mdp, np.exp(log_pi))
    out = ref.soft_return(ref.dense_transitions(small_mdp), small_mdp.initial, small_mdp.discount, r, logits)
    assert out.value == pytest.approx(np.sum(rho * (r - log_pi)), rel=1e-12)


@settings(max_examples=15)
@given(vs.irl_cases(max_states=5, max_discount=0.9, max_scale=1.0).filter(P.resolvable_expert))
def test_reference_eq1_optimum_is_the_fixed_point_of_the_function_space_iteration(case):
    # Eq. 1's optimum rho* is soft-optimal for r* = beta log(rho_E / rho*) (strong duality): the
    # reference finds it over policy logits, the engine checks it through a soft solve
    mdp, beta = case.mdp, float(np.clip(case.beta, 0.1, 10.0))
    P_ = ref.dense_transitions(mdp)
    log_pi = ref.eq1_optimum(P_, mdp.initial, mdp.discount, case.rho_expert, beta)
    rho = occupancy(mdp, np.exp(log_pi))
    reachable = mdp.reachable
    r_star = np.zeros(mdp.shape)
    r_star[reachable] = beta * (np.log(case.rho_expert[reachable]) - np.log(rho[reachable]))
    resolved = np.exp(soft.solve(mdp, r_star).log_policy)
    assert np.abs(resolved - np.exp(log_pi))[reachable].max() < 1e-6


# ---------------------------------------------------------------------------------------------
# slow: Monte Carlo and long monotonicity sweeps


@pytest.mark.slow
@settings(max_examples=20)
@given(vs.mdp_policy(max_states=5, max_discount=0.9))
def test_monte_carlo_occupancy_matches_exact(example):
    mdp, pi = example
    horizon = int(np.ceil(np.log(1e-6) / np.log(max(mdp.discount, 1e-3)))) if mdp.discount > 0 else 1
    mc = monte_carlo_occupancy(mdp, pi, 4000, horizon, seed=0)
    exact = occupancy(mdp, pi)
    # each normalised entry is a mean of 4000 bounded draws: 6 standard errors of a proportion
    assert np.abs(mc - exact).max() / mdp.mass <= 6 * 0.5 / np.sqrt(4000) + 1e-6


@pytest.mark.slow
@settings(max_examples=200)
@given(vs.stepped_cases(max_nu=P.MONOTONE_KL_NU))
def test_monotone_sweep_both_metrics(case):
    assert_holds("monotone_dual", case)
    assert_holds("monotone_reverse_kl", case)


# ---------------------------------------------------------------------------------------------
# cases the thorough run found in the checks themselves (not in the engine)


@pytest.mark.parametrize("spec, expert_reward, reward, beta, seed", [
    # ||r|| = 256, beta = 10: a plain central difference at h = 0.026 had a truncation error of 1.2e-5
    (vs.MDPSpec(9, 2, 3, 0.0, "dense", 0, False), [1.257302210933933e-3, -1.3210486329130189e-3],
     [204.09191213851824, -255.5665031314182], 10.0, 2),
    # discount 0.99, ||r|| = 151, beta = 0.17: the solver's V errors (~1e-11 of ||V||) gave 4e-5
    (vs.MDPSpec(2383820, 5, 2, 0.99, "dense", 1, True),
     [0.8234494076395117, -0.3751114708626986, 3.9075504411456863, -3.6725982825638663, -3.584712421039025],
     [-76.73653812772007, -75.89929722351042, 30.627171329918003, 14.3009454657242, -151.41108175141804],
     0.17203032638667115, 409927),
])
def test_dual_gradient_check_is_accurate_where_plain_differences_were_not(spec, expert_reward, reward, beta, seed):
    mdp = spec.build()
    expert = np.broadcast_to(np.asarray(expert_reward)[:, None], mdp.shape)
    rho_e = occupancy(mdp, soft.solve(mdp, expert).policy)
    case = vs.IRLCase(mdp, spec, rho_e, np.broadcast_to(np.asarray(reward)[:, None], mdp.shape).copy(), 1.0, beta, 0.0, expert)
    assert P.check_dual_gradient(case, seed) <= 0.1 * P.DUAL_GRADIENT_TOLERANCE


@given(vs.mdp_reward_offset())
def test_reward_offset_invariance(example):
    assert_holds("reward_offset_invariance", *example)
