"""TRIRL learner on the point maze: one step's invariants, seeds vmapped, both variants, the
end-to-end threshold (slow)."""

import dataclasses

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from trirl.continuous import envs  # noqa: E402
from trirl.continuous import trirl as T  # noqa: E402
from trirl.continuous.demos import load_demonstrations  # noqa: E402
from trirl.continuous.discriminator import DiscriminatorConfig  # noqa: E402
from trirl.continuous.ppo import PPOConfig  # noqa: E402
from trirl.continuous.reward import RewardBufferConfig  # noqa: E402
from trirl.continuous.train import CONFIG_DIR, EXPERTS_DIR, load_config, train  # noqa: E402
from trirl.errors import InvalidConfigError, InvalidDemonstrationError  # noqa: E402

pytestmark = pytest.mark.continuous

DEMOS = EXPERTS_DIR / "point_maze" / "demos.npz"
DISC = DiscriminatorConfig(hidden_sizes=(16,), minibatch_size=16, epochs=1, grad_penalty=0.0)


def tiny(variant="max-eta", **kw):
    return T.TRIRLConfig(
        variant=variant,
        ppo=PPOConfig(num_envs=4, rollout_length=8, num_epochs=2, num_minibatches=2, policy_hidden=(16,),
                      value_hidden=(16,), entropy_coef=1.0),  # 1 / beta
        discriminator=DISC,
        buffer=RewardBufferConfig(capacity=2, eps=0.5, fit_steps=2, network=DISC),  # R_fit shares D's config
        **kw,
    )


@pytest.fixture(scope="module")
def demos():
    return load_demonstrations(DEMOS)


@pytest.fixture(scope="module")
def env():
    return envs.make("point_maze", {"episode_length": 20})


@pytest.mark.slow  # compiles and trains
def test_step_vmapped_over_seeds_keeps_invariants(env, demos):
    learner = T.make_trirl(env, tiny(), demos)
    seeds = 2
    state = jax.vmap(learner.init)(jax.random.split(jax.random.PRNGKey(0), seeds))
    step = jax.jit(jax.vmap(learner.step))
    for i in range(3):
        state, metrics = step(state, jax.random.split(jax.random.PRNGKey(i), seeds))
        m = {k: np.asarray(v) for k, v in metrics.items()}
        for name in ("eta", "eps_tr", "policy_kl", "disc_loss", "expert_accuracy", "agent_accuracy"):
            assert m[name].shape == (seeds,) and np.all(np.isfinite(m[name])), name
        assert np.all(m["eta"] >= 0)
        np.testing.assert_allclose(m["eps_tr"], 0.5 / (1 + m["eta"]), rtol=1e-6)  # Theorem 3.2
        assert np.all(m["iteration"] == i + 1)
    # the buffer holds the last k = 2 completed (D, eta) pairs, oldest overwritten
    assert np.all(np.asarray(state.buffer.pushes) == 3) and np.all(np.asarray(state.buffer.count) == 2)
    assert not {"reverse_kl", "dual"} & set(metrics)  # not estimated in continuous, hence absent
    # seeds differ (independent keys), the learnt reward evaluates per seed
    assert not np.allclose(state.ppo.params.policy.log_std[0], state.ppo.params.policy.log_std[1])
    r = jax.vmap(learner.reward, in_axes=(0, None, None, None))(state, np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(3))
    assert r.shape == (seeds, 3) and np.all(np.isfinite(r))


@pytest.mark.slow  # compiles and trains
def test_tr_loss_variant_uses_the_scheduled_eta(env, demos):
    learner = T.make_trirl(env, tiny("tr-loss", eta_schedule="linear:2.0:0.0:2", iterations=4), demos)
    state = learner.init(jax.random.PRNGKey(1))
    step = jax.jit(learner.step)
    etas = []
    for i in range(3):
        state, metrics = step(state, jax.random.PRNGKey(i))
        etas.append(float(metrics["eta"]))
        assert np.isfinite(float(metrics["kl_penalty"]))
    np.testing.assert_allclose(etas, [2.0, 1.0, 0.0])


