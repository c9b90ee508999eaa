import errno
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
    second = RunDir(tmp_path, {"seed": 1}, resume=True)  # e.g. a notebook cell run twice: not refused
    assert json.loads((tmp_path / ".lock.json").read_text())["pid"] == os.getpid()
    first.close()
    # the lock is counted: closing one RunDir keeps it, and its holder record, for the other
    assert (tmp_path / ".lock.json").exists()
    second.log({"iteration": 0})
    second.close()
    assert [row["iteration"] for row in read_metrics(tmp_path)] == [0]
    assert not (tmp_path / ".lock.json").exists()  # the last one out releases it


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


# -- the one reader: any decoding failure names the file and what it should hold ----------------

from trirl import driver  # noqa: E402
from trirl.errors import DamagedCheckpointWarning, RunDirWriteError, UnreadableFileError  # noqa: E402
from trirl.rundir import (config_changes, lock_holder, newest_checkpoint, read_json, read_npz,  # noqa: E402
                          saved_config)


def _npz_bytes(**arrays) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("content, reason", [
    (b"", "is empty"),
    (b"{\"seed\": 1", "line 1, column 11"),
    (b"\xff\xfe garbage", "not UTF-8"),
    (b"[1, 2]", "holds a JSON list, not a JSON object"),
    (b"null", "holds a JSON NoneType"),
])
def test_read_json_names_the_file_the_fault_and_the_expected_content(tmp_path, content, reason):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match=reason) as info:
        read_json(path, "the run's configuration")
    assert str(path) in str(info.value) and "expected the run's configuration" in str(info.value)
    with pytest.raises(UnreadableFileError, match="does not exist"):
        read_json(tmp_path / "missing.json", "x")


@pytest.mark.parametrize("content, reason", [
    (b"", "it is empty"),
    (_npz_bytes(a=np.arange(1000.0))[:300], "damaged or truncated zip archive"),
    (b"this is not an archive at all", "it is not a zip archive"),
    (b"\x93NUMPY" + b"\x01\x00" + b"v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }" + b" " * 54
     + b"\n" + np.arange(3.0).tobytes(), "single .npy array"),
    (_npz_bytes(a=np.array([{"x": 1}], dtype=object)), "pickled Python objects"),
])
def test_read_npz_names_the_file_the_fault_and_the_expected_content(tmp_path, content, reason):
    path = tmp_path / "data.npz"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match=reason) as info:
        read_npz(path, "a test archive")
    assert str(path) in str(info.value) and "expected a test archive" in str(info.value)


def test_read_npz_checks_the_schema_it_is_given(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(_npz_bytes(schema_version=np.array([1, 1]), names=np.array([1.0])))
    with pytest.raises(UnreadableFileError, match=r"'schema_version' has shape \(2,\), not a single number"):
        read_npz(path, "x", schema={"schema_version": ((), "iu")})
    with pytest.raises(UnreadableFileError, match="'names' has dtype float64, not an unsigned integer array"):
        read_npz(path, "x", schema={"names": ((None,), "u")})


def _run_with_checkpoints(path, steps=(1, 2, 3), config=None):
    run = RunDir(path, config or {"seed": 1})
    for step in steps:
        run.log({"iteration": step})
        run.save_checkpoint(step, {"x": np.full(50, float(step))}, {"iteration": step})
    run.close()
    return path / "checkpoints"


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one_naming_both(tmp_path):
    folder = _run_with_checkpoints(tmp_path)
    newest = folder / "step_00000003.npz"
    newest.write_bytes(newest.read_bytes()[:100])  # a disk that filled during the write
    with pytest.warns(DamagedCheckpointWarning, match="step_00000003.npz cannot be read .*using step_00000002.npz"):
        checkpoint = newest_checkpoint(tmp_path)
    assert checkpoint.step == 2 and checkpoint.arrays["x"][0] == 2.0
    with pytest.warns(DamagedCheckpointWarning):  # --resume continues from it, metrics trimmed back to it
        run = RunDir(tmp_path, {"seed": 1}, resume=True)
    assert [row["iteration"] for row in run.metrics()] == [1, 2]
    run.close()
    for path in folder.glob("step_*.npz"):
        path.write_bytes(b"")
    with pytest.raises(UnreadableFileError, match="no checkpoint can be read"):
        newest_checkpoint(tmp_path)


@pytest.mark.parametrize("tail", [b'{"iteration": 4, "va', b"\x00\x00\x00", b"[4]\n", b'{"iteration": 4}\ngarbage\n'])
def test_resume_drops_every_row_after_the_checkpoint_whatever_its_state(tmp_path, tail):
    """A row cut in half by a full disk (or a kill, or garbage) after the checkpoint does not block
    --resume: it is dropped with the other rows after the checkpoint."""
    _run_with_checkpoints(tmp_path)
    with open(tmp_path / "metrics.jsonl", "ab") as handle:
        handle.write(tail)
    with RunDir(tmp_path, {"seed": 1}, resume=True) as run:
        assert [row["iteration"] for row in run.metrics()] == [1, 2, 3]


def test_a_damaged_row_among_the_kept_rows_is_refused_naming_the_line(tmp_path):
    _run_with_checkpoints(tmp_path)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    (tmp_path / "metrics.jsonl").write_text("\n".join([lines[0], "{broken", *lines[1:]]) + "\n")
    with pytest.raises(UnreadableFileError, match=r"metrics.jsonl, line 2: not valid JSON .* before the row of iteration 2"):
        RunDir(tmp_path, {"seed": 1}, resume=True)
    with pytest.raises(UnreadableFileError, match="line 2: not valid JSON"):
        read_metrics(tmp_path)


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "No space left on device"),
                                          (errno.EROFS, "Read-only file system")])
