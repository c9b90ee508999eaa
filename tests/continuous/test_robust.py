"""Bad files, bad values, full disks and concurrent runs against trirl train and trirl evaluate:
each is refused before anything compiles, with an error naming the file, field or flag (a battery
of such faults, one regression test per case and a sweep per kind)."""

import dataclasses
import json
import subprocess
import sys
import typing

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from test_train_cli import no_compilation, write  # noqa: E402,F401  (no_compilation: a fixture)

from trirl.continuous import evaluate as evaluate_cli  # noqa: E402
from trirl.continuous import train as train_cli  # noqa: E402
from trirl.continuous.demos import load_demonstrations  # noqa: E402
from trirl.errors import InvalidConfigError, InvalidDemonstrationError  # noqa: E402
from trirl.rundir import RunDir  # noqa: E402

pytestmark = pytest.mark.continuous


def run_main(module, argv, capsys):
    code = module.main(argv)
    return code, capsys.readouterr().err


# -- config values: validation generated from the field types, before anything compiles -------------

@pytest.mark.parametrize("flag, value, message", [
    ("--ppo.policy-hidden", "0", "--ppo.policy-hidden must be a list of integers >= 1, got (0,)"),
    ("--ppo.value-hidden", "0", "--ppo.value-hidden must be a list of integers >= 1, got (0,)"),
    ("--ppo.value-coef", "-1", "--ppo.value-coef must be >= 0, got -1.0"),
    ("--ppo.learning-rate", "nan", "--ppo.learning-rate = nan: expected a finite number"),
    ("--ppo.clip-eps", "inf", "--ppo.clip-eps = inf: expected a finite number"),
    ("--ppo.max-grad-norm", "nan", "--ppo.max-grad-norm = nan: expected a finite number"),
    ("--ppo.init-log-std", "-inf", "--ppo.init-log-std = -inf: expected a finite number"),
    ("--ppo.value-coef", "inf", "--ppo.value-coef = inf: expected a finite number"),
])
def test_bad_ppo_values_name_the_flag_before_compilation(tmp_path, capsys, no_compilation, flag, value, message):
    code, err = run_main(train_cli, ["--config", write(tmp_path), "--out", str(tmp_path / "o"), f"{flag}={value}"],
                         capsys)
    assert code == 2 and message in err, err
    assert not (tmp_path / "o").exists()


def test_a_section_that_is_not_a_table_is_named(tmp_path, no_compilation):
    for section in ("ppo", "buffer", "discriminator", "trust_region"):
        path = tmp_path / "bad.toml"
        path.write_text(f'env = "point_maze"\n{section} = 3\n')
        with pytest.raises(InvalidConfigError, match=rf"bad.toml: {section} = 3: expected a table \[{section}\]"):
            train_cli.load_config(path)