def test_config_errors_name_the_field():
    with pytest.raises(InvalidConfigError, match="variant"):
        T.TRIRLConfig(variant="min-eta")
    with pytest.raises(InvalidConfigError, match="eta schedule"):
        T.TRIRLConfig(eta_schedule="cosine:1")


def test_projected_acting_policy_is_the_trust_region_optimum_whose_eta_is_used(env, demos):
    """acting_policy = "projected": the next rollout acts with the network projected around the
    previous network (the anchor), so every acting policy's mean part of KL to the anchor is within
    eps_mean on the rollout's states, its covariance part within eps_cov, and the eta pushed into
    the buffer is exactly that projection's multiplier (Theorem 3.2's correction matches the
    acting policy). With the default "network" policy the same check on the network itself fails
    (its KL is not bounded), which is why rollout_kl is reported."""
    from trirl.continuous import networks as nets
    from trirl.continuous import trpl
    from trirl.continuous.discriminator import agent_inputs

    bounds = trpl.TrustRegionConfig(eps_mean=1e-3, eps_cov=5e-4)
    for acting in ("projected", "network"):
        config = tiny(acting_policy=acting, trust_region=bounds)
        # a large step, so that the network's own update would leave the trust region
        config = dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, learning_rate=3e-2))
        learner = T.make_trirl(env, config, demos)
        state = learner.init(jax.random.PRNGKey(3))
        step = jax.jit(learner.step)
        worst = 0.0
        for i in range(4):
            state, metrics = step(state, jax.random.PRNGKey(10 + i))
            obs = jax.random.uniform(jax.random.PRNGKey(i), (64, 2))
            ps, anchor = state.ppo, state.anchor
            mean, _ = nets.policy_distribution(learner.ppo.networks, ps.params.policy, ps.normalizer, obs)
            centre, _ = nets.policy_distribution(learner.ppo.networks, anchor, ps.normalizer, obs)
            projection = trpl.project(bounds, mean, ps.params.policy.log_std, centre, anchor.log_std)
            acts = (projection.mean, projection.log_std) if acting == "projected" else (mean, ps.params.policy.log_std)
            parts = trpl.gaussian_kl_parts(acts[0], acts[1], centre, anchor.log_std)
            worst = max(worst, float(jnp.max(parts.mean) / bounds.eps_mean), float(parts.cov / bounds.eps_cov))
            last = (int(state.buffer.pushes) - 1) % state.buffer.etas.shape[0]
            assert float(state.buffer.etas[last]) == pytest.approx(float(metrics["eta"]))
            assert np.isfinite(float(metrics["rollout_kl"]))
        if acting == "projected":
            assert worst <= 1.0 + 1e-4, worst
        else:
            assert worst > 1.0, worst  # the unprojected network leaves the trust region
    with pytest.raises(InvalidConfigError, match="acting_policy = 'projected' needs variant 'max-eta'"):
        T.TRIRLConfig(variant="tr-loss", acting_policy="projected")