def test_write_failures_name_the_path_the_reason_and_the_checkpoint_kept(tmp_path, monkeypatch, code, reason):
    import trirl.rundir.writer as rundir  # where the patched name is looked up

    _run_with_checkpoints(tmp_path, steps=(1, 2))
    run = RunDir(tmp_path, {"seed": 1}, resume=True)

    def full_disk(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(rundir, "_atomic_write_bytes", full_disk)
    with pytest.raises(RunDirWriteError, match=rf"cannot write {tmp_path}/checkpoints/step_00000003.npz: {reason}") as info:
        run.save_checkpoint(3, {"x": np.zeros(50)})
    message = str(info.value)
    assert "step_00000002.npz (iteration 2) is kept" in message and "--resume" in message
    assert info.value.errno == code

    class HalfThenFull:  # a file whose write stores half the row, then finds the disk full
        def __init__(self, *args):
            self.file = open(*args)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def tell(self):
            return self.file.tell()

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            raise OSError(code, os.strerror(code))

    monkeypatch.setattr(rundir, "open", HalfThenFull, raising=False)
    with pytest.raises(RunDirWriteError, match=rf"{tmp_path}/metrics.jsonl: {reason}"):
        run.log({"iteration": 3, "value": 1.0})
    monkeypatch.undo()
    assert [row["iteration"] for row in read_metrics(tmp_path)] == [1, 2]  # no half row left behind
    run.close()


def test_a_run_stopped_by_a_full_disk_resumes_once_space_is_freed(tmp_path, monkeypatch):
    """The driver's own save after the failure fails too: metrics.jsonl still ends at the checkpoint
    kept (or --resume drops what is after it), and the resumed run reproduces the uninterrupted one."""
    import trirl.rundir.writer as rundir  # where the patched name is looked up

    from test_driver import toy_learner

    reference = driver.run(toy_learner(), 6, run_dir=RunDir(tmp_path / "ref", {"a": 1}), checkpoint_every=2).history
    real = rundir._atomic_write_bytes
    monkeypatch.setattr(rundir, "_atomic_write_bytes",
                        lambda path, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
                        if "step_00000004" in str(path) or "metrics" in str(path) else real(path, data))
    out = tmp_path / "run"
    with pytest.raises(RunDirWriteError, match="step_00000002.npz \\(iteration 2\\) is kept"):
        driver.run(toy_learner(), 6, run_dir=RunDir(out, {"a": 1}), checkpoint_every=2)
    monkeypatch.undo()  # space freed
    with RunDir(out, {"a": 1}, resume=True) as run:
        outcome = driver.run(toy_learner(), 6, run_dir=run, checkpoint_every=2)
    assert outcome.history == reference and read_metrics(out) == reference


def test_orphaned_temporary_files_of_a_killed_write_are_removed(tmp_path):
    folder = _run_with_checkpoints(tmp_path)
    orphans = [folder / ".step_00000004.npz.abc123.tmp", tmp_path / ".metrics.jsonl.xyz.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"\x00" * 1000)
    RunDir(tmp_path, {"seed": 1}, resume=True).close()
    assert not any(orphan.exists() for orphan in orphans)
    assert len(list(folder.glob("step_*.npz"))) == 3


def test_resume_rebuilds_a_lost_config_json_from_the_checkpoint(tmp_path):
    _run_with_checkpoints(tmp_path, config={"seed": 1, "ppo": {"lr": 0.1}})
    (tmp_path / "config.json").unlink()
    with pytest.raises(InvalidConfigError, match="config.json is missing; --resume rebuilds it"):
        RunDir(tmp_path, {"seed": 1, "ppo": {"lr": 0.1}})
    with pytest.raises(InvalidConfigError, match=r"ppo.lr: 0.1 -> 0.2"):
        with pytest.warns(UserWarning, match="config.json is missing; using the configuration recorded"):
            RunDir(tmp_path, {"seed": 1, "ppo": {"lr": 0.2}}, resume=True)
    with pytest.warns(UserWarning, match="recorded in checkpoint step_00000003.npz"):
        RunDir(tmp_path, {"seed": 1, "ppo": {"lr": 0.1}}, resume=True).close()
    assert json.loads((tmp_path / "config.json").read_text()) == {"seed": 1, "ppo": {"lr": 0.1}}
    (tmp_path / "config.json").write_text("{not json")  # damaged: the record stands in as well
    with pytest.warns(UserWarning, match="config.json is damaged"):
        assert saved_config(tmp_path) == {"seed": 1, "ppo": {"lr": 0.1}}


def test_a_lost_config_json_without_a_record_says_how_to_go_on(tmp_path):
    folder = _run_with_checkpoints(tmp_path)
    (tmp_path / "config.json").unlink()
    for path in folder.glob("step_*.npz"):  # as an older trirl wrote them: no configuration inside
        arrays = dict(np.load(path))
        arrays.pop("__config__")
        path.write_bytes(_npz_bytes(**arrays))
    with pytest.raises(InvalidConfigError, match="do not record the configuration: restore config.json from a copy"):
        RunDir(tmp_path, {"seed": 1}, resume=True)


def test_config_changes_name_dotted_fields():
    saved = {"env": "point_maze", "total_steps": 10, "ppo": {"num_envs": 64, "gamma": 0.99}}
    new = {"env": "point_maze_mirrored", "total_steps": 20, "ppo": {"num_envs": 8, "gamma": 0.99}}
    assert config_changes(saved, new, ignore=("total_steps",)) == [
        "env: 'point_maze' -> 'point_maze_mirrored'", "ppo.num_envs: 64 -> 8"]


def test_lock_holder_names_a_live_writer_and_none_after_it_ends(tmp_path):
    assert lock_holder(tmp_path) is None
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from trirl.rundir import RunDir; "
         f"run = RunDir({str(tmp_path)!r}, {{'seed': 1}}); print('ready', flush=True); time.sleep(120)"],
        env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert f"pid {holder.pid}" in lock_holder(tmp_path)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert lock_holder(tmp_path) is None


def test_the_progress_bar_times_its_rate_from_the_first_compiled_iteration(monkeypatch):
    """The first iteration compiles (minutes on a GPU run): an ETA measured over it reads like
    hours. After it the bar shows no ETA (``?``) until a compiled iteration has been timed."""
    from test_driver import toy_learner

    shown = []

    class Recording(driver.tqdm):
        def update(self, n=1):
            shown.append(str(self))  # the bar as it reads before this update
            return super().update(n)

    learner = toy_learner()

    def step(state, key=None):
        time.sleep(1.0 if state.iteration == 0 else 0.01)  # the first iteration "compiles"
        return learner.step(state, key)

    monkeypatch.setattr(driver, "tqdm", Recording)
    driver.run(learner._replace(step=step), 5, progress=driver.Progress(True))
    assert "<?" in shown[1], shown  # after the compiling iteration: no ETA yet (was 00:04)
    assert "<00:00" in shown[2], shown  # then the rate of compiled iterations


# -- properties: whatever the bytes, the readers either read or name the file ----------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALID_NPZ = _npz_bytes(schema_version=np.int64(1), x=np.arange(64.0), flags=np.ones(8, bool))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300),
                 st.integers(0, len(_VALID_NPZ) - 1).map(lambda n: _VALID_NPZ[:n]),  # truncated
                 st.tuples(st.integers(0, len(_VALID_NPZ) - 1), st.binary(min_size=1, max_size=4)).map(
                     lambda c: _VALID_NPZ[:c[0]] + c[1] + _VALID_NPZ[c[0] + len(c[1]):])))  # corrupted
