"""TRIRL's relatives on the exact engine: hand-worked numbers, the registry, learning thresholds."""

import math

import numpy as np
import pytest
from scipy.special import expit, log_expit

from trirl.tabular import random_mdp
from trirl import InvalidConfigError
from trirl.rundir import RunDir
from trirl.tabular import occupancy, solve
from trirl.tabular.algorithms.airl import airl_logits, airl_shaped_reward, discriminator_steps, transitions
from trirl.tabular.algorithms.common import mce_dual
from trirl.tabular.algorithms.gail import exact_discriminator_logits, gail, gail_reward, logistic_steps
from trirl.tabular.algorithms.mce_irl import mce_irl
from trirl.tabular.algorithms.ml_irl import ml_irl
from trirl.tabular.algorithms.piro import adapt_mu, piro
from trirl.tabular.algorithms.registry import ALGORITHMS, iterations_to

# chain_mdp: state 0 -> 1 under both actions, 1 absorbing, discount 0.9; the uniform policy has
# rho = [[0.5, 0.5], [4.5, 4.5]]; this expert has the same state occupancy d = [1, 9]
CHAIN_EXPERT = np.array([[0.8, 0.2], [3.0, 6.0]])
CHAIN_UNIFORM = np.array([[0.5, 0.5], [4.5, 4.5]])


@pytest.fixture(scope="module")
def problem():
    mdp = random_mdp(1, n_states=8, n_actions=4, discount=0.95, sparsity=4.0)
    expert = solve(mdp, np.random.default_rng(1).normal(size=mdp.shape) * 2)
    return mdp, occupancy(mdp, expert.policy)


# -- numbers worked by hand ----------------------------------------------------------------------


def test_one_mce_irl_step_on_the_chain(chain_mdp):
    result = mce_irl(chain_mdp, CHAIN_EXPERT, lr=0.5, iterations=1)
    # r = lr * (rho_E - rho_pi) at the uniform policy
    np.testing.assert_allclose(result.reward, [[0.15, -0.15], [-0.75, 0.75]], atol=1e-15)
    # the successor value is the same for both actions, so pi(.|s) = softmax(r(s, .))
    assert result.policy[0, 0] == pytest.approx(1 / (1 + math.exp(-0.3)), abs=1e-12)
    assert result.policy[1, 1] == pytest.approx(1 / (1 + math.exp(-1.5)), abs=1e-12)
    v1 = math.log(math.exp(-0.75) + math.exp(0.75)) / 0.1
    v0 = math.log(math.exp(0.15) + math.exp(-0.15)) + 0.9 * v1
    expected_dual = v0 - (0.8 * 0.15 - 0.2 * 0.15 - 3 * 0.75 + 6 * 0.75)
    assert result.history[1]["dual"] == pytest.approx(expected_dual, rel=1e-10)
    assert result.history[1]["dual"] == pytest.approx(6.927074746313302, rel=1e-10)


def test_mce_dual_is_minus_the_expert_log_likelihood(small_mdp):
    rng = np.random.default_rng(0)
    reward = rng.normal(size=small_mdp.shape)
    rho_e = occupancy(small_mdp, solve(small_mdp, rng.normal(size=small_mdp.shape)).policy)
    solution = solve(small_mdp, reward)
    assert mce_dual(small_mdp, reward, rho_e, solution.v) == pytest.approx(-np.sum(rho_e * solution.log_policy), rel=1e-9)


def test_one_piro_step_on_the_chain(chain_mdp):
    """r = 0 keeps the uniform policy; the proximal step is (p_E - p_pi) / (mu (p_E + p_pi))."""
    result = piro(chain_mdp, CHAIN_EXPERT, mu=2.0, target=0.1, iterations=1)
    expected = (CHAIN_EXPERT - CHAIN_UNIFORM) / (2.0 * (CHAIN_EXPERT + CHAIN_UNIFORM))
    np.testing.assert_allclose(result.reward, expected, rtol=1e-8)
    np.testing.assert_allclose(result.reward[0], [0.3 / 2.6, -0.3 / 1.4], rtol=1e-8)
    w = (CHAIN_EXPERT + CHAIN_UNIFORM) / 2 / 10
    assert result.history[1]["reward_change"] == pytest.approx(math.sqrt(np.sum(w * expected**2)), rel=1e-8)
    assert result.history[1]["reward_change"] == pytest.approx(0.094346, abs=1e-6)
    assert result.state.mu == 2.0  # 0.094 is inside [0.1 / 1.5, 0.1 * 1.5]


def test_piro_mu_adaptation_rule():
    changes = [0.2, 0.3, 0.1, 0.05, 0.01, 0.01]
    mu, seen = 1.0, []
    for change in changes:
        mu = adapt_mu(mu, change, target=0.1, x=1.5, y=2.0, mu_min=0.5)
        seen.append(mu)
    # > 0.15 doubles, inside [0.0667, 0.15] keeps, < 0.0667 halves, never below mu_min
    assert seen == [2.0, 4.0, 4.0, 2.0, 1.0, 0.5]
    assert adapt_mu(0.5, 0.01, 0.1, 1.5, 2.0) == 0.25  # the bare rule (mu_min = 0)