def _fields(cls, section=""):
    """``[(dotted field, type)]`` of a config dataclass and its nested tables."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        dotted = f"{section}.{field.name}" if section else field.name
        if dataclasses.is_dataclass(kind):
            yield from _fields(kind, dotted)
        elif field.init:
            yield dotted, kind


FIELDS = [(name, kind) for name, kind in _fields(train_cli.TrainConfig) if not name.startswith("buffer.network")]


@pytest.mark.parametrize("name, kind", [(n, k) for n, k in FIELDS if k in (float, int) or
                                        typing.get_origin(k) is tuple], ids=lambda x: str(x))
def test_every_numeric_field_refuses_non_finite_and_mistyped_values(tmp_path, name, kind):
    """Sweep over every field of every table: a float field refuses NaN and both infinities, an
    integer field 1.5 and true, a widths field a width of 0, each naming the ``[section] key``."""
    *sections, key = name.split(".")
    where = (f"[{'.'.join(sections)}] " if sections else "") + key
    if kind is float:
        bad = [float("nan"), float("inf"), float("-inf")]
    elif kind is int:
        bad = [1.5, True]
    else:
        if not (name.endswith("hidden") or name.endswith("sizes")):
            pytest.skip("not a widths field")
        bad = [[0], [16, -1]]
    for value in bad:
        data = {}
        table = data
        for section in sections:
            table = table.setdefault(section, {})
        table[key] = value
        with pytest.raises(InvalidConfigError) as info:
            train_cli.from_dict(data, "sweep.toml")
        assert str(info.value).startswith(f"sweep.toml: {where}"), (value, str(info.value))


# -- demonstrations that cannot be decoded ----------------------------------------------------------

def _demo_file(tmp_path):
    from test_demos import make_demos

    from trirl.continuous.demos import save_demonstrations

    return save_demonstrations(tmp_path / "demos.npz", make_demos())


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "damaged or truncated zip archive"),
    (lambda p: p.write_bytes(b""), "it is empty"),
    (lambda p: p.write_bytes(b"garbage " * 40), "it is not a zip archive"),
    (lambda p: np.save(open(p, "wb"), np.zeros(3)), "single .npy array, not an .npz archive"),
    (lambda p: np.savez(p, **{**dict(np.load(p)), "schema_version": np.array([1, 1])}),
     r"'schema_version' has shape \(2,\), not a single number"),
    (lambda p: np.savez(p, **{**dict(np.load(p)), "schema_version": np.array(1.5)}),
     "'schema_version' has dtype float64, not an integer array"),
])
def test_unreadable_demonstrations_name_the_file_and_what_is_wrong(tmp_path, damage, reason):
    path = _demo_file(tmp_path)
    damage(path)
    with pytest.raises(InvalidDemonstrationError, match=reason) as info:
        load_demonstrations(path)
    assert str(path) in str(info.value) and "expected demonstrations (schema version 1" in str(info.value)


# -- --resume: cross-checks before compilation ------------------------------------------------------

def _saved_run(tmp_path, checkpoint_step=None):
    """A run directory as trirl train leaves it (config.json, optionally a checkpoint), no training."""
    config = train_cli.load_config(write(tmp_path))
    out = tmp_path / "run"
    with RunDir(out, config.to_dict()) as run:
        if checkpoint_step is not None:
            run.log({"iteration": checkpoint_step})
            run.save_checkpoint(checkpoint_step, {"x": np.zeros(2)}, {"iteration": checkpoint_step})
    return out, (out / "config.json").read_text()


@pytest.mark.parametrize("argv, named", [
    (["--env", "point_maze_mirrored"], "changed: env: 'point_maze' -> 'point_maze_mirrored'; demos:"),
    (["--ppo.num-envs", "8"], "ppo.num_envs: 4 -> 8"),
    (["--seed", "5"], "seed: 1 -> 5"),
])
def test_resume_names_the_field_that_changed_before_compilation(tmp_path, capsys, no_compilation, argv, named):
    out, saved = _saved_run(tmp_path)
    code, err = run_main(train_cli, ["--config", write(tmp_path), "--out", str(out), "--resume", *argv], capsys)
    assert code == 2 and named in err and "start a new run in another --out" in err, err
    assert "demonstrations" not in err.split("changed:")[0]
    assert (out / "config.json").read_text() == saved


def test_resume_with_total_steps_below_the_checkpoint_is_refused(tmp_path, capsys, no_compilation):
    out, saved = _saved_run(tmp_path, checkpoint_step=4)
    code, err = run_main(train_cli, ["--config", write(tmp_path), "--out", str(out), "--resume", "--steps", "64"],
                         capsys)
    assert code == 2 and "is 2 iterations, but the run in" in err and "already at iteration 4 (128 steps)" in err, err
    assert "--total-steps >= 128" in err
    assert (out / "config.json").read_text() == saved  # not rewritten


def test_resume_after_config_json_is_lost_uses_the_checkpoints_record(tmp_path, capsys, no_compilation):
    out, saved = _saved_run(tmp_path, checkpoint_step=2)
    (out / "config.json").unlink()
    code, err = run_main(train_cli, ["--config", write(tmp_path), "--out", str(out)], capsys)
    assert code == 2 and "config.json is missing; --resume rebuilds it" in err, err
    config = train_cli.load_config(write(tmp_path))
    with pytest.warns(UserWarning, match="using the configuration recorded in checkpoint step_00000002.npz"):
        train_cli.check_resume(config, out)  # passes: the record is the run's configuration
    with pytest.raises(AssertionError, match="compiled before validating"), pytest.warns(UserWarning):
        train_cli.train(config, out, resume=True, progress=False)  # got as far as building the learner


# -- trirl evaluate: a run being written, another env, the result's record ------------------------

def test_evaluate_refuses_a_run_that_is_being_written(tmp_path, capsys, monkeypatch):
    """A live trirl train holds the run's lock: evaluate names it and refuses, unless --running."""
    out, _ = _saved_run(tmp_path, checkpoint_step=2)

    class Built(Exception):
        pass

    def build(*args):
        raise Built

    monkeypatch.setattr(evaluate_cli, "build", build)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import json, time; from trirl.rundir import RunDir; "
         f"run = RunDir({str(out)!r}, json.load(open({str(out / 'config.json')!r})), resume=True); "
         "print('ready', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, err = run_main(evaluate_cli, ["--run", str(out), "--steps", "32"], capsys)
        with pytest.raises(Built):  # --running reads the newest checkpoint as it is and goes on
            evaluate_cli.load_run(out, running=True)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert code == 2 and f"is being written by a live trirl train (pid {holder.pid}" in err and "--running" in err, err
    with pytest.raises(Built):  # the lock died with its process
        evaluate_cli.load_run(out)


