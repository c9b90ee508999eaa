"""The run directory, shared by the tabular and continuous drivers.

A run directory holds everything needed to inspect and rerun a run::

    config.json        the full configuration, seed included (``trirl`` rereads it on --resume)
    metrics.jsonl      one JSON object per iteration, shared metric names (DESIGN.md)
    checkpoints/       step_XXXXXXXX.npz, written atomically, the newest ``keep`` kept
    *.png              plots

Writes are atomic (a temporary file renamed into place), so a run killed at any moment leaves
a readable directory, and ``resume`` continues from the newest checkpoint with the metrics
trimmed back to it, so a resumed run reproduces the uninterrupted metrics.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from trirl.errors import InvalidConfigError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"


class Checkpoint(NamedTuple):
    step: int
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


def to_jsonable(value: Any) -> Any:
    """numpy scalars and arrays, tuples and paths to plain JSON values; NaN and inf are refused."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to write the non-finite value {value!r}")
    return value


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False)
    _atomic_write_bytes(Path(path), (text + "\n").encode())


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Read a ``metrics.jsonl`` file (or the one inside a run directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise InvalidConfigError(f"{path}, line {number}: not valid JSON ({err.msg})") from None
    return rows


class RunDir:
    """A run directory: config, metrics stream, checkpoints and figures.

    ``RunDir(path, config)`` starts a new run and refuses a directory that already holds one;
    ``RunDir(path, config, resume=True)`` reopens it, checks that the configuration matches
    (``ignore`` lists keys allowed to differ, such as the total budget), and lets the caller
    continue from :meth:`latest_checkpoint`.
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
        if resume:
            if not config_path.exists():
                raise InvalidConfigError(f"--resume: {self.path} holds no run ({CONFIG_FILE} missing)")
            saved = json.loads(config_path.read_text())
            differ = sorted(
                key
                for key in set(saved) | set(self.config)
                if key not in ignore and saved.get(key) != self.config.get(key)
            )
            if differ:
                details = ", ".join(f"{k}: {saved.get(k)!r} -> {self.config.get(k)!r}" for k in differ)
                raise InvalidConfigError(
                    f"--resume: the configuration differs from the one saved in {config_path} ({details})"
                )
            checkpoint = self.latest_checkpoint()
            self._truncate_metrics(checkpoint.step if checkpoint else -1)
        else:
            if config_path.exists() or (self.path / METRICS_FILE).exists():
                raise InvalidConfigError(
                    f"{self.path} already holds a run; pass --resume to continue it or choose another output folder"
                )
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / METRICS_FILE).touch()
        write_json(config_path, self.config)

    # -- metrics ---------------------------------------------------------------------------------
    def log(self, metrics: Mapping[str, Any]) -> None:
        """Append one row to ``metrics.jsonl`` (flushed and synced, so a killed run keeps it)."""
        line = json.dumps(to_jsonable(metrics), sort_keys=True, allow_nan=False)
        with open(self.path / METRICS_FILE, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path / METRICS_FILE)

    def _truncate_metrics(self, last_iteration: int) -> None:
        rows = [row for row in self.metrics() if row.get("iteration", -1) <= last_iteration]
        text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
        _atomic_write_bytes(self.path / METRICS_FILE, text.encode())

    # -- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, step: int, arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Path:
        """Write ``checkpoints/step_<step>.npz`` atomically and prune all but the newest ``keep``."""
        directory = self.path / CHECKPOINT_DIR
        directory.mkdir(exist_ok=True)
        target = directory / f"step_{step:08d}.npz"
        payload = {name: np.asarray(value) for name, value in arrays.items()}
        payload["__meta__"] = np.frombuffer(
            json.dumps(to_jsonable(dict(meta or {})), allow_nan=False).encode(), dtype=np.uint8
        )
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ckpt.", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        for old in sorted(directory.glob("step_*.npz"))[: -self.keep]:
            old.unlink()
        return target

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, or ``None`` when the run has none yet."""
        files = sorted((self.path / CHECKPOINT_DIR).glob("step_*.npz"))
        if not files:
            return None
        with np.load(files[-1]) as data:
            arrays = {name: data[name] for name in data.files if name != "__meta__"}
            meta = json.loads(data["__meta__"].tobytes().decode()) if "__meta__" in data.files else {}
        return Checkpoint(int(files[-1].stem.split("_")[1]), arrays, meta)

    def file(self, name: str) -> Path:
        """Path of a file (plot, table, summary) inside the run directory."""
        return self.path / name