def test_any_bytes_either_read_as_npz_or_raise_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "any.npz"
    path.write_bytes(content)
    try:
        arrays = read_npz(path, "an archive", schema={"schema_version": ((), "iu")})
    except UnreadableFileError as err:
        assert str(path) in str(err) and "expected an archive" in str(err)
    else:
        assert all(isinstance(a, np.ndarray) for a in arrays.values())


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=80), st.text(max_size=80).map(str.encode),
                 st.integers(0, 30).map(lambda n: b'{"seed": 1, "ppo": {"lr": 0.1}}'[:n])))
def test_any_bytes_either_read_as_json_or_raise_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "any.json"
    path.write_bytes(content)
    try:
        value = read_json(path, "a configuration")
    except UnreadableFileError as err:
        assert str(path) in str(err) and "expected a configuration" in str(err)
    else:
        assert isinstance(value, dict)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=60), st.integers(1, 3))
def test_resume_keeps_exactly_the_rows_up_to_the_checkpoint_whatever_follows(tmp_path_factory, tail, kept):
    """Rows after the checkpoint, and any bytes after the last row kept (a cut row, garbage, a
    row of a later iteration), are dropped; the rows up to the checkpoint stay as they were."""
    path = tmp_path_factory.mktemp("run")
    with RunDir(path, {"seed": 1}) as run:
        for step in (1, 2, 3):
            run.log({"iteration": step, "value": step / 2})
            if step == kept:
                run.save_checkpoint(step, {"x": np.zeros(1)})
    with open(path / "metrics.jsonl", "ab") as handle:
        handle.write(tail)
    with RunDir(path, {"seed": 1}, resume=True) as run:
        assert run.metrics() == [{"iteration": step, "value": step / 2} for step in range(1, kept + 1)]


