"""Algorithm 1's step as a function called by name (trirl.tabular.trust_region_step): it is the
learner's step, and its outputs are what Lemma 3.1 and Theorem 3.2 say they are."""

import numpy as np
import pytest

from trirl import core
from trirl.errors import InvalidConfigError
from trirl.tabular import TRIRLConfig, log_ratio, make_trirl, occupancy, random_mdp, solve, trust_region_step


def test_the_step_is_the_learners_step_and_satisfies_theorem_3_2():
    mdp = random_mdp(2, 6, 3, 0.9)
    rho_e = occupancy(mdp, solve(mdp, np.random.default_rng(2).normal(size=mdp.shape)).policy)
    config = TRIRLConfig(eps=0.5, beta=4.0, eta=3.0)
    learner = make_trirl(mdp, rho_e, config)
    state, _ = learner.step(learner.init())  # from a non-trivial pair
    ratio = log_ratio(np.log(rho_e), state.log_rho)
    step = trust_region_step(mdp, state, ratio, config.eps, config.beta, config.eta)
    after, metrics = learner.step(state)
    np.testing.assert_array_equal(step.reward, after.reward)
    np.testing.assert_array_equal(step.log_policy, after.log_policy)
    assert step.eta == metrics["eta"] == 3.0 and step.eps_tr == pytest.approx(0.5 / 4.0)
    # Lemma 3.1: the policy is soft-optimal for r_eta; Theorem 3.2: also for the corrected reward
    r_tilde = core.function_space_update(state.reward, ratio, config.eps, config.beta)
    lemma = solve(mdp, core.trust_region_reward(r_tilde, state.log_policy, 3.0)).log_policy
    np.testing.assert_allclose(step.log_policy, lemma, atol=1e-8)
    np.testing.assert_allclose(solve(mdp, step.reward).log_policy, step.log_policy, atol=1e-8)


def test_a_bad_eta_is_refused_naming_it():
    mdp = random_mdp(0)
    learner = make_trirl(mdp, occupancy(mdp, np.full(mdp.shape, 1 / 3)), TRIRLConfig())
    state = learner.init()
    with pytest.raises(InvalidConfigError, match="eta"):
        trust_region_step(mdp, state, np.zeros(mdp.shape), 0.5, 1.0, float("nan"))
