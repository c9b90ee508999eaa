"""The run directory's writer, :class:`RunDir`: config, metrics stream and checkpoints, atomically,
one writer at a time (:mod:`trirl.rundir.lock`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trirl.errors import InvalidConfigError, RunDirWriteError, UnreadableFileError
from trirl.files import _atomic_write_bytes, to_jsonable, write_failure, write_json
from trirl.rundir.lock import LOCK_FILE, _Lock
from trirl.rundir.readers import (CONFIG_FILE, METRICS_FILE, CHECKPOINT_DIR, Checkpoint, _json_bytes, _metric_lines,
                                  _step_of, check_new, checkpoint_file, checkpoint_files, config_changes,
                                  newest_checkpoint, read_metrics, saved_config)


class RunDir:
    """A run directory: config, metrics stream, checkpoints and figures.

    ``RunDir(path, config)`` starts a new run and refuses a directory that already holds one;
    ``RunDir(path, config, resume=True)`` reopens it, checks that the configuration matches
    (``ignore`` lists keys allowed to differ, such as the total budget), and lets the caller
    continue from :meth:`latest_checkpoint`.

    The directory is locked from construction until :meth:`close` (or the end of a ``with``
    block, or of the process): another process gets :class:`RunDirLockedError` naming the holder.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        config: Mapping[str, Any],
        resume: bool = False,
        keep: int = 3,
        ignore: tuple[str, ...] = (),
    ):
        self.path = Path(path)
        self.keep = keep
        self.config = to_jsonable(dict(config))
        config_path = self.path / CONFIG_FILE
        if resume and not config_path.exists() and not checkpoint_files(self.path):
            raise InvalidConfigError(f"--resume: {self.path} holds no run ({CONFIG_FILE} and checkpoints missing)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise write_failure(self.path, err, "Nothing was written", "run the command again") from None
        # lock before reading anything: a second writer must not trim the metrics of a live run
        try:
            self._lock = _Lock.acquire(self.path)
        except OSError as err:  # a read-only folder: the lock file cannot be created
            raise write_failure(self.path / LOCK_FILE, err, "Nothing was written", "run the command again") from None
        try:
            self._open(config_path, resume, ignore)
        except BaseException:
            self.close()
            raise

    def _open(self, config_path: Path, resume: bool, ignore: tuple[str, ...]) -> None:
        if resume:
            self._remove_temporary_files()  # a killed writer's; the lock says none is alive
            saved = saved_config(self.path)
            changes = config_changes(saved, self.config, ignore)
            if changes:
                raise InvalidConfigError(
                    f"--resume: the configuration differs from the one saved in {config_path} ({', '.join(changes)}); "
                    "a resumed run keeps its configuration: start a new run in another folder to change it")
            checkpoint = self.latest_checkpoint()
            self.truncate_metrics(checkpoint.step if checkpoint else -1)
        else:
            check_new(self.path)
            with self._writing(self.path / METRICS_FILE):
                (self.path / METRICS_FILE).touch()
        with self._writing(config_path):
            write_json(config_path, self.config)

    def _remove_temporary_files(self) -> None:
        """Delete the ``.<name>.*.tmp`` files of atomic writes a killed process left behind."""
        for folder in (self.path, self.path / CHECKPOINT_DIR):
            for tmp in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _kept(self) -> str:
        """Which checkpoint a failed write leaves for --resume (from the file names: nothing is decoded)."""
        files = checkpoint_files(self.path)
        if not files:
            return "The run stopped before its first checkpoint"
        return f"The run stopped; its checkpoint {files[-1]} (iteration {_step_of(files[-1])}) is kept"

    @contextlib.contextmanager
    def _writing(self, path: Path):
        """Turn an ``OSError`` of a write into :class:`~trirl.errors.RunDirWriteError` (path, reason, checkpoint kept)."""
        try:
            yield
        except RunDirWriteError:
            raise
        except OSError as err:
            raise write_failure(path, err, self._kept()) from None

    def close(self) -> None:
        """Release the run directory's lock (idempotent)."""
        lock, self._lock = getattr(self, "_lock", None), None
        if lock is not None:
            lock.release()

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    # -- metrics ---------------------------------------------------------------------------------
    def log(self, metrics: Mapping[str, Any]) -> None:
        """Append one row to ``metrics.jsonl`` (flushed and synced, so a killed run keeps it)."""
        line = json.dumps(to_jsonable(metrics), sort_keys=True, allow_nan=False)
        path = self.path / METRICS_FILE
        with self._writing(path), open(path, "ab") as handle:
            size = handle.tell()
            try:
                handle.write((line + "\n").encode())
                handle.flush()
                os.fsync(handle.fileno())
            except OSError:  # no half row: cut the file back (truncating needs no space)
                with contextlib.suppress(OSError):
                    os.truncate(path, size)
                raise

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path / METRICS_FILE)

    def truncate_metrics(self, last_iteration: int) -> None:
        """Drop the rows of ``metrics.jsonl`` after ``last_iteration`` (atomically), whatever their
        state: a damaged line after the last row kept (a row cut in half by a full disk or a kill)
        is dropped too; one before it is corruption of the kept history and is refused.

        Raises:
            UnreadableFileError: a damaged line among the rows kept, naming the line.
        """
        path = self.path / METRICS_FILE
        rows, damaged = [], None
        for number, row in (_metric_lines(path) if path.exists() else ()):
            if isinstance(row, str):
                damaged = damaged or (number, row)
            elif row.get("iteration", -1) <= last_iteration:
                if damaged:
                    raise UnreadableFileError(
                        f"{path}, line {damaged[0]}: {damaged[1]}, before the row of iteration {row.get('iteration')} "
                        f"that the checkpoint keeps; expected one JSON object per line. Delete or repair that line, "
                        f"then --resume")
                rows.append(row)
        text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
        with self._writing(path):
            _atomic_write_bytes(path, text.encode())

    # -- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, step: int, arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Path:
        """Write ``checkpoints/step_<step>.npz`` atomically and prune all but the newest ``keep``."""
        target = self._write_checkpoint(checkpoint_file(self.path, step), arrays, meta)
        for old in checkpoint_files(self.path)[: -self.keep]:
            with contextlib.suppress(OSError):
                old.unlink()
        return target

    def save_best(self, step: int, arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Path:
        """Write ``checkpoints/best_step_<step>.npz`` atomically (the best-evaluated state so far, which
        pruning never removes) and delete the previous best."""
        target = self._write_checkpoint(self.path / CHECKPOINT_DIR / f"best_step_{step:08d}.npz", arrays, meta)
        for old in (self.path / CHECKPOINT_DIR).glob("best_step_*.npz"):
            if old != target:
                with contextlib.suppress(OSError):
                    old.unlink()
        return target

    def _write_checkpoint(self, target: Path, arrays: Mapping[str, Any], meta: Mapping[str, Any] | None) -> Path:
        payload = {name: np.asarray(value) for name, value in arrays.items()}
        payload["__meta__"] = _json_bytes(dict(meta or {}))
        payload["__config__"] = _json_bytes(self.config)  # so that a lost config.json can be rebuilt (saved_config)
        buffer = io.BytesIO()
        np.savez(buffer, **payload)
        with self._writing(target):
            target.parent.mkdir(exist_ok=True)
            _atomic_write_bytes(target, buffer.getvalue())
        self._remove_temporary_files()
        return target

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest readable checkpoint (:func:`newest_checkpoint`), or ``None`` when the run has none yet."""
        return newest_checkpoint(self.path)

    def file(self, name: str) -> Path:
        """Path of a file (plot, table, summary) inside the run directory."""
        return self.path / name
