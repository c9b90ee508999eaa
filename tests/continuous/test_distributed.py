"""Seeds over two processes with ``jax.distributed`` (:mod:`trirl.continuous.distributed`): two CPU
processes on localhost (gloo collectives, one device each: XLA crashes when CPU collectives meet
forced host devices, so this file never forces any) give a one-process run's numbers, resume its
checkpoint (gathered by :func:`trirl.devices.to_host`), and only process 0 writes the run directory."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trirl.continuous import distributed
from trirl.errors import InvalidConfigError

CONFIG = Path(__file__).parent / "data" / "table1_tiny_train.toml"
# seed j alone on its process (a batch of one) against both seeds vmapped on one device (a batch of
# two): XLA's float32 rounding for another batch size, as in test_seed_mesh.py. Measured on the
# 2-core CPU: metrics of iterations 3 and 4 at most 1.2e-7 apart (8e-5 relative on a policy loss
# of -4e-4), the final checkpoint's arrays at most 3e-8 apart.
RTOL, ATOL = 1e-4, 1e-6


def _environment() -> dict:
    drop = ("XLA_FLAGS", *distributed.ENVIRONMENT.values(), *distributed.LAUNCHERS.values())
    return {k: v for k, v in os.environ.items() if k not in drop}


def _command(out: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "trirl", "train", "--config", str(CONFIG), "--seeds", "2", "--out", str(out),
            "--no-progress", *flags]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def _rows(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if "time" not in k and isinstance(v, (int, float, list))} for row in rows]


def _files(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _cut(run: Path, iteration: int) -> None:
    """The run as if it had stopped after ``iteration`` (its checkpoint kept, later rows dropped)."""
    for checkpoint in (run / "checkpoints").glob("step_*.npz"):
        if int(checkpoint.stem.split("_")[1]) > iteration:
            checkpoint.unlink()
    rows = [line for line in (run / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["iteration"] <= iteration]
    (run / "metrics.jsonl").write_text("".join(line + "\n" for line in rows))
    for name in ("summary.json", "learning_curves.png", ".lock", ".lock.json"):
        (run / name).unlink(missing_ok=True)


@pytest.mark.slow  # a tiny training, then two processes resuming it
@pytest.mark.continuous
def test_two_processes_resume_a_one_process_run_and_match_it_with_one_writer(tmp_path):
    pytest.importorskip("jax")
    reference = tmp_path / "one"
    done = subprocess.run(_command(reference), env=_environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 seeds on 1 device)" in done.stdout

    # both processes resume the one-process run after its iteration 2; process 1 reads its own copy
    # of the run directory (a second host's view of a shared filesystem), which must stay untouched
    runs = [tmp_path / "process0", tmp_path / "process1"]
    for run in runs:
        shutil.copytree(reference, run)
        _cut(run, 2)
    before = _files(runs[1])
    address = f"localhost:{_free_port()}"
    # the one-process run above shares the session's compilation cache with the other tests of this
    # tiny config (test_seed_mesh.py, test_study.py); the two processes compile their own programs
    processes = [subprocess.Popen(_command(run, "--resume", "--coordinator-address", address, "--num-processes", "2",
                                           "--process-id", str(index), "--no-compile-cache"),
                                  env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for index, run in enumerate(runs)]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        assert "2 seeds on 2 devices)" in stdout  # one seed on each process's device

    assert _files(runs[1]) == before  # the follower wrote nothing
    assert (runs[0] / "summary.json").exists() and (runs[0] / "learning_curves.png").exists()
    expected, got = _rows(reference), _rows(runs[0])
    assert [row["iteration"] for row in got] == [row["iteration"] for row in expected] == [1, 2, 3, 4]
    assert got[:2] == expected[:2]  # the rows before the resume, kept as they were
    for want, have in zip(expected[2:], got[2:]):
        assert set(want) == set(have)
        for key in want:
            np.testing.assert_allclose(np.asarray(have[key], float), np.asarray(want[key], float), rtol=RTOL,
                                       atol=ATOL, err_msg=f"iteration {want['iteration']}: {key}")
    # the final checkpoint holds both seeds, gathered from the two processes, as the one-process one
    newest = [sorted((run / "checkpoints").glob("step_*.npz"))[-1] for run in (reference, runs[0])]
    assert [path.name for path in newest] == ["step_00000004.npz"] * 2
    with np.load(newest[0]) as want, np.load(newest[1]) as have:
        assert want.files == have.files
        for name in want.files:
            assert want[name].shape == have[name].shape, name
            if want[name].dtype.kind == "f":
                np.testing.assert_allclose(have[name], want[name], rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.continuous
def test_the_gather_and_the_process_mesh_are_the_ground_floor_s(monkeypatch):
    """:func:`trirl.devices.to_host` (the checkpoint's gather in the test above) and the mesh over
    processes are generic JAX that the driver calls; this module only starts the processes."""
    jax = pytest.importorskip("jax")
    from trirl import devices, driver

    assert driver.to_host is devices.to_host and driver.seed_mesh is devices.seed_mesh
    assert not hasattr(distributed, "to_host") and not hasattr(distributed, "seed_mesh")  # one copy
    tree = {"w": jax.numpy.arange(3.0), "n": np.ones(2), "k": 3}
    assert devices.to_host(tree) is tree  # one process: every array is addressable here already
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    with pytest.raises(InvalidConfigError, match=r"--seeds 3: a run over 2 processes .*e\.g\. --seeds 4"):
        driver.seed_mesh(3)


def test_settings_come_from_the_flags_then_the_environment_and_name_what_is_wrong():
    assert distributed.settings(environ={}) is None  # one process: nothing to start
    assert distributed.settings(environ={"SLURM_STEP_NUM_TASKS": "1", "SLURM_JOB_ID": "7"}) is None  # an array task
    assert distributed.settings(environ={"SLURM_STEP_NUM_TASKS": "4"}) == (None, None, None, "Slurm")
    assert distributed.settings("node1:29500", 2, 1, environ={}) == ("node1:29500", 2, 1, "flags")
    environ = {"JAX_COORDINATOR_ADDRESS": "node1:29500", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "3"}
    assert distributed.settings(environ=environ) == ("node1:29500", 4, 3, "environment")
    assert distributed.settings(process_id=0, environ=environ) == ("node1:29500", 4, 0, "flags")  # a flag wins

    with pytest.raises(InvalidConfigError, match=r"--num-processes \(\$JAX_NUM_PROCESSES\), --process-id"):
        distributed.settings("node1:29500", environ={})
    with pytest.raises(InvalidConfigError, match=r"--coordinator-address .*expected HOST:PORT.*got 'node1'"):
        distributed.settings("node1", 2, 0, environ={})
    with pytest.raises(InvalidConfigError, match=r"--process-id .*expected 0 to 1 .*got 2"):
        distributed.settings("node1:29500", 2, 2, environ={})
    with pytest.raises(InvalidConfigError, match=r"--num-processes .*expected an integer >= 1, got 'two'"):
        distributed.settings(environ={**environ, "JAX_NUM_PROCESSES": "two"})
    with pytest.raises(InvalidConfigError, match="--max-minutes with several processes"):
        distributed.initialize("node1:29500", 2, 0, max_minutes=5.0)


def test_a_follower_reads_the_run_up_to_its_checkpoint_and_writes_nothing(tmp_path):
    from trirl.rundir import RunDir

    with RunDir(tmp_path / "run", {"seed": 0}) as run:
        for iteration in (1, 2, 3):
            run.log({"iteration": iteration, "loss": float(iteration)})
        run.save_checkpoint(2, {"state.w": np.arange(3.0)})
    before = _files(tmp_path)

    follower = distributed.Follower(tmp_path / "run", resume=True)
    assert follower.latest_checkpoint().step == 2
    np.testing.assert_array_equal(follower.latest_checkpoint().arrays["state.w"], np.arange(3.0))
    assert [row["iteration"] for row in follower.metrics()] == [1, 2]  # row 3 comes after the checkpoint
    follower.log({"iteration": 3, "loss": 0.0})
    follower.save_checkpoint(3, {"state.w": np.zeros(3)})
    follower.truncate_metrics(0)
    np.savez(follower.file("nonfinite_state.npz"), w=np.zeros(3))
    follower.close()
    assert _files(tmp_path) == before

    fresh = distributed.Follower(tmp_path / "new")  # a new run: process 0 creates it, a follower nothing
    assert fresh.latest_checkpoint() is None and fresh.metrics() == []
    fresh.log({"iteration": 1})
    assert not (tmp_path / "new").exists()


@pytest.mark.continuous
def test_importing_the_commands_computes_nothing_with_jax():
    """``jax.distributed.initialize`` must come before JAX's backend starts: no import may start it."""
    code = ("from jax._src import xla_bridge; import trirl.continuous.train, trirl.bench.table1, "
            "trirl.continuous.evaluate, trirl.continuous.expert; print(bool(xla_bridge._backends))")
    done = subprocess.run([sys.executable, "-c", code], env=_environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "False"
