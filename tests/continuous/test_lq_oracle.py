"""trirl train's feature-based TRIRL on the lqr task against the closed forms (trirl.continuous.lq_oracle)."""

import json

import numpy as np
import pytest

from trirl.continuous import lq_oracle
from trirl.continuous.demos import load_demonstrations
from trirl.continuous.envs.lqr import LQRConfig
from trirl.continuous.train import load_config
from trirl.errors import InvalidConfigError

pytestmark = [pytest.mark.slow, pytest.mark.continuous]


def test_trirl_on_lqr_approaches_the_true_reward():
    """30 iterations of the shipped trirl_lqr_beta10 config (as trirl train runs it): the learnt reward's
    residual to the true one up to shaping and scale falls (measured 0.82 at 20 and 0.47 at 30
    iterations on a shared 2-core CPU; the full run is continuous/results/lqr/), the exact dual
    falls, and the reward read off the buffer is linear in the features to rounding."""
    config = load_config("trirl_lqr_beta10", total_steps=30 * 2048)
    result = lq_oracle.track(config, every=15, samples=20_000, log=lambda *_: None)
    first, last = (row["seeds"][0] for row in (result["rows"][0], result["rows"][-1]))
    assert [row["iteration"] for row in result["rows"]] == [15, 30]
    assert last["reward_residual"] < 0.6 and last["reward_residual"] < first["reward_residual"]
    assert last["dual"] < first["dual"]
    assert last["linear_fit_error"] < 1e-5 and last["reward_scale"] > 0


def test_shipped_expert_data_is_the_closed_form_expert(tmp_path):
    returns = lq_oracle.write_expert(tmp_path, episodes=4, seed=0)
    demos = load_demonstrations(tmp_path / "demos.npz")
    assert demos.observations.shape == (4, LQRConfig().episode_length, 2)
    shipped = json.loads((lq_oracle.Path(__file__).parents[2] / "continuous" / "experts" / "lqr" / "returns.json").read_text())
    assert returns["random_return"] == pytest.approx(shipped["random_return"])
    assert np.all(np.abs(demos.actions) <= 1.0)


def test_oracle_refuses_another_discount():
    config = load_config("trirl_lqr", ppo={"gamma": 0.99})
    with pytest.raises(InvalidConfigError, match=r"\[ppo\] gamma = 0.99"):
        lq_oracle.track(config, every=1)


def test_discriminator_noise_floor_is_reported_per_iteration():
    """The agent is the expert: the logits are pure estimation noise, small but not zero."""
    config = load_config("trirl_lqr", total_steps=3 * 2048)
    result = lq_oracle.discriminator_noise_floor(config, iterations=3)
    assert len(result["logit_std"]) == len(result["reward_std"]) == 3
    assert all(0.0 < value < 1.0 for value in result["logit_std"])
    assert result["reward_std"][0] == pytest.approx(result["eps"] * result["beta"] * result["logit_std"][0])
    assert result["true_reward_std"] > 0.5


def test_evaluate_reads_every_checkpoint_as_tracks_rows(tmp_path):
    """`lq_oracle evaluate` gives one row per checkpoint, in track's format (iteration, env_steps,
    one entry per seed), each seed's row with the learner's metrics averaged over the
    checkpoint_every iterations before it (read from the run's metrics.jsonl)."""
    from trirl.continuous.train import train
    from trirl.rundir import read_metrics

    config = load_config("trirl_lqr", total_steps=4 * 256, seeds=2, checkpoint_every=2, eval_every=4,
                         ppo={"num_envs": 8, "rollout_length": 32, "policy_hidden": [8], "value_hidden": [8]})
    train(config, tmp_path / "run", progress=False)
    result = lq_oracle.evaluate_run(tmp_path / "run", samples=5_000)
    history = read_metrics(tmp_path / "run")
    assert [row["iteration"] for row in result["rows"]] == [2, 4]
    assert [row["env_steps"] for row in result["rows"]] == [512, 1024]
    assert result["config"]["eta_from"] == "scaled-step"
    for row in result["rows"]:
        assert len(row["seeds"]) == 2
        window = [m for m in history if row["iteration"] - 2 < m["iteration"] <= row["iteration"]]
        for seed in row["seeds"]:
            assert 0.0 <= seed["reward_residual"] <= 1.0 + 1e-9
            for name in ("eta", "eps_tr", "step_fraction", "projection_eta", "rollout_kl"):
                assert seed[f"mean_{name}"] == pytest.approx(np.mean([m[name] for m in window]))
            # the logged multiplier is the scaled step's (per seed, averaged: checked on the means' bound)
            assert seed["mean_eta"] >= seed["mean_projection_eta"] - 1e-6
    # --every N reads only the checkpoints at multiples of N, with the same numbers
    sparse = lq_oracle.evaluate_run(tmp_path / "run", samples=5_000, every=4)
    assert [row["iteration"] for row in sparse["rows"]] == [4]
    residual = result["rows"][1]["seeds"][0]["reward_residual"]
    assert sparse["rows"][0]["seeds"][0]["reward_residual"] == pytest.approx(residual, rel=1e-4)
    assert all(0.0 < seed["policy_std_ratio"] < np.inf for seed in sparse["rows"][0]["seeds"])
    with pytest.raises(InvalidConfigError, match="--every must be a positive number"):
        lq_oracle.evaluate_run(tmp_path / "run", every=0)