def test_exact_gail_discriminator_and_rewards():
    rho_e, rho_pi = CHAIN_EXPERT, CHAIN_UNIFORM
    logits = exact_discriminator_logits(np.log(rho_e), np.log(rho_pi))
    np.testing.assert_allclose(expit(logits), [[0.8 / 1.3, 0.2 / 0.7], [3 / 7.5, 6 / 10.5]], rtol=1e-12)
    np.testing.assert_allclose(gail_reward(logits, "log_d", 3.0), 3 * np.log(rho_e / (rho_e + rho_pi)), rtol=1e-12)
    np.testing.assert_allclose(
        gail_reward(logits, "neg_log_one_minus_d", 3.0), -3 * np.log(rho_pi / (rho_e + rho_pi)), rtol=1e-12
    )


def test_logistic_discriminator_converges_to_the_exact_one():
    p_e, p_pi = CHAIN_EXPERT / 10, CHAIN_UNIFORM / 10
    logits = logistic_steps(np.zeros((2, 2)), p_e, p_pi, steps=20_000, lr=5.0)
    np.testing.assert_allclose(logits, np.log(p_e / p_pi), atol=1e-6)


def test_airl_reward_is_state_only_plus_shaping(chain_mdp):
    g, h = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    # r_f(s, a) = g(s) + 0.9 h(s') - h(s) with s' = 1 from both states
    np.testing.assert_allclose(airl_shaped_reward(chain_mdp, g, h), [[-0.4, -0.4], [2.1, 2.1]], atol=1e-15)
    trans = transitions(chain_mdp)
    uniform = np.full((2, 2), -np.log(2))
    np.testing.assert_allclose(airl_logits(chain_mdp, trans, g, h, uniform), [-0.4 + np.log(2)] * 2 + [2.1 + np.log(2)] * 2)


def test_airl_discriminator_step_follows_the_loss_gradient(small_mdp):
    rng = np.random.default_rng(0)
    trans = transitions(small_mdp)
    log_pi = solve(small_mdp, rng.normal(size=small_mdp.shape)).log_policy
    p_e = (1 - small_mdp.discount) * occupancy(small_mdp, solve(small_mdp, rng.normal(size=small_mdp.shape)).policy)
    p_pi = (1 - small_mdp.discount) * occupancy(small_mdp, np.exp(log_pi))
    g0, h0 = rng.normal(size=small_mdp.n_states), rng.normal(size=small_mdp.n_states)

    def loss(g, h):
        z = airl_logits(small_mdp, trans, g, h, log_pi)
        q_e, q_pi = p_e.ravel()[trans.pair] * trans.prob, p_pi.ravel()[trans.pair] * trans.prob
        return -np.sum(q_e * log_expit(z)) - np.sum(q_pi * log_expit(-z))

    lr = 1e-3
    g1, h1 = discriminator_steps(small_mdp, trans, g0, h0, log_pi, p_e, p_pi, steps=1, lr=lr)
    step = 1e-6
    for params, new, other in ((g0, g1, "g"), (h0, h1, "h")):
        for i in range(small_mdp.n_states):
            e = np.zeros_like(params)
            e[i] = step
            args_plus = (g0 + e, h0) if other == "g" else (g0, h0 + e)
            args_minus = (g0 - e, h0) if other == "g" else (g0, h0 - e)
            numeric = (loss(*args_plus) - loss(*args_minus)) / (2 * step)
            assert (new[i] - params[i]) / -lr == pytest.approx(numeric, rel=1e-5, abs=1e-10)


# -- the registry and the shared interface -------------------------------------------------------


