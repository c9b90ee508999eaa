import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from trirl import InvalidConfigError
from trirl.rundir import RunDir, RunDirLockedError, read_metrics


def test_new_run_writes_config_metrics_and_checkpoints(tmp_path):
    run = RunDir(tmp_path / "run", {"seed": 3, "eps": 0.5})
    run.log({"iteration": 0, "dual": np.float64(1.5)})
    run.log({"iteration": 1, "dual": 1.25})
    run.save_checkpoint(1, {"reward": np.arange(3.0)}, {"iteration": 1})
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == {"seed": 3, "eps": 0.5}
    assert [row["dual"] for row in read_metrics(tmp_path / "run")] == [1.5, 1.25]
    ckpt = run.latest_checkpoint()
    assert ckpt.step == 1 and ckpt.meta == {"iteration": 1}
    np.testing.assert_array_equal(ckpt.arrays["reward"], np.arange(3.0))


def test_refuses_to_overwrite_and_checks_config_on_resume(tmp_path):
    RunDir(tmp_path, {"seed": 1})
    with pytest.raises(InvalidConfigError, match="already holds a run"):
        RunDir(tmp_path, {"seed": 1})
    with pytest.raises(InvalidConfigError, match="seed"):
        RunDir(tmp_path, {"seed": 2}, resume=True)
    RunDir(tmp_path, {"seed": 1}, resume=True)


def test_resume_trims_metrics_after_the_checkpoint(tmp_path):
    run = RunDir(tmp_path, {"a": 1})
    for i in range(5):
        run.log({"iteration": i})
        if i == 2:
            run.save_checkpoint(i, {"x": np.zeros(1)})
    RunDir(tmp_path, {"a": 1}, resume=True)
    assert [row["iteration"] for row in read_metrics(tmp_path)] == [0, 1, 2]


def test_keeps_only_the_newest_checkpoints(tmp_path):
    run = RunDir(tmp_path, {}, keep=2)
    for step in range(4):
        run.save_checkpoint(step, {"x": np.full(1, step)})
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.npz")) == ["step_00000002.npz", "step_00000003.npz"]


def test_non_finite_metrics_are_refused(tmp_path):
    run = RunDir(tmp_path, {})
    with pytest.raises(ValueError, match="non-finite"):
        run.log({"dual": float("nan")})


# -- one writer at a time: real processes ----------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _grid(*argv) -> list[str]:
    return [sys.executable, "-m", "trirl.cli", "grid", "--world", "open_room", "--quiet", *argv]


def _wait_for_rows(out: Path, rows: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(read_metrics(out)) < rows if (out / "metrics.jsonl").exists() else True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first run wrote no metrics"
        time.sleep(0.2)


def test_a_second_process_on_a_live_run_directory_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(_grid("--iterations", "1000000", "--out", str(out)), env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_rows(out, 30, first)
        second = subprocess.run(_grid("--iterations", "5", "--out", str(out), "--resume"), env=ENV,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        message = second.stderr
        assert "in use by another run" in message and f"pid {first.pid} on host {socket.gethostname()}" in message
        assert "started 20" in message and "trirl.cli grid --world open_room" in message and "1000000" in message
        assert "--resume" in message  # what to do next
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    iterations = [row["iteration"] for row in read_metrics(out)]
    assert iterations == list(range(len(iterations)))  # no duplicated or lost rows


def test_the_lock_is_released_when_the_holder_is_killed(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from trirl.rundir import RunDir; "
         f"run = RunDir({str(tmp_path)!r}, {{'seed': 1}}); print('ready', flush=True); time.sleep(120)"],
        env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(RunDirLockedError, match=f"pid {holder.pid}"):
            RunDir(tmp_path, {"seed": 1}, resume=True)
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs, the operating system drops the lock
        holder.wait(timeout=30)
    with RunDir(tmp_path, {"seed": 1}, resume=True) as run:
        run.log({"iteration": 0})
    assert not (tmp_path / ".lock.json").exists()  # a clean exit leaves no holder behind


def test_run_dirs_of_one_process_share_its_lock(tmp_path):
    first = RunDir(tmp_path, {"seed": 1})
    second = RunDir(tmp_path, {"seed": 1}, resume=True)  # e.g. a notebook cell run twice
    first.close()
    second.log({"iteration": 0})
    second.close()


def test_interrupted_message_says_what_is_kept_and_what_resume_drops(tmp_path):
    from trirl.rundir import interrupted_message

    assert "nothing to resume" in interrupted_message(tmp_path / "none", "x --resume")
    run = RunDir(tmp_path, {})
    for i in range(3):
        run.log({"iteration": i})
    run.save_checkpoint(2, {"x": np.zeros(1)})
    assert "iteration 2 is kept" in interrupted_message(tmp_path, "x") and "metrics.jsonl ends there" in interrupted_message(tmp_path, "x")
    run.log({"iteration": 3})  # a row after the checkpoint (a second Ctrl-C mid-iteration)
    message = interrupted_message(tmp_path, "trirl grid --out d --resume")
    assert "drops the metrics rows after it" in message and message.endswith("resume with: trirl grid --out d --resume")


def test_written_json_files_get_the_umask_mode_not_mkstemps_private_one(tmp_path):
    from trirl.rundir import write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "result.json", {"a": 1})
        (tmp_path / "plain.txt").write_text("x")  # what open() gives under the same umask
    finally:
        os.umask(old)
    assert (tmp_path / "result.json").stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777 == 0o644
    assert json.loads((tmp_path / "result.json").read_text()) == {"a": 1}