def test_std_ratios_read_the_policy_and_the_soft_optimum_of_the_reward_as_ppo_weighs_it():
    """The learnt reward is read as ``r / beta`` and PPO's entropy weight is ``1 / beta``: the
    reward ``c theta_true / beta`` has the soft-optimal covariance ``cov_E / c``, so its standard
    deviation is the expert's over ``sqrt(c)``; the freshly initialised policy's is ``exp(init_log_std)``."""
    import jax

    from trirl.continuous import lq, lq_readout
    from trirl.continuous.train import build, prepare

    config = load_config("trirl_lqr", ppo={"num_envs": 4, "rollout_length": 8, "policy_hidden": [4], "value_hidden": [4]})
    env_config = LQRConfig(**config.env_options)
    problem = env_config.problem
    learner = build(config, prepare(config)[0])
    state = learner.init(jax.random.PRNGKey(0))
    expert = lq.soft_optimal(problem, env_config.reward).policy
    theta_true, _ = lq.theta_from_reward(env_config.reward)
    expert_std = np.sqrt(np.diag(expert.cov))
    for beta, c in ((1.0, 1.0), (10.0, 4.0)):
        ratios = lq_readout.std_ratios(learner, state, problem, expert, c * theta_true / beta, beta)
        assert ratios["reward_std_ratio"] == pytest.approx(1.0 / np.sqrt(c), rel=1e-6)
        initial = np.mean(np.exp(config.ppo.init_log_std) / expert_std)
        assert ratios["policy_std_ratio"] == pytest.approx(initial, rel=1e-5)
    # a reward that rewards large actions has no soft-optimal Gaussian
    assert lq_readout.std_ratios(learner, state, problem, expert, -theta_true, 1.0)["reward_std_ratio"] == np.inf


def test_instance_1_ships_its_closed_form_expert(tmp_path):
    """trirl_lqr_instance1 trains on instance 1 against that instance's closed-form expert."""
    config = load_config("trirl_lqr_instance1")
    assert config.env_options["instance"] == 1
    returns = lq_oracle.write_expert(tmp_path, LQRConfig(instance=1), episodes=4, seed=0)
    shipped = json.loads((lq_oracle.Path(__file__).parents[2] / "continuous" / "experts" / "lqr_instance1"
                          / "returns.json").read_text())
    assert returns["random_return"] == pytest.approx(shipped["random_return"])
    assert shipped["env_options"] == {"instance": 1} and shipped["command"].endswith("--instance 1")
    instance0 = lq_oracle.write_expert(tmp_path / "0", episodes=4)
    assert returns["random_return"] != pytest.approx(instance0["random_return"])


def test_swaps_command_takes_beta(tmp_path):
    """`lq_oracle swaps --beta` runs the exact iteration at another entropy weight than the config's."""
    out = tmp_path / "swaps.json"
    assert lq_oracle.main(["swaps", "--config", "trirl_lqr", "--beta", "3", "--instances", "0", "--log-ratios",
                           "discounted", "--iterations", "2", "--every", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["beta"] == 3.0 and result["command"].endswith(f"--json {out}")
    assert [row["log_ratio"] for row in result["rows"]] == ["discounted"] and len(result["rows"][0]["residual"]) == 3