@given(st.dictionaries(st.sampled_from("abc"), st.one_of(st.integers(0, 2), st.dictionaries(
    st.sampled_from("xy"), st.integers(0, 2), min_size=1)), min_size=1), st.data())
def test_config_changes_name_exactly_the_dotted_fields_that_differ(saved, data):
    new = data.draw(st.dictionaries(st.sampled_from("abc"), st.one_of(st.integers(0, 2), st.dictionaries(
        st.sampled_from("xy"), st.integers(0, 2), min_size=1)), min_size=1))
    flat_old, flat_new = rundir_dotted(saved), rundir_dotted(new)
    differ = {k for k in set(flat_old) | set(flat_new) if flat_old.get(k) != flat_new.get(k)}
    assert {change.split(":")[0] for change in config_changes(saved, new)} == differ


def rundir_dotted(config, prefix=""):
    out = {}
    for key, value in config.items():
        out.update(rundir_dotted(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def test_a_read_only_folder_is_named_before_anything_is_written(tmp_path, monkeypatch):
    import builtins

    import trirl.rundir.lock as rundir  # where the patched name is looked up

    def read_only(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(rundir, "open", read_only, raising=False)
    with pytest.raises(RunDirWriteError, match=rf"cannot write {tmp_path}/.lock: Read-only file system .* Nothing was "
                                               "written; make the folder writable"):
        RunDir(tmp_path, {"seed": 1})
    assert not (tmp_path / "config.json").exists()


def test_the_other_readers_use_the_one_reader(tmp_path):
    """Grid-world trajectories (.npz) and a study's or report's results (JSON) name the file too."""
    from trirl.errors import InvalidDemonstrationError
    from trirl.tabular import demo_files

    damaged = tmp_path / "trajectories.npz"
    damaged.write_bytes(_npz_bytes(states=np.zeros((2, 3), int))[:60])
    with pytest.raises(InvalidDemonstrationError, match="damaged or truncated zip archive .* expected trajectories"):
        demo_files._read_npz(damaged)
    from trirl.bench import report  # imports no JAX

    (tmp_path / "config.json").write_text("{")
    (tmp_path / "metrics.jsonl").write_text('{"iteration": 1, "env_steps": 8}\n')
    with pytest.raises(UnreadableFileError, match=r"config.json is not valid JSON .* expected the run's configuration"):
        report.collect_run(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "retrain.json").write_bytes(b"\x00")
    with pytest.raises(UnreadableFileError, match="retrain.json is not valid JSON .* expected a result of trirl evaluate"):
        report.collect_run(tmp_path)


def test_a_folder_with_only_metrics_says_how_to_start_afresh(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"iteration": 1}\n')
    with pytest.raises(InvalidConfigError, match="stopped before its first checkpoint; delete that file"):
        RunDir(tmp_path, {"seed": 1})
    with pytest.raises(InvalidConfigError, match="holds no run"):
        RunDir(tmp_path, {"seed": 1}, resume=True)