def test_registry_names_and_shared_metrics(problem):
    mdp, rho_e = problem
    assert set(ALGORITHMS) == {"trirl", "trirl-fixed", "trirl-safe", "mce-irl", "ml-irl", "piro", "gail", "airl"}
    for name, algorithm in ALGORITHMS.items():
        result = algorithm(mdp, rho_e, 2)
        assert result.algorithm == name
        assert [row["iteration"] for row in result.history] == [0, 1, 2]
        for key in ("iteration", "reverse_kl", "dual", "policy_kl", "backups", "wall_time"):
            assert key in result.history[-1], (name, key)
        backups = result.metric("backups")
        assert np.all(np.diff(backups) > 0), name
        assert result.reward.shape == mdp.shape and np.allclose(result.policy.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", ["trirl", "trirl-fixed", "trirl-safe", "mce-irl", "ml-irl", "piro"])
def test_learns_the_expert(problem, name):
    mdp, rho_e = problem
    budget = {"trirl": 40, "trirl-fixed": 40, "trirl-safe": 10, "mce-irl": 120, "ml-irl": 120, "piro": 25}[name]
    result = ALGORITHMS[name](mdp, rho_e, budget)
    hit = iterations_to(result, 1e-3)
    assert hit is not None, f"{name}: reverse KL {result.metric('reverse_kl')[-1]:.2e}"
    dual = result.metric("dual")
    assert dual[-1] < dual[0]


def test_adversarial_methods_learn_then_wander(problem):
    """Local discriminator rewards: the reverse KL falls fast, then rises again."""
    mdp, rho_e = problem
    for name in ("gail", "airl"):
        kl = ALGORITHMS[name](mdp, rho_e, 30).metric("reverse_kl")
        assert kl.min() < 0.9 * kl[0], name
        assert np.any(np.diff(kl) > 1e-3), name
        assert kl[-1] > 1.2 * kl.min(), name


def test_exact_discriminator_gail_oscillates(problem):
    mdp, rho_e = problem
    dual = gail(mdp, rho_e, discriminator="exact", iterations=10).metric("dual")
    assert np.sum(np.diff(dual) > 0) >= 3


def test_linear_features_for_reward_gradient_methods(problem):
    """With one-hot features the linear class is the tabular one."""
    mdp, rho_e = problem
    S, A = mdp.shape
    one_hot = np.eye(S * A).reshape(S, A, S * A)
    for fn in (mce_irl, ml_irl, piro):
        tabular = fn(mdp, rho_e, iterations=3)
        linear = fn(mdp, rho_e, iterations=3, reward_class="linear", features=one_hot)
        np.testing.assert_allclose(linear.reward, tabular.reward, atol=1e-9)
    state_only = mce_irl(mdp, rho_e, iterations=3, reward_class="state_only")
    assert np.ptp(state_only.reward, axis=1).max() == 0.0


def test_relatives_resume(problem, tmp_path):
    mdp, rho_e = problem
    full = piro(mdp, rho_e, iterations=6)
    piro(mdp, rho_e, iterations=3, run_dir=RunDir(tmp_path, {}))
    resumed = piro(mdp, rho_e, iterations=6, run_dir=RunDir(tmp_path, {}, resume=True))
    np.testing.assert_allclose(resumed.reward, full.reward, rtol=1e-12)
    np.testing.assert_allclose(resumed.metric("mu"), full.metric("mu"))


@pytest.mark.parametrize(
    "fn, kwargs, message",
    [(mce_irl, dict(lr=0.0), "lr"), (ml_irl, dict(inner_steps=0), "inner_steps"), (piro, dict(x=1.0), "x is"),
     (piro, dict(mu=-1.0), "mu"), (gail, dict(discriminator="neural"), "discriminator"),
     (gail, dict(reward_form="ln"), "reward_form"), (mce_irl, dict(iterations=-1), "iterations")],
)
def test_bad_configuration_is_named(problem, fn, kwargs, message):
    mdp, rho_e = problem
    with pytest.raises(InvalidConfigError, match=message):
        fn(mdp, rho_e, **{"iterations": 1, **kwargs})


# -- the one wrapper ------------------------------------------------------------------------------


# a field of each algorithm's config, changed from its default
CHANGED = {"trirl": {"eps": 0.25}, "mce_irl": {"lr": 0.25}, "ml_irl": {"lr": 0.25}, "piro": {"mu": 3.0},
           "gail": {"discriminator": "exact"}, "airl": {"disc_steps": 5}}
CONFIGS = {"trirl": "TRIRLConfig", "mce_irl": "MCEIRLConfig", "ml_irl": "MLIRLConfig", "piro": "PIROConfig",
           "gail": "GAILConfig", "airl": "AIRLConfig"}


@pytest.mark.parametrize("name", list(CHANGED))
def test_every_algorithm_runs_from_its_config_or_its_fields(problem, name):
    """Each function reads its config's fields with the dataclass's defaults (stated once), takes
    the same run from ``config=``, and names a keyword that is neither a field nor a run option."""
    import dataclasses
    import inspect

    import trirl.tabular as tabular

    mdp, rho_e = problem
    fn, config_class = getattr(tabular, name), getattr(tabular, CONFIGS[name])
    parameters = inspect.signature(fn).parameters
    for f in dataclasses.fields(config_class):
        assert parameters[f.name].default == f.default, f.name
    by_fields = fn(mdp, rho_e, 2, **CHANGED[name])
    by_config = fn(mdp, rho_e, 2, config=config_class(**CHANGED[name]))
    np.testing.assert_array_equal(by_fields.reward, by_config.reward)
    assert by_fields.metric("dual").tolist() == by_config.metric("dual").tolist()
    assert by_fields.metric("dual").tolist() != fn(mdp, rho_e, 2).metric("dual").tolist()  # the field took effect
    with pytest.raises(InvalidConfigError, match=r"got 'stepsize', expected fields of .*Config"):
        fn(mdp, rho_e, 1, stepsize=0.1)
    with pytest.raises(InvalidConfigError, match="config= and"):
        fn(mdp, rho_e, 1, config=config_class(), **CHANGED[name])
    with pytest.raises(InvalidConfigError, match="iterations"):
        fn(mdp, rho_e, -1)
