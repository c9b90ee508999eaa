import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trirl.cli import main
from trirl.rundir import read_metrics
from trirl.tabular import gridworld

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def test_grid_runs_end_to_end_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["grid", "--world", "open_room", "--iterations", "15", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "summary" in printed and "reverse KL" in printed
    for name in ("config.json", "metrics.jsonl", "figure2.png", "summary.txt"):
        assert (out / name).exists(), name
    config = json.loads((out / "config.json").read_text())
    assert config["world"] == "open_room" and config["seed"] == 0 and "trirl grid" in config["rerun"]
    rows = read_metrics(out)
    assert [r["iteration"] for r in rows] == list(range(16))
    assert rows[-1]["reverse_kl"] < rows[0]["reverse_kl"]
    assert main(["grid", "--world", "open_room", "--iterations", "20", "--out", str(out), "--quiet", "--resume"]) == 0
    assert [r["iteration"] for r in read_metrics(out)] == list(range(21))


def test_grid_resume_alone_continues_with_the_saved_flags_and_refuses_a_changed_one(tmp_path, capsys):
    """``trirl grid --out RUN --resume`` needs none of the run's flags again (they are in its
    config.json); a flag typed overrides the saved one, so a changed setting is refused by name."""
    out = tmp_path / "run"
    args = ["grid", "--world", "lava_corridor", "--eps", "0.5", "--iterations", "4", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert main(["grid", "--out", str(out), "--resume", "--iterations", "6", "--quiet"]) == 0
    assert [r["iteration"] for r in read_metrics(out)] == list(range(7))
    assert json.loads((out / "config.json").read_text())["world"] == "lava_corridor"
    capsys.readouterr()
    assert main(["grid", "--out", str(out), "--resume", "--eps", "0.2", "--quiet"]) == 2
    assert "eps: 0.5 -> 0.2" in capsys.readouterr().err


def test_grid_from_sampled_demonstrations(tmp_path):
    out = tmp_path / "demo"
    assert main(["grid", "--world", "lava_corridor", "--demos", "50", "--horizon", "50",
                 "--iterations", "5", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["demos"] == 50


@pytest.mark.parametrize(
    "argv, message",
    [(["--world", "nowhere"], "unknown grid world"), (["--eps", "0"], "eps"), (["--eta", "cosine:1"], "eta"),
     (["--variant", "upside-down"], "variant")],
)
def test_grid_bad_arguments_are_named_and_leave_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "bad"
    assert exit_code(["grid", "--out", str(out), "--quiet", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def exit_code(argv) -> int:
    """``trirl argv``'s exit status, whether argparse exits or main returns."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


@pytest.mark.parametrize("argv, message", [
    (["--demos", "-5"], "argument --demos: expected an integer >= 0, got -5"),
    (["--demos", "10", "--smoothing", "0"], "argument --smoothing: expected a number in (0, 1), got 0"),
    (["--smoothing", "1"], "argument --smoothing"),
    (["--horizon", "0"], "argument --horizon: expected an integer >= 1"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0"),
    (["--iterations", "ten"], "argument --iterations: expected an integer >= 0, got 'ten'"),
    (["--eps", "1.5"], "argument --eps: expected a number in (0, 1]"),
    (["--beta", "nan"], "argument --beta: expected a number > 0"),
    (["--kl-bound", "0"], "argument --kl-bound: expected a number > 0"),
    (["--eta", "-1"], "argument --eta: eta must be a finite number >= 0"),
    (["--world", "nowhere"], "--world nowhere: unknown grid world 'nowhere'"),
    (["--variant", "upside-down"], "--world open_room --variant upside-down: "),
])
def test_each_grid_error_names_the_flag_the_user_typed(tmp_path, capsys, argv, message):
    out = tmp_path / "bad"
    assert exit_code(["grid", "--world", "open_room", "--iterations", "1", "--out", str(out), "--quiet", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_config_records_every_world_setting_defaults_included(tmp_path):
    (tmp_path / "tiny.txt").write_text("S..\n..G\n")
    (tmp_path / "tiny.toml").write_text("step_cost = -0.1\n")  # no discount: the default 0.95 applies
    out = tmp_path / "run"
    assert main(["grid", "--world", str(tmp_path / "tiny.toml"), "--iterations", "1", "--out", str(out), "--quiet"]) == 0
    settings = json.loads((out / "config.json").read_text())["world_settings"]
    assert settings["discount"] == 0.95 and settings["step_cost"] == -0.1 and settings["start"] == "marked"
    assert settings["rewards"] == {"floor": 0.0, "goal": 3.0, "lava": -3.0, "ice": 0.0}
    assert settings["wind"] == {"direction": "up", "probability": 0.0} and settings["cells"] == ["S..", "..G"]
    assert gridworld.load(tmp_path / "tiny.toml").mdp.discount == settings["discount"]


def _as_python(command: str) -> list[str]:
    """A command printed for users (``trirl grid ...``) as this interpreter runs it."""
    words = shlex.split(command)
    assert words[0] == "trirl", command
    return [sys.executable, "-m", "trirl.cli", *words[1:]]


def test_the_saved_rerun_command_works_as_written(tmp_path):
    out = tmp_path / "first"
    assert main(["grid", "--world", "open_room", "--iterations", "3", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    rerun = subprocess.run(_as_python(config["rerun"]), cwd=tmp_path, env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    (again,) = (tmp_path / "runs").glob("grid-open_room-*")
    # the same run again: same seed and settings, same numbers
    assert [r["dual"] for r in read_metrics(again)] == [r["dual"] for r in read_metrics(out)]
    assert len(read_metrics(again)) == 4


def test_the_saved_commands_work_from_another_folder(tmp_path):
    """A world and demonstrations given by relative paths: config.json's rerun and resume name them
    absolute, so both run as written from any folder."""
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir(), elsewhere.mkdir()
    (home / "tiny.txt").write_text("S..\n..G\n")
    (home / "tiny.toml").write_text("step_cost = -0.1\n")
    (home / "demos.csv").write_text("episode,step,state,action\n0,0,0,right\n0,1,1,down\n0,2,4,right\n0,3,5,\n")
    first = subprocess.run(_as_python("trirl grid --world tiny.toml --demos-file demos.csv --iterations 2 --quiet "
                                      "--out run"), cwd=home, env=ENV, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    config = json.loads((home / "run" / "config.json").read_text())
    assert config["world"] == str(home / "tiny.toml") and config["demos_file"] == str(home / "demos.csv")
    resume = config["resume"].replace("--iterations 2", "--iterations 3")
    resumed = subprocess.run(_as_python(resume), cwd=elsewhere, env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert [row["iteration"] for row in read_metrics(home / "run")] == [0, 1, 2, 3]
    rerun = subprocess.run(_as_python(config["rerun"]), cwd=elsewhere, env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    (again,) = (elsewhere / "runs").glob("grid-tiny-*")
    assert [r["dual"] for r in read_metrics(again)] == [r["dual"] for r in read_metrics(home / "run")][:3]


def _grid_summary(folder, capsys, cells: str, toml: str, *flags: str) -> tuple[str, str]:
    """``trirl grid`` on a world ``w`` of ``cells`` and ``toml`` in a new ``folder``: (its summary.txt, its stderr)."""
    folder.mkdir()
    (folder / "w.txt").write_text(cells)
    (folder / "w.toml").write_text(toml)
    out = folder / "run"
    assert main(["grid", "--world", str(folder / "w.toml"), "--iterations", "3", "--out", str(out), "--quiet",
                 *flags]) == 0
    return (out / "summary.txt").read_text(), capsys.readouterr().err


def test_the_expert_normalised_return_is_n_a_where_the_expert_is_no_better_than_uniform(tmp_path, capsys):
    # no goal, no lava: every policy has the same return; the no-preference warning says why
    summary, err = _grid_summary(tmp_path / "flat", capsys, "S..\n...\n", "step_cost = -0.1\n")
    assert ("uniform policy -2 (expert-normalised: n/a, the expert's return cannot be told from the uniform "
            "policy's)") in summary
    assert "nan" not in summary and "the true reward gives no preference" in err
    # lava 40 cells away at discount 0.5: the reward prefers, but no return can tell the policies apart
    summary, err = _grid_summary(tmp_path / "far", capsys, "S" + "." * 40 + "L\n", "discount = 0.5\n")
    assert "expert-normalised: n/a" in summary and "nan" not in summary
    assert re.search(r"^trirl grid: warning: w: the expert's true return \(\S+\) and the uniform policy's \(\S+\) "
                     r"differ by less than 1e-9, so the expert-normalised return is undefined", err, re.M)
    # lava only, near: returns of about 0 for the expert and the learner, well below 0 for the uniform
    # policy, so the learner's normalised 1 is defined, and the line shows why
    summary, err = _grid_summary(tmp_path / "near", capsys, "S...L\n", "discount = 0.9\n")
    line = next(line for line in summary.splitlines() if "true discounted return" in line)
    assert re.search(r"uniform policy -2\.4\d* \(expert-normalised 1; uniform policy = 0, expert = 1\)", line), line
    assert "warning" not in err


def test_the_summary_names_what_the_reverse_kl_is_measured_to(tmp_path, capsys):
    exact, _ = _grid_summary(tmp_path / "exact", capsys, "S..\n..G\n", "step_cost = -0.1\n")
    assert "reverse KL to the expert's exact occupancy" in exact and "demonstrations" not in exact
    sampled, _ = _grid_summary(tmp_path / "sampled", capsys, "S..\n..G\n", "step_cost = -0.1\n", "--demos", "5")
    assert "reverse KL to the demonstrations' occupancy" in sampled and "exact occupancy" not in sampled


def test_ctrl_c_keeps_the_checkpoint_and_prints_a_resume_command_that_works(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(_as_python(f"trirl grid --world open_room --iterations 1000000 --quiet --out {out}"),
                               env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "metrics.jsonl").exists() or len(read_metrics(out)) < 25:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    kept = int(re.search(r"the checkpoint of iteration (\d+) is kept in", err).group(1))
    rows = read_metrics(out)
    # the newest checkpoint is the last iteration logged: no work lost, nothing to trim
    assert rows[-1]["iteration"] == kept >= 24
    assert sorted((out / "checkpoints").glob("*.npz"))[-1].name == f"step_{kept:08d}.npz"
    resume = re.search(r"resume with: (.+)", err).group(1)
    assert resume.endswith(f"--out {out} --resume")
    words = _as_python(resume)
    words[words.index("--iterations") + 1] = str(kept + 3)  # finish soon instead of after 1e6 iterations
    resumed = subprocess.run(words, env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert [r["iteration"] for r in read_metrics(out)] == list(range(kept + 4))


def test_grid_refuses_to_overwrite_a_run(tmp_path, capsys):
    args = ["grid", "--world", "open_room", "--iterations", "1", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err


def test_resume_refuses_a_world_whose_settings_changed(tmp_path, capsys):
    (tmp_path / "tiny.txt").write_text("S..\n..G\n")
    world = tmp_path / "tiny.toml"
    world.write_text("step_cost = -0.1\n")
    args = ["grid", "--world", str(world), "--iterations", "2", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(args) == 0
    world.write_text("step_cost = -0.1\ndiscount = 0.9\n")
    assert main([*args, "--resume"]) == 2
    assert "world_settings" in capsys.readouterr().err


def test_one_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("grid", "compare", "verify", "bench", "expert", "train", "evaluate"):
        assert re.search(rf"^\s+{command}\s+\S", text, flags=re.MULTILINE), command


def _without_the_extra(monkeypatch):
    """The continuous commands' modules as they import where the continuous extra is missing."""
    import importlib

    real = importlib.import_module

    def without_jax(name, *args, **kwargs):
        if name.startswith(("trirl.continuous", "trirl.bench")):
            raise ModuleNotFoundError("No module named 'jax'", name="jax")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", without_jax)


@pytest.mark.parametrize("argv", [["train", "--out", "run"], ["bench", "table1"], ["demos", "inspect", "x.npz"],
                                  ["bench", "compile", "--config", "x.toml"]])
def test_a_continuous_command_without_the_extra_says_what_to_install(argv, monkeypatch, capsys):
    _without_the_extra(monkeypatch)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs the continuous extra (jax is not installed): pip install 'trirl[continuous]'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["train", "--help"], ("train",)), (["bench", "continuous", "--help"], ("bench", "continuous")),
    (["bench", "compile", "-h"], ("bench", "compile")), (["expert", "train", "--out", "x", "--help"], ("expert", "train")),
])
def test_a_continuous_command_s_help_lists_its_flags_without_the_extra(argv, words, monkeypatch, capsys):
    from trirl.helptext import help_file

    _without_the_extra(monkeypatch)
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out == help_file(words).read_text() and out.startswith(f"usage: trirl {' '.join(words)} [-h]")
    assert "pip install" not in out + err


def test_help_without_jax_in_a_fresh_interpreter():
    """The same where importing JAX itself fails, as in an install without the extra."""
    block = "import sys; sys.modules.update(dict.fromkeys(('jax', 'flax', 'optax', 'mujoco'))); from trirl.cli import main; "
    for argv, flag in ((["train", "--help"], "--ppo.learning-rate LEARNING_RATE"), (["bench", "continuous", "--help"],
                       "--physics-steps"), (["bench", "compile", "--help"], "--no-compile-cache")):
        done = subprocess.run([sys.executable, "-c", block + f"sys.exit(main({argv!r}))"], env=ENV, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and flag in done.stdout and not done.stderr, (argv, done.stderr[-2000:])
    ran = subprocess.run([sys.executable, "-c", block + "sys.exit(main(['train', '--out', 'run']))"], env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 2 and "pip install 'trirl[continuous]'" in ran.stderr and not ran.stdout


@pytest.mark.continuous
def test_the_help_kept_for_an_install_without_the_extra_is_what_the_parsers_print():
    pytest.importorskip("jax")
    from trirl.helptext import COMMANDS, help_file, live_help

    stale = [str(help_file(words)) for words in COMMANDS
             if not help_file(words).is_file() or help_file(words).read_text() != live_help(words)]
    assert not stale, f"out of date (a flag changed): {stale}; rewrite them with: python -m trirl.helptext"
