import json
import re

import pytest

pytest.importorskip("jax")

from trirl.continuous import expert  # noqa: E402
from trirl.continuous.demos import load_demonstrations  # noqa: E402
from trirl.continuous.envs import make  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402
from trirl.rundir import read_metrics  # noqa: E402

pytestmark = pytest.mark.continuous

CONFIG = """
env = "point_maze"
seed = 3
total_steps = {steps}
eval_every = 2
eval_episodes = 4
checkpoint_every = 2

[env_options]
episode_length = 20

[ppo]
num_envs = 4
rollout_length = 8
num_epochs = 2
num_minibatches = 2
policy_hidden = [16]
value_hidden = [16]
"""


def write_config(tmp_path, steps):
    path = tmp_path / f"pm_{steps}.toml"
    path.write_text(CONFIG.format(steps=steps))
    return str(path)


@pytest.mark.slow  # compiles and trains
def test_train_resume_reproduces_then_evaluate_and_collect(tmp_path, capsys):
    full, split = tmp_path / "full", tmp_path / "split"
    expert.main(["train", "--env", "point_maze", "--config", write_config(tmp_path, 128), "--out", str(full)])
    # the same run stopped after 2 of 4 iterations, then resumed with the full budget
    expert.main(["train", "--env", "point_maze", "--config", write_config(tmp_path, 64), "--out", str(split)])
    assert len(read_metrics(split)) == 2
    expert.main(["train", "--env", "point_maze", "--config", write_config(tmp_path, 128), "--out", str(split), "--resume"])
    rows_full, rows_split = read_metrics(full), read_metrics(split)
    assert [r["iteration"] for r in rows_full] == [1, 2, 3, 4]
    assert rows_split == rows_full
    assert "eval_return" in rows_full[-1] and "policy_kl" in rows_full[-1]
    assert (full / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"

    out = tmp_path / "returns.json"
    expert.main(["evaluate", "--checkpoint", str(full), "--episodes", "4", "--out", str(out)])
    result = json.loads(out.read_text())
    assert {"expert_return", "random_return", "expert_falls", "random_length_mean", "command", "machine"} <= set(result)
    printed = capsys.readouterr().out.splitlines()  # a readable summary, the JSON's numbers
    assert printed[-3] == "point_maze (version 1): 4 episodes of at most 20 steps each"
    assert printed[-2].split()[:6] == ["expert", "(deterministic)", "return", f"{result['expert_return']:.1f}", "+-",
                                       f"{result['expert_return_std']:.1f}"]
    assert printed[-1].split()[:3] == ["uniform", "random", "return"] and "{" not in "".join(printed[-3:])

    demos_path = tmp_path / "demos.npz"
    expert.main(["collect", "--checkpoint", str(full), "--out", str(demos_path), "--episodes", "3", "--length", "12"])
    demos = load_demonstrations(demos_path, env_spec=make("point_maze", {"episode_length": 12}).spec)
    assert demos.observations.shape == (3, 12, 2) and demos.lengths.tolist() == [12, 12, 12]
    assert not demos.absorbing.any()
    assert capsys.readouterr().out.strip().endswith("mean length 12.0, 0 ended absorbing (falls)")


def test_new_run_refuses_existing_directory_and_config_env_mismatch(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")

    def error(argv):  # what the user reads: the subcommand, then the message
        assert expert.main(argv) == 2
        return capsys.readouterr().err

    assert error(["train", "--env", "point_maze", "--config", write_config(tmp_path, 32), "--out", str(tmp_path / "run")]
                 ).startswith(f"trirl expert train: error: {tmp_path / 'run'} already holds a run")
    assert re.match(r"^trirl expert train: error: --env ant, but .*pm_32.toml: env = 'point_maze'; drop --env",
                    error(["train", "--env", "ant", "--config", write_config(tmp_path, 32), "--out", str(tmp_path / "x")]))
    assert error(["collect", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "d.npz")]).startswith(
        f"trirl expert collect: error: --checkpoint: {tmp_path} is not a run directory")
    assert error(["evaluate", "--checkpoint", str(tmp_path), "--episodes", "0"]) == \
        "trirl expert evaluate: error: --episodes must be >= 1, got 0\n"
    irl = tmp_path / "irl"  # a trirl train run given where an expert's is expected
    irl.mkdir()
    (irl / "config.json").write_text('{"algo": "trirl", "env": "point_maze", "ppo": {}}')
    assert error(["evaluate", "--checkpoint", str(irl)]) == (
        f"trirl expert evaluate: error: --checkpoint: {irl} is a trirl train run (trirl on point_maze), not an "
        f"expert's; evaluate its policy and reward with: trirl evaluate --run {irl}\n")


def test_env_flag_fills_a_config_without_env_and_flags_override_the_file(tmp_path):
    path = tmp_path / "no_env.toml"
    path.write_text(CONFIG.format(steps=64).replace('env = "point_maze"\n', ""))
    parser = expert.build_parser()
    args = parser.parse_args(["train", "--env", "point_maze", "--config", str(path), "--out", str(tmp_path / "run"),
                              "--steps", "96", "--ppo.num-envs", "8"])
    config = expert.config_from_args(args)
    assert (config.env, config.total_steps, config.seed) == ("point_maze", 96, 3)
    assert (config.ppo.num_envs, config.ppo.rollout_length) == (8, 8)  # the flag, then the file's table
    with pytest.raises(InvalidConfigError, match=r"^--env is required"):
        expert.config_from_args(parser.parse_args(["train", "--config", str(path), "--out", str(tmp_path / "run")]))
    # the library's loader has no --env: the file's own missing key is named, not a TypeError
    with pytest.raises(InvalidConfigError, match=rf"^{path}: missing key env \(expected a string\)$"):
        expert.load_config(path)


def test_expert_config_errors_name_the_file_section_key_and_value(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(CONFIG.format(steps=64).replace("num_envs = 4", 'num_envs = "32"'))
    with pytest.raises(InvalidConfigError, match=rf"^{path}: \[ppo\] num_envs = '32': expected an integer$"):
        expert.load_config(path)
    path.write_text(CONFIG.format(steps=64).replace("num_envs = 4", "num_envs = 4\nlearning_rate = -0.001"))
    with pytest.raises(InvalidConfigError, match=rf"^{path}: \[ppo\] learning_rate must be > 0, got -0.001$"):
        expert.load_config(path)
    with pytest.raises(InvalidConfigError, match="^--steps must be >= 1, got 0$"):
        expert.load_config(write_config(tmp_path, 64), total_steps=0)


def test_ctrl_c_during_expert_training_keeps_the_iteration_and_prints_the_resume_command(tmp_path, interrupt):
    import re

    out = tmp_path / "run"
    argv = ["train", "--env", "point_maze", "--config", write_config(tmp_path, 10**7), "--out", str(out)]
    returncode, err = interrupt("trirl.continuous.expert", argv, out)
    assert returncode == 130, err
    assert "Traceback" not in err
    kept = int(re.search(r"the checkpoint of iteration (\d+) is kept in", err).group(1))
    assert len(read_metrics(out)) == kept >= 3  # the iteration under way finished and was kept
    assert (out / "checkpoints" / f"step_{kept:08d}.npz").exists()
    assert re.search(r"resume with: trirl expert train .* --out \S+ --resume$", err.strip())
    assert "\ntrirl expert train: interrupted; the checkpoint of iteration" in err


def test_max_minutes_pauses_with_a_checkpoint_and_resume_reproduces(tmp_path, capsys):
    full, split = tmp_path / "full", tmp_path / "split"
    config = write_config(tmp_path, 128)
    expert.main(["train", "--env", "point_maze", "--config", config, "--out", str(full)])
    # a budget that runs out during the first iteration: one iteration, checkpointed, then a clean exit
    expert.main(["train", "--env", "point_maze", "--config", config, "--out", str(split), "--max-minutes", "1e-6"])
    printed = capsys.readouterr().out
    assert "paused after 1 of 4 iterations" in printed
    assert f"--out {split} --max-minutes 1e-6 --resume" in printed
    assert len(read_metrics(split)) == 1
    assert sorted(p.name for p in (split / "checkpoints").glob("step_*.npz")) == ["step_00000001.npz"]
    expert.main(["train", "--env", "point_maze", "--config", config, "--out", str(split), "--resume"])
    assert read_metrics(split) == read_metrics(full)
    assert expert.main(["train", "--env", "point_maze", "--config", config, "--out", str(tmp_path / "x"),
                        "--max-minutes", "0"]) == 2
    assert capsys.readouterr().err.endswith("\ntrirl expert train: error: --max-minutes must be > 0, got 0.0\n")


def test_python_m_form_reports_bad_config_without_a_traceback(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    bad = tmp_path / "bad.toml"
    bad.write_text('[ppo]\nnum_envs = "32"\n')
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-m", "trirl.continuous.expert", "train", "--env", "point_maze",
                           "--config", str(bad), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"error: {bad}: [ppo] num_envs = '32': expected an integer" in done.stderr


def test_shipped_half_cheetah_expert_demonstrates_without_falls_at_its_evaluated_return():
    """The committed CPU HalfCheetah expert (Gymnasium's HalfCheetah-v5 on MJX): 30 deterministic
    demonstrations, all of the full 1,000 steps and none absorbing, whose mean return is the
    evaluated expert return of returns.json (within 5 %), far above the uniform-random policy's."""
    from pathlib import Path

    root = Path(__file__).parents[2] / "continuous" / "experts" / "half_cheetah"
    returns = json.loads((root / "returns.json").read_text())
    demos = load_demonstrations(root / "demos.npz")
    assert len(demos.lengths) == 30 and set(demos.lengths.tolist()) == {1000}
    assert not demos.absorbing.any()
    assert demos.env_spec["name"] == "half_cheetah" and demos.env_spec["version"] == 2
    assert abs(float(demos.returns.mean()) - returns["expert_return"]) <= 0.05 * returns["expert_return"]
    assert returns["expert_return"] >= 3000 > 0 > returns["random_return"]


@pytest.mark.parametrize("task, target", [("hopper", 2500), ("walker2d", 3000)])
def test_shipped_expert_demonstrates_without_falls_chosen_from_its_rollouts(task, target):
    """The committed CPU Hopper and Walker2d experts (Gymnasium's v5 tasks on MJX) fall in some
    episodes, so their 30 deterministic demonstrations are the first 30 rollouts without a fall
    (``trirl expert collect --without-falls``): all of the full 1,000 steps, none absorbing, their
    mean return at least the evaluated expert return (which counts the falls), itself above the
    task's target (2,500 and 3,000)."""
    from pathlib import Path

    root = Path(__file__).parents[2] / "continuous" / "experts" / task
    returns = json.loads((root / "returns.json").read_text())
    demos = load_demonstrations(root / "demos.npz")
    assert len(demos.lengths) == 30 and set(demos.lengths.tolist()) == {1000}
    assert not demos.absorbing.any()
    assert demos.env_spec["name"] == task and demos.env_spec["version"] == 2
    assert float(demos.returns.mean()) >= returns["expert_return"] >= target > returns["random_return"]
    assert returns["expert_falls"] > 0  # why the demonstrations were chosen: said, not hidden


def test_without_falls_keeps_the_first_episodes_that_did_not_end_absorbing():
    import numpy as np

    from trirl.continuous.demos import Demonstrations
    from trirl.continuous.expert import without_falls

    n, t = 5, 4
    absorbing = np.zeros((n, t), bool)
    absorbing[1, 2] = absorbing[3, 0] = True
    demos = Demonstrations(np.arange(n * t * 2, dtype=np.float32).reshape(n, t, 2), np.zeros((n, t, 1), np.float32),
                           np.zeros((n, t, 2), np.float32), absorbing, np.ones((n, t), np.float32),
                           np.full(n, t, np.int32), np.arange(n, dtype=np.float32), {"name": "x"})
    kept = without_falls(demos, 2)
    assert kept.returns.tolist() == [0.0, 2.0] and not kept.absorbing.any()
    np.testing.assert_array_equal(kept.observations, demos.observations[[0, 2]])
    assert kept.env_spec == {"name": "x"}
    with pytest.raises(InvalidConfigError, match=r"--without-falls: only 3 of 5 rollouts ended without a fall, 4 wanted"):
        without_falls(demos, 4)


BEST_CONFIG = CONFIG.replace("eval_every = 2", "eval_every = 1").replace("checkpoint_every = 2", "checkpoint_every = 1")


@pytest.mark.slow  # trains twice (about 20 s)
def test_the_best_evaluated_checkpoint_is_kept_used_by_best_and_found_in_a_run_from_before(tmp_path, capsys):
    import numpy as np

    from trirl.rundir import read_checkpoint

    full, old = tmp_path / "full", tmp_path / "old"
    config = tmp_path / "pm.toml"
    config.write_text(BEST_CONFIG.format(steps=192))  # 6 iterations of 32 steps, each evaluated and checkpointed
    assert expert.main(["train", "--env", "point_maze", "--config", str(config), "--out", str(full)]) == 0
    rows = read_metrics(full)
    returns = [row["eval_return"] for row in rows]
    best = int(np.argmax(returns)) + 1
    assert best < len(rows) - 2  # this run peaks, then degrades: its best checkpoint was pruned from step_*.npz
    assert [row["best_iteration"] for row in rows] == [int(np.argmax(returns[:i])) + 1 for i in range(1, 7)]
    assert rows[-1]["best_eval_return"] == max(returns)
    kept = sorted(p.name for p in (full / "checkpoints").glob("*.npz"))
    assert kept == [f"best_step_{best:08d}.npz", "step_00000004.npz", "step_00000005.npz", "step_00000006.npz"]
    printed = capsys.readouterr().out
    assert f"best eval_return {max(returns):.2f} at iteration {best}, kept as {full}/checkpoints/best_step_" in printed

    # a run made before best checkpoints were kept (no best file, no best_* in its rows), resumed by this trirl:
    # its best is the best evaluated of its kept checkpoints, and the resumed rows are those of the run above
    config.write_text(BEST_CONFIG.format(steps=32 * best))
    assert expert.main(["train", "--env", "point_maze", "--config", str(config), "--out", str(old)]) == 0
    for path in (old / "checkpoints").glob("best_step_*.npz"):
        path.unlink()
    lines = [{k: v for k, v in row.items() if not k.startswith("best_")} for row in read_metrics(old)]
    (old / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in lines))
    config.write_text(BEST_CONFIG.format(steps=192))
    assert expert.main(["train", "--env", "point_maze", "--config", str(config), "--out", str(old), "--resume"]) == 0
    assert read_metrics(old)[best:] == rows[best:]
    ours, theirs = (read_checkpoint(run / "checkpoints" / f"best_step_{best:08d}.npz") for run in (full, old))
    assert ours.arrays.keys() == theirs.arrays.keys()  # the state of that iteration, whichever way it was kept
    for name in ours.arrays:
        np.testing.assert_array_equal(ours.arrays[name], theirs.arrays[name])
    assert ours.meta["eval_return"] == theirs.meta["eval_return"] == max(returns)

    capsys.readouterr()
    for choice in ([], ["--best"]):
        out = tmp_path / f"returns{len(choice)}.json"
        assert expert.main(["evaluate", "--checkpoint", str(full), *choice, "--episodes", "2", "--out", str(out)]) == 0
        assert json.loads(out.read_text())["checkpoint_iteration"] == (best if choice else 6)
    assert f"the best checkpoint: iteration {best} (eval_return {max(returns):.2f} during training)" in capsys.readouterr().out
    assert expert.main(["collect", "--checkpoint", str(full), "--best", "--out", str(tmp_path / "d.npz"),
                        "--episodes", "1"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(f"wrote 1 episode to {tmp_path / 'd.npz'}: ")
    for path in (full / "checkpoints").glob("best_step_*.npz"):
        path.unlink()
    assert expert.main(["evaluate", "--checkpoint", str(full), "--best"]) == 2
    assert capsys.readouterr().err.startswith(f"trirl expert evaluate: error: --checkpoint {full} --best: the run "
                                              "holds no best checkpoint")
    assert expert.main(["collect", "--checkpoint", str(full / "checkpoints" / "step_00000006.npz"), "--best",
                        "--out", str(tmp_path / "e.npz")]) == 2
    assert "--best picks a run's best checkpoint: pass the run directory" in capsys.readouterr().err