@pytest.mark.slow  # compiles and trains twice
def test_line_search_keeps_consecutive_rollout_policies_inside_the_trust_region(env, demos):
    """acting_policy = "line-search": the policy that collects iteration i + 1's rollout (the network
    after the scaled-back update, with the normaliser it acts with) is within eps_mean (mean part,
    on every state) and eps_cov (covariance part) of the policy that collected iteration i's, on
    the states of that rollout, recomputed here from the two states alone; rollout_kl reports that
    KL. With the network acting unchecked ("network", the paper's code) the same check fails at
    this step size. eta_from = "step" turns the accepted step alpha into eta = 1 / alpha - 1."""
    from trirl.continuous import networks as nets
    from trirl.continuous import trpl
    from trirl.continuous.rollout import rollout

    bounds = trpl.TrustRegionConfig(eps_mean=1e-3, eps_cov=5e-4)
    for acting, eta_from in (("line-search", "step"), ("line-search", "scaled-step"), ("network", "projection")):
        config = tiny(acting_policy=acting, eta_from=eta_from, trust_region=bounds)
        # a large step, so that the network's own update would leave the trust region
        config = dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, learning_rate=3e-2))
        learner = T.make_trirl(env, config, demos)
        networks = learner.ppo.networks
        state = learner.init(jax.random.PRNGKey(3))
        step = jax.jit(learner.step)
        worst = 0.0
        for i in range(3):
            key = jax.random.PRNGKey(10 + i)
            ps = state.ppo
            # the rollout step(state, key) collects (its first key), replayed outside the learner
            _, collected = rollout(learner.ppo.env, networks, ps.params, ps.normalizer, ps.env_state,
                                   jax.random.split(key, 4)[0], config.ppo.rollout_length)
            obs = collected.transitions.obs.reshape(-1, 2)
            state, metrics = step(state, key)
            old_mean, old_log_std = nets.policy_distribution(networks, ps.params.policy, ps.normalizer, obs)
            new_mean, new_log_std = nets.policy_distribution(networks, state.ppo.params.policy, state.ppo.normalizer,
                                                             obs)
            parts = jax.vmap(trpl.gaussian_kl_parts)(new_mean, new_log_std, old_mean, old_log_std)
            worst = max(worst, float(jnp.max(parts.mean)) / bounds.eps_mean, float(jnp.max(parts.cov)) / bounds.eps_cov)
            assert float(metrics["rollout_kl"]) == pytest.approx(float(jnp.mean(parts.mean + parts.cov)), rel=1e-3)
            if eta_from == "step":
                assert float(metrics["eps_tr"]) == pytest.approx(0.5 * float(metrics["step_fraction"]), rel=1e-4)
            if eta_from == "scaled-step":  # eps_tr = eps alpha / (1 + eta_p), eta_p the projection's
                alpha, eta_p = float(metrics["step_fraction"]), float(metrics["projection_eta"])
                assert alpha < 1.0 and eta_p > 0.0  # the step was scaled back, the update was projected
                assert float(metrics["eps_tr"]) == pytest.approx(0.5 * alpha / (1.0 + eta_p), rel=1e-4)
        if acting == "line-search":
            assert worst <= 1.0 + 1e-4, worst
        else:
            assert worst > 2.0, worst  # the unchecked network leaves the trust region
    with pytest.raises(InvalidConfigError, match="acting_policy = 'line-search' needs variant 'max-eta'"):
        T.TRIRLConfig(variant="tr-loss", acting_policy="line-search")
    for eta_from in ("step", "scaled-step"):
        with pytest.raises(InvalidConfigError, match=f"eta_from = '{eta_from}' needs acting_policy = 'line-search'"):
            T.TRIRLConfig(eta_from=eta_from)
    with pytest.raises(InvalidConfigError, match=r"eta_from must be one of \('projection', 'step', 'scaled-step'\)"):
        T.TRIRLConfig(acting_policy="line-search", eta_from="kl")


def test_scaled_step_eta_is_the_multiplier_of_the_step_taken():
    """A projected step (multiplier eta_p, trpl.project_mean) of which the acting policy keeps the
    fraction alpha is the projection of the same update with multiplier scaled_step_eta(eta_p, alpha):
    mu_old + alpha (mu~ - mu_old) = mu_old + (mu - mu_old) / (1 + eta), so eps_tr = eps alpha / (1 + eta_p)."""
    from trirl.continuous import trpl
    from trirl.core import corrected_step, scaled_step_eta

    old_mean, old_log_std = jnp.array([0.3, -1.0]), jnp.array([-1.0, -0.5])
    mean = jnp.array([1.5, 0.4])  # far outside a trust region of 1e-2
    projected, eta_p = trpl.project_mean(mean, old_mean, old_log_std, 1e-2)
    assert float(eta_p) > 1.0
    for alpha in (1.0, 0.5, 0.3, 0.01):
        eta = scaled_step_eta(eta_p, alpha)
        np.testing.assert_allclose(old_mean + (mean - old_mean) / (1.0 + eta), old_mean + alpha * (projected - old_mean),
                                   rtol=1e-5, atol=1e-6)
        assert float(corrected_step(0.6, eta)) == pytest.approx(0.6 * alpha / (1.0 + float(eta_p)), rel=1e-5)
    assert float(scaled_step_eta(eta_p, 1.0)) == pytest.approx(float(eta_p), rel=1e-6)  # a whole step: eta_p


