"""trirl train: the whole pipeline, resume, error paths before compilation,
NaN stop, --max-minutes, and retraining on the learnt reward (trirl evaluate)."""

import json
import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from trirl import driver  # noqa: E402
from trirl.continuous import evaluate as evaluate_cli  # noqa: E402
from trirl.continuous import retrain as retrain_lib  # noqa: E402
from trirl.continuous import train as train_cli  # noqa: E402
from trirl.continuous.demos import load_demonstrations, save_demonstrations  # noqa: E402
from trirl.continuous.discriminator import absorbing_sample  # noqa: E402
from trirl.continuous.rollout import MAY_BE_NAN  # noqa: E402
from trirl.errors import InvalidConfigError, InvalidDemonstrationError  # noqa: E402
from trirl.rundir import read_metrics  # noqa: E402

pytestmark = pytest.mark.continuous

TINY = """
env = "point_maze"
algo = "{algo}"
seed = 1
seeds = 2
total_steps = 128          # 4 iterations of 4 envs x 8 steps
eval_every = 2
eval_episodes = 2
checkpoint_every = 2
{extra}

[env_options]
episode_length = 20

[ppo]
num_envs = 4
rollout_length = 8
num_epochs = 2
num_minibatches = 2
policy_hidden = [16]
value_hidden = [16]

[discriminator]
hidden_sizes = [16]
minibatch_size = 16
epochs = 1
grad_penalty = 0.0

[buffer]
capacity = 2
fit_steps = 2
{buffer_extra}
"""