def test_evaluate_refuses_an_env_of_other_sizes_before_compilation(tmp_path, capsys, monkeypatch):
    out, _ = _saved_run(tmp_path, checkpoint_step=2)
    monkeypatch.setattr(evaluate_cli, "build", lambda *a: pytest.fail("built before checking --env"))
    code, err = run_main(evaluate_cli, ["--run", str(out), "--env", "ant", "--steps", "32"], capsys)
    assert code == 2 and "--env ant: its observations have" in err and "learnt on point_maze (2 and 2)" in err, err
    assert "point_maze_mirrored" in err


def test_evaluate_help_reads_as_help():
    text = evaluate_cli.build_parser().format_help()
    assert "EvaluateOptions fields" not in text
    flags = text.split("\n  --")[1:]
    for entry in flags:
        assert entry.count("default") <= 1, entry


def test_evaluate_prints_its_result_when_the_file_cannot_be_written(tmp_path, capsys, monkeypatch):
    """Retraining takes hours on a real task: a full disk at the end must not lose its result."""
    import errno
    import os

    from trirl.files import write_failure

    result = {"algo": "trirl", "source_env": "point_maze", "env": "point_maze", "seeds": 3,
              "returns": [-8.0, -6.0, -7.0], "control_returns": [-5.0, -5.5, -6.0]}
    record = {"checkpoint_iteration": 4, "run_iterations": 4, "run_state": "finished"}
    run = evaluate_cli.LoadedRun(None, None, None, None, None, "returns.json", record)
    monkeypatch.setattr(evaluate_cli, "load_run", lambda *args: run)
    monkeypatch.setattr(evaluate_cli, "diagnose", lambda *args, **kwargs: {})
    monkeypatch.setattr(evaluate_cli, "retrain", lambda *args, **kwargs: dict(result))

    def full_disk(path, obj):
        raise write_failure(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), f"{path} was not changed",
                            "run the command again")

    monkeypatch.setattr(evaluate_cli, "write_json", full_disk)
    code = evaluate_cli.main(["--run", str(tmp_path), "--out", str(tmp_path / "r.json")])
    captured = capsys.readouterr()
    assert code == 2 and "No space left on device" in captured.err and "the result is printed above" in captured.err
    first, rest = captured.out.split("\n", 1)
    assert first.startswith("return -7.000 (95% CI ") and "control -5.500 (95% CI" in first
    assert "checkpoint iteration 4 (finished)" in first
    printed = json.loads(rest)
    assert printed["returns"] == result["returns"] and printed["checkpoint_iteration"] == 4 and printed["commit"]