def test_entropy_weight_is_one_over_beta():
    """Eq. 1: PPO's entropy coefficient and the KL weight beta are one quantity (validated, not
    overwritten); the TOML loader fills an unset entropy_coef with 1 / beta."""
    with pytest.raises(InvalidConfigError, match=r"entropy_coef = 0.0 must equal 1 / \[buffer\] beta = 0.001"):
        T.TRIRLConfig(ppo=PPOConfig(entropy_coef=0.0), buffer=RewardBufferConfig(beta=1000.0))
    assert T.TRIRLConfig(ppo=PPOConfig(entropy_coef=1e-3), buffer=RewardBufferConfig(beta=1000.0))
    assert load_config(None, algo="trirl").ppo.entropy_coef == 1.0  # default beta = 1
    configured = load_config(CONFIG_DIR / "trirl_point_maze.toml")
    assert configured.ppo.entropy_coef * configured.buffer.beta == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["trirl_point_maze", "trirl_point_maze_goal", "trirl_point_maze_rbf"])
def test_point_maze_config_uses_the_papers_table_7_ranges(name):
    config = load_config(CONFIG_DIR / f"{name}.toml")
    assert config.acting_policy == "line-search"  # Theorem 3.2's trust region holds for the acting policy
    assert 80 <= config.buffer.capacity <= 120
    assert 0.45 <= config.buffer.eps <= 0.75
    assert 2e-4 <= config.trust_region.eps_mean <= 5e-3
    assert 1e-4 <= config.trust_region.eps_cov <= 4e-3
    assert 0.4 <= config.trust_region.regression_coef <= 0.6
    assert 60 <= float(config.eta_schedule) <= 100
    assert 8e-5 <= config.ppo.entropy_coef <= 5e-3  # C.5's entropy range


def test_demos_of_another_env_are_refused(demos):
    ant_sizes = dict(demos.env_spec, observation_size=27)
    with pytest.raises(InvalidDemonstrationError, match="observation_size"):
        T.validate_demos(demos._replace(env_spec=ant_sizes), envs.make("point_maze"))


@pytest.mark.slow
def test_trirl_reaches_expert_level_on_point_maze(tmp_path):
    """End-to-end threshold: final evaluation normalised return >= 0.8 (random 0, expert 1),
    mean over 3 vmapped seeds, with ``continuous/trirl_point_maze_goal.toml`` (the paper's
    feature-based variant, Section 5.1: a reward linear in the goal features; Table 7 values,
    500 iterations, 512k env steps per seed, 30 expert demonstrations, the line-search acting
    policy). With 10 seeds the same config trains to 0.99 (``book/findings.md``).

    Before the line search (network acting, Table 7's tighter bounds 1e-3 / 5e-4, 250
    iterations) the goal features trained to 0.83-0.89 at 3 seeds and 0.69 at 10; the same
    config at 500 iterations with the network acting reaches 0.80 (10 seeds). At 3 seeds the
    per-seed spread moves such figures by +-0.1, hence the margin of the threshold.
    """
    config = load_config(CONFIG_DIR / "trirl_point_maze_goal.toml", seeds=3)
    train(config, tmp_path / "run", progress=False)
    from trirl.rundir import read_metrics

    rows = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert rows[-1]["iteration"] == 500
    assert rows[-1]["eval_normalised_return"] >= 0.8, [r.get("eval_normalised_return") for r in rows]