def write(tmp_path, algo="trirl", extra="", buffer_extra="", name="tiny.toml"):
    path = tmp_path / name
    path.write_text(TINY.format(algo=algo, extra=extra, buffer_extra=buffer_extra))
    return str(path)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """The uninterrupted reference run through the CLI (shared by the tests below)."""
    tmp = tmp_path_factory.mktemp("full")
    out = tmp / "run"
    assert train_cli.main(["--config", write(tmp), "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.mark.slow  # compiles and trains
def test_whole_pipeline_writes_metrics_checkpoints_and_summary(full_run):
    rows = read_metrics(full_run / "metrics.jsonl")
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    for name in ("eta", "eps_tr", "policy_kl", "disc_loss", "expert_accuracy", "agent_accuracy", "env_steps"):
        assert all(np.isfinite(r[name]) for r in rows), name
    evals = [r for r in rows if "eval_return" in r]
    assert [r["iteration"] for r in evals] == [2, 4]
    for r in evals:
        assert len(r["eval_return_per_seed"]) == 2
        assert np.isfinite(r["eval_normalised_return"]) and np.isfinite(r["eval_normalised_return_iqm"])
    assert any("normalised_return" in r for r in rows)  # from finished training episodes
    assert sorted(p.name for p in (full_run / "checkpoints").glob("*.npz"))[-1] == "step_00000004.npz"
    assert json.loads((full_run / "summary.json").read_text())["status"] == "done"


def test_run_directory_holds_learning_curves_of_its_metrics(full_run):
    """learning_curves.png next to metrics.jsonl, drawn from the rows the run logged."""
    from trirl.learning_curves import plot_learning_curves

    assert (full_run / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    fig = plot_learning_curves(read_metrics(full_run / "metrics.jsonl"))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["return (mean over seeds)", "expert-normalised return", "discriminator accuracy",
                      "trust-region multiplier", "policy change per iteration"]
    evaluation = [line for line in fig.axes[0].get_lines() if line.get_label() == "evaluation"]
    assert list(evaluation[0].get_xdata()) == [r["env_steps"] for r in read_metrics(full_run) if "eval_return" in r]


@pytest.mark.slow  # compiles and trains
def test_paused_and_resumed_run_reproduces_the_uninterrupted_metrics(full_run, tmp_path, capsys):
    config = write(tmp_path)
    out = tmp_path / "run"
    # --max-minutes tiny: checkpoints after the first compiled call (iterations 1 and 2, ending at the
    # first checkpoint) and exits cleanly ("killed")
    summary = train_cli.train(train_cli.load_config(config), out, progress=False, max_minutes=1e-9)
    assert summary["status"] == "paused" and summary["iterations"] == 2
    # --resume alone continues with the run's own config.json (the Ctrl-C test below resumes with --config)
    capsys.readouterr()
    assert train_cli.main(["--out", str(out), "--resume", "--no-progress"]) == 0
    assert read_metrics(out / "metrics.jsonl") == read_metrics(full_run / "metrics.jsonl")
    printed = capsys.readouterr().out.splitlines()  # what was written, and what to run next
    assert printed[0].startswith("done: 4 iterations in ") and printed[1].endswith(f"summary.json in {out}")
    assert printed[2] == (f"train on: trirl train --out {out} --resume --total-steps N; "
                          f"retrain a policy on the learnt reward: trirl evaluate --run {out}")


@pytest.mark.slow  # compiles and trains
def test_one_iteration_per_call_reproduces_the_default_calls_bit_for_bit(full_run, tmp_path):
    """The default (several iterations per compiled call, here calls of 2 that end at each checkpoint and
    evaluation) and --iterations-per-call 1 (a host call per iteration) write the same numbers."""
    out = tmp_path / "run"
    assert train_cli.main(["--config", write(tmp_path), "--out", str(out), "--no-progress",
                           "--iterations-per-call", "1"]) == 0
    assert read_metrics(out) == read_metrics(full_run)
    for step in (2, 4):
        name = f"checkpoints/step_{step:08d}.npz"
        with np.load(out / name) as ours, np.load(full_run / name) as theirs:
            arrays = [k for k in theirs.files if not k.startswith("__")]
            assert sorted(ours.files) == sorted(theirs.files) and arrays
            for key in arrays:
                np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


@pytest.mark.slow  # compiles and trains
def test_retraining_on_the_learnt_reward_and_transfer_with_the_true_reward_control(full_run, tmp_path, monkeypatch):
    run = evaluate_cli.load_run(full_run)
    config, learner, state = run.config, run.learner, run.state
    built = []
    make_ppo = retrain_lib.make_ppo

    def spy(env, ppo_config, reward_fn=None, absorbing_reward_fn=None):
        built.append((reward_fn, absorbing_reward_fn))
        # the protocol: fresh policies start from std 1 (log std 0) whatever the run used (-0.5)
        assert ppo_config.init_log_std == 0.0 and config.ppo.init_log_std == -0.5
        return make_ppo(env, ppo_config, reward_fn, absorbing_reward_fn)

    monkeypatch.setattr(retrain_lib, "make_ppo", spy)
    result = evaluate_cli.retrain(run, "point_maze_mirrored", steps=64, eval_episodes=2)
    assert result["env"] == "point_maze_mirrored" and len(result["returns"]) == 2
    assert result["init_log_std"] == 0.0 and result["eval_episodes"] == 2
    for key in ("normalised_return", "control_normalised_return", "mean_return", "control_mean_return"):
        assert np.isfinite(result[key]), key
    assert len(result["control_returns"]) == len(result["learnt_reward_return"]) == 2
    control = result["control_normalised_return"]
    expected = result["normalised_return"] / control if control > 0 else None
    assert result["normalised_return_ratio"] == expected
    # the learnt PPO bootstraps terminations from seed j's learnt r(s_a), as in training; the control from 0
    (_, absorbing_reward_fn), (control_reward_fn, control_absorbing) = built
    assert control_reward_fn is retrain_lib.env_reward and control_absorbing is None
    abs_input = absorbing_sample(2, 2)
    for j in range(config.seeds):
        seed_state = jax.tree_util.tree_map(lambda x, j=j: x[j], state)
        r_absorbing = float(learner.reward(seed_state, *abs_input)[0])
        assert float(absorbing_reward_fn(seed_state)) == pytest.approx(r_absorbing)
        assert result["absorbing_reward"][j] == pytest.approx(r_absorbing)


@pytest.mark.slow  # compiles and trains
def test_absorbing_reward_probe_pays_s_a_the_lowest_learnt_reward_on_the_demonstrations(full_run, monkeypatch):
    run = evaluate_cli.load_run(full_run)
    config, learner, state = run.config, run.learner, run.state
    built = []
    make_ppo = retrain_lib.make_ppo

    def spy(env, ppo_config, reward_fn=None, absorbing_reward_fn=None):
        built.append(absorbing_reward_fn)
        return make_ppo(env, ppo_config, reward_fn, absorbing_reward_fn)

    monkeypatch.setattr(retrain_lib, "make_ppo", spy)
    result = evaluate_cli.retrain(run, steps=32, eval_episodes=2, control=False, absorbing_reward="demonstrations-min")
    obs, actions, _, absorbing = run.demos.flat()
    visited = ~absorbing.astype(bool)
    for j in range(config.seeds):
        seed_state = jax.tree_util.tree_map(lambda x, j=j: x[j], state)
        lowest = float(np.min(np.asarray(learner.reward(seed_state, obs[visited], np.clip(actions[visited], -1, 1),
                                                        np.zeros(int(visited.sum()))))))
        assert float(built[0](seed_state)) == pytest.approx(lowest, rel=1e-5)
        assert result["absorbing_reward_used"][j] == pytest.approx(lowest, rel=1e-5)
        assert result["absorbing_reward"][j] != pytest.approx(lowest)  # the learnt r(s_a) is still reported
    assert result["absorbing_reward_probe"] == "demonstrations-min"


def test_retraining_ratio_is_none_when_the_control_fails():
    assert evaluate_cli.ratio(0.3, 0.6) == pytest.approx(0.5)
    assert evaluate_cli.ratio(0.3, 0.0) is None and evaluate_cli.ratio(0.3, -0.2) is None


@pytest.mark.slow  # compiles and trains
def test_evaluate_cli_writes_the_command_and_the_machine(full_run, tmp_path, capsys):
    out, figure = tmp_path / "retrain.json", tmp_path / "landscape.png"
    assert evaluate_cli.main(["--run", str(full_run), "--steps", "32", "--out", str(out), "--figure", str(figure)]) == 0
    result = json.loads(out.read_text())
    # a one-line summary and the file, not the whole JSON
    printed = capsys.readouterr().out.splitlines()
    assert printed == [evaluate_cli.summary_line(result, train_cli.load_expert_returns(result["expert_returns"])),
                       f"wrote {out}"]
    assert re.match(r"normalised return -?\d\.\d{3} \(95% CI .* to .*\); control -?\d\.\d{3} \(95% CI", printed[0])
    assert "checkpoint iteration 4 (finished)" in printed[0]
    # what was evaluated: the checkpoint, the run's state, the code
    assert result["checkpoint_iteration"] == 4 and result["run_state"] == "finished" and result["run_iterations"] == 4
    assert result["commit"] and "run_holder" not in result
    assert result["command"] == f"trirl evaluate --run {full_run} --steps 32 --out {out} --figure {figure}"
    assert figure.stat().st_size > 10_000  # the reward landscape, checked in test_landscape.py
    assert len(result["landscape_check"]) == 2  # one pre-retraining check per seed
    assert 0.0 <= result["landscape_check"][0]["share"] <= 1.0
    assert result["machine"]["cores"] >= 1 and result["machine"]["jax_backend"]
    assert "control_normalised_return" in result and result["date"]
    assert evaluate_cli.main(["--run", str(full_run), "--steps", "0"]) == 2
    assert evaluate_cli.main(["--run", str(full_run), "--reward-scale", "0"]) == 2


def test_retrain_options_are_checked_where_they_come_in_by_one_rule_each():
    """EvaluateOptions (the flags) and a study's [retrain] table check retrain's options by the same
    rules (RETRAIN_OPTIONS); retrain trusts them."""
    with pytest.raises(InvalidConfigError, match=r"--absorbing-reward is 'zero', expected one of \['learnt', "):
        evaluate_cli.EvaluateOptions(run="r", absorbing_reward="zero")
    with pytest.raises(InvalidConfigError, match="--seed is 1.5, expected an integer"):
        evaluate_cli.EvaluateOptions(run="r", seed=1.5)
    import inspect

    taken = set(inspect.signature(evaluate_cli.retrain).parameters) - {"run", "env_name", "control"}
    assert taken == set(evaluate_cli.RETRAIN_OPTIONS)
    assert set(evaluate_cli.EvaluateOptions(run="r").retrain_options()) <= taken


def test_evaluate_flags_are_the_fields_of_evaluate_options():
    import dataclasses

    text = evaluate_cli.build_parser().format_help()
    for field in dataclasses.fields(evaluate_cli.EvaluateOptions):
        assert f"--{field.name.replace('_', '-')}" in text, field.name
    assert "retrain on reward_scale * r + reward_shift" in text and "(default: 200000)" in text
    args = evaluate_cli.build_parser().parse_args(["--run", "r", "--steps", "64", "--reward-shift", "-2"])
    options = evaluate_cli.configflags.options_from_args(evaluate_cli.EvaluateOptions, args)
    assert options == evaluate_cli.EvaluateOptions(run="r", steps=64, reward_shift=-2.0)


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "--steps is 0, expected an integer >= 1"),
    (["--reward-scale", "-1"], "--reward-scale is -1.0, expected a finite number > 0"),
    (["--reward-scale", "inf"], "--reward-scale is inf, expected a finite number > 0"),
    (["--reward-shift", "nan"], "--reward-shift is nan, expected a finite number"),
])
def test_bad_evaluate_values_name_the_flag_before_the_run_is_read(argv, message, monkeypatch, capsys, tmp_path):
    from trirl.cli import main

    def forbidden(*args, **kwargs):
        raise AssertionError("read the run before validating the flags")

    monkeypatch.setattr(evaluate_cli, "load_run", forbidden)
    assert main(["evaluate", "--run", str(tmp_path), *argv]) == 2
    assert f"trirl evaluate: error: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--steps", "ten"], "argument --steps: invalid int value: 'ten'"),
    (["--env", "moon"], "argument --env: invalid choice: 'moon'"),
    ([], "the following arguments are required: --run"),
])
def test_malformed_evaluate_flags_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main(argv if not argv or argv[0] == "--run" else ["--run", "r", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.fixture
def no_compilation(monkeypatch):
    """Fail the test if the learner is built (the first step towards any compilation)."""
    def forbidden(*args, **kwargs):
        raise AssertionError("compiled before validating")

    monkeypatch.setattr(train_cli, "build", forbidden)


def run_main(args, capsys):
    code = train_cli.main(args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("extra, match", [
    ("bogus = 1", "tiny.toml: unknown key bogus; the known keys are"),
    ('eta_schedule = "-1"', "eta must be a finite number >= 0"),
    ('eta_schedule = "cosine"', "eta schedule"),
])
def test_bad_config_errors_before_compilation(tmp_path, capsys, no_compilation, extra, match):
    code, err = run_main(["--config", write(tmp_path, extra=extra), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert re.search(match, err), err


def test_bad_command_line_values_error_before_compilation(tmp_path, capsys, no_compilation):
    code, err = run_main(["--config", write(tmp_path), "--out", str(tmp_path / "o"), "--seeds", "0"], capsys)
    assert code == 2 and "--seeds must be an integer >= 1, got 0" in err
    code, err = run_main(["--config", write(tmp_path), "--out", str(tmp_path / "p"), "--max-minutes", "0"], capsys)
    assert code == 2 and "--max-minutes" in err


def test_bad_sections_and_files(tmp_path, no_compilation):
    with pytest.raises(InvalidConfigError, match=r"tiny.toml: \[buffer\] unknown key epsilon"):
        train_cli.load_config(write(tmp_path, buffer_extra="epsilon = 0.5"))
    with pytest.raises(InvalidConfigError, match=r"tiny.toml: \[buffer\] eps must be in \(0, 1\], got 1.5"):
        train_cli.load_config(write(tmp_path, buffer_extra="eps = 1.5"))
    with pytest.raises(InvalidConfigError, match="does not exist"):
        train_cli.load_config(tmp_path / "missing.toml")
    with pytest.raises(InvalidConfigError, match="algorithm"):
        train_cli.load_config(None, algo="bc")


@pytest.mark.parametrize("section, line, message", [
    ("ppo", 'num_envs = "32"', "tiny.toml: [ppo] num_envs = '32': expected an integer"),
    ("ppo", "learning_rate = -0.001", "tiny.toml: [ppo] learning_rate must be > 0, got -0.001"),
    ("ppo", "normalize_observations = 1", "tiny.toml: [ppo] normalize_observations = 1: expected true or false"),
    ("discriminator", 'hidden_sizes = [16, "a"]', "tiny.toml: [discriminator] hidden_sizes = [16, 'a']: expected a list of integers"),
    ("env_options", "max_speed = 3.0", "tiny.toml: [env_options] max_speed must be in (0, 0.5], got 3.0"),
    ("env_options", "speed = 1", "tiny.toml: [env_options] unknown key speed; the known keys are episode_length,"),
    ("buffer", "capacity = 2.5", "tiny.toml: [buffer] capacity = 2.5: expected an integer"),
    (None, 'seeds = "2"', "tiny.toml: seeds = '2': expected an integer"),
])
def test_config_errors_name_the_file_section_key_value_and_expected_form(tmp_path, no_compilation, section, line,
                                                                          message):
    text = TINY.format(algo="trirl", extra="", buffer_extra="")
    key = line.split("=")[0].strip()
    if re.search(rf"^{key} = ", text, re.M):  # TINY sets it already: change that line
        text = re.sub(rf"^{key} = .*$", line, text, count=1, flags=re.M)
    else:
        text = text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1) if section else line + "\n" + text
    (tmp_path / "tiny.toml").write_text(text)
    with pytest.raises(InvalidConfigError) as info:
        train_cli.load_config(tmp_path / "tiny.toml")
    assert str(info.value).endswith(message) or message in str(info.value), str(info.value)
    assert str(info.value).startswith(str(tmp_path / "tiny.toml"))


def test_bad_demonstrations_error_before_compilation(tmp_path, capsys, no_compilation):
    config = write(tmp_path)
    code, err = run_main(["--config", config, "--out", str(tmp_path / "a"), "--demos", str(tmp_path / "none.npz")],
                         capsys)
    assert code == 2 and "does not exist" in err
    demos = load_demonstrations(train_cli.EXPERTS_DIR / "point_maze" / "demos.npz")
    broken = tmp_path / "nan.npz"
    observations = demos.observations.copy()
    observations[0, 0, 0] = np.nan
    np.savez(broken, **{"schema_version": np.int64(1), "env_spec": np.frombuffer(
        json.dumps(demos.env_spec).encode(), np.uint8), **demos._replace(observations=observations)._asdict()
        | {"env_spec": np.frombuffer(json.dumps(demos.env_spec).encode(), np.uint8)}})
    code, err = run_main(["--config", config, "--out", str(tmp_path / "b"), "--demos", str(broken)], capsys)
    assert code == 2 and "observations contains NaN" in err
    other_env = tmp_path / "ant.npz"
    save_demonstrations(other_env, demos._replace(env_spec=dict(demos.env_spec, name="ant")))
    with pytest.raises(InvalidDemonstrationError, match="env_spec.name"):
        train_cli.prepare(train_cli.load_config(config, demos=str(other_env)))


@pytest.mark.slow  # compiles and trains
def test_nan_stops_the_run_with_a_checkpoint_and_says_where(tmp_path):
    # beta = 1e38 overflows the corrected reward (beta times the logits) once the buffer holds a
    # discriminator, at the second iteration; PPO's rewards are divided by beta and stay finite.
    config = train_cli.load_config(write(tmp_path, buffer_extra="beta = 1e38"))
    with pytest.raises(train_cli.NonFiniteError, match=r"iteration 2: metrics \['corrected_reward_mean'\]") as info:
        train_cli.train(config, tmp_path / "run", progress=False)
    assert "state leaves" in str(info.value)
    assert (tmp_path / "run" / "checkpoints" / "step_00000001.npz").exists()  # the last finite state
    assert (tmp_path / "run" / "nonfinite_state.npz").exists()


def test_check_finite_names_metrics_and_leaves():
    ok = {"eta": np.ones(2), "episode_return": np.array([np.nan, np.nan]), "episodes": np.zeros(2)}
    # the check trirl train's driver runs: an episode return may be NaN (no episode ended), eta not
    driver.check_finite(ok, {".ppo.params": np.array(False)}, 3, may_be_nan=MAY_BE_NAN)
    with pytest.raises(train_cli.NonFiniteError, match=r"metrics \['eta'\]; state leaves \['.disc.params'\]"):
        driver.check_finite(dict(ok, eta=np.array([1.0, np.nan])), {".disc.params": np.array(True)}, 3,
                            may_be_nan=MAY_BE_NAN)


def test_ctrl_c_finishes_the_iteration_checkpoints_it_and_the_printed_resume_command_works(tmp_path, interrupt):
    import shlex

    out = tmp_path / "run"
    argv = ["--config", write(tmp_path), "--out", str(out), "--steps", "10000000", "--no-progress"]
    returncode, err = interrupt("trirl.continuous.train", argv, out)
    assert returncode == 130, err
    assert "Traceback" not in err and "stopping after this iteration" in err
    kept = int(re.search(r"the checkpoint of iteration (\d+) is kept in", err).group(1))
    assert [row["iteration"] for row in read_metrics(out)] == list(range(1, kept + 1))
    resume = re.search(r"resume with: (.+)", err).group(1)
    words = shlex.split(resume)
    assert words[:2] == ["trirl", "train"] and words[-1] == "--resume"
    # run it as printed, with a budget two iterations (of 4 envs x 8 steps) past the checkpoint
    assert train_cli.main(words[2:] + ["--steps", str(32 * (kept + 2))]) == 0
    assert [row["iteration"] for row in read_metrics(out)] == list(range(1, kept + 3))


def test_transfer_is_normalised_by_the_named_expert_returns(tmp_path, capsys):
    """--expert-returns (the target env's expert) replaces the run's own returns.json as the scale."""
    target = tmp_path / "returns.json"
    target.write_text(json.dumps({"expert_return": 1000.0, "random_return": 0.0}))
    result = {"returns": [500.0, 700.0], "control_returns": [1000.0, 800.0]}
    run = evaluate_cli.LoadedRun(None, None, None, None, (1.0, 0.0), "own/returns.json", {})
    run = evaluate_cli.with_expert_returns(run, target)
    assert run.returns == (1000.0, 0.0) and run.returns_file == str(target)
    out = evaluate_cli.normalise(dict(result), run.returns, run.returns_file)
    assert out["normalised_return"] == pytest.approx(0.6) and out["control_normalised_return"] == pytest.approx(0.9)
    assert out["normalised_return_ratio"] == pytest.approx(0.6 / 0.9) and out["expert_returns"] == str(target)
    assert "normalised_return" not in evaluate_cli.normalise(dict(result), None, tmp_path / "none.json")
    with pytest.raises(InvalidConfigError, match="--expert-returns: .*none.json does not exist"):
        evaluate_cli.with_expert_returns(run, tmp_path / "none.json")
    assert evaluate_cli.main(["--run", str(tmp_path), "--expert-returns", str(tmp_path / "none.json")]) == 2
    assert "--expert-returns" in capsys.readouterr().err


@pytest.mark.slow  # the shared run's checkpoints (nothing compiles here)
def test_evaluate_falls_back_from_a_damaged_newest_checkpoint_and_records_it(full_run, tmp_path):
    import shutil

    from trirl.errors import DamagedCheckpointWarning

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    newest = run / "checkpoints" / "step_00000004.npz"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # cut by a full disk
    with pytest.warns(DamagedCheckpointWarning, match="step_00000004.npz cannot be read .*using step_00000002.npz"):
        loaded = evaluate_cli.load_run(run)
    config, state, record = loaded.config, loaded.state, loaded.record
    assert record == {"checkpoint_iteration": 2, "run_iterations": 4, "run_state": "stopped"}
    assert jax.tree_util.tree_leaves(state)[0].shape[0] == config.seeds
