"""Reading a run directory back: its file names, metrics, checkpoints and saved configuration.

Every file of a run is read through one reader (:func:`read_metrics`, :func:`read_checkpoint`,
:func:`saved_config`, built on :mod:`trirl.files`) that turns any decoding failure into an
:class:`~trirl.errors.UnreadableFileError` naming the file and what it should hold; checkpoints
are found by :func:`checkpoint_files` only.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from trirl.errors import DamagedCheckpointWarning, InvalidConfigError, UnreadableFileError
from trirl.files import read_json, read_npz, to_jsonable

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"


class Checkpoint(NamedTuple):
    step: int
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    config: dict[str, Any] | None = None  #: the run's configuration when it was written (None: an older checkpoint)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Read a ``metrics.jsonl`` file (or the one inside a run directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    for number, row in _metric_lines(path):
        if isinstance(row, str):
            raise UnreadableFileError(f"{path}, line {number}: {row}; expected one JSON object per line "
                                      "(a run's metrics; --resume drops a damaged row after the last checkpoint)")
        rows.append(row)
    return rows


def _metric_lines(path: Path):
    """``(line number, row dict or the reason it is not one)`` for the non-empty lines of ``path``."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UnreadableFileError(f"{path} cannot be read ({err.strerror or err}); expected a run's metrics") from None
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield number, "not UTF-8 text"
            continue
        except json.JSONDecodeError as err:
            yield number, f"not valid JSON ({err.msg})"
            continue
        yield number, row if isinstance(row, dict) else f"a JSON {type(row).__name__}, not an object"



def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """One checkpoint file (``step_XXXXXXXX.npz``): its step, arrays and metadata.

    Raises:
        UnreadableFileError: naming the file when it cannot be decoded.
    """
    path = Path(path)
    expected = "a trirl checkpoint (an .npz archive of the learner's state, written by trirl train)"
    arrays = read_npz(path, expected, schema={"__meta__": ((None,), "u"), "__config__": ((None,), "u")})
    records = {}
    for name in ("__meta__", "__config__"):
        if name in arrays:
            try:
                records[name] = json.loads(arrays.pop(name).tobytes().decode())
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise UnreadableFileError(f"{path}: its {name!r} record is not UTF-8 JSON; expected {expected}") from None
            if not isinstance(records[name], dict):
                raise UnreadableFileError(f"{path}: its {name!r} record is not a JSON object; expected {expected}")
    return Checkpoint(_step_of(path), arrays, records.get("__meta__", {}), records.get("__config__"))


def _json_bytes(value: Mapping[str, Any]) -> np.ndarray:
    return np.frombuffer(json.dumps(to_jsonable(value), allow_nan=False).encode(), dtype=np.uint8)


def _step_of(path: Path) -> int:
    """The iteration of a checkpoint file, from its name (``step_XXXXXXXX.npz``, ``best_step_XXXXXXXX.npz``)."""
    return int(path.stem.rsplit("_", 1)[1])


checkpoint_step = _step_of


def checkpoint_file(run: str | os.PathLike, step: int) -> Path:
    """The checkpoint file of iteration ``step`` in a run directory (``checkpoints/step_XXXXXXXX.npz``)."""
    return Path(run) / CHECKPOINT_DIR / f"step_{step:08d}.npz"


def checkpoint_files(run: str | os.PathLike) -> list[Path]:
    """The checkpoint files of a run directory, oldest first."""
    return sorted((Path(run) / CHECKPOINT_DIR).glob("step_*.npz"))


def best_checkpoint_file(run: str | os.PathLike) -> Path | None:
    """The run's best-evaluated checkpoint (``checkpoints/best_step_XXXXXXXX.npz``, kept beside the
    newest ones by :meth:`~trirl.rundir.RunDir.save_best`), or ``None`` when it has none."""
    files = sorted((Path(run) / CHECKPOINT_DIR).glob("best_step_*.npz"))
    return files[-1] if files else None


def newest_checkpoint_step(run: str | os.PathLike) -> int | None:
    """The iteration of a run directory's newest checkpoint file (from its name: nothing is decoded),
    or ``None`` when it holds none."""
    files = checkpoint_files(run)
    return _step_of(files[-1]) if files else None


def checkpoints(run: str | os.PathLike) -> Iterator[Checkpoint]:
    """Every checkpoint of a run directory, oldest first (:func:`read_checkpoint`).

    Raises:
        UnreadableFileError: naming a checkpoint that cannot be decoded.
    """
    for path in checkpoint_files(run):
        yield read_checkpoint(path)


def newest_checkpoint(run: str | os.PathLike) -> Checkpoint | None:
    """The newest readable checkpoint of a run directory (``None`` when it holds none).

    A damaged newest checkpoint (a truncated file, a disk that filled during the write) falls
    back to the previous one with a :class:`~trirl.errors.DamagedCheckpointWarning` naming both.

    Raises:
        UnreadableFileError: every checkpoint is damaged (naming each).
    """
    files = checkpoint_files(run)
    damaged = []
    for path in reversed(files):
        try:
            checkpoint = read_checkpoint(path)
        except UnreadableFileError as err:
            damaged.append(str(err))
            continue
        if damaged:
            names = ", ".join(p.name for p in files[len(files) - len(damaged):])
            warnings.warn(f"{Path(run) / CHECKPOINT_DIR}: the newest checkpoint{'s' if len(damaged) > 1 else ''} "
                          f"{names} cannot be read ({'; '.join(damaged)}); using {path.name} "
                          f"(iteration {checkpoint.step}) instead", DamagedCheckpointWarning, stacklevel=2)
        return checkpoint
    if damaged:
        raise UnreadableFileError(f"{Path(run) / CHECKPOINT_DIR}: no checkpoint can be read: {'; '.join(damaged)}")
    return None


def saved_config(run: str | os.PathLike) -> dict[str, Any] | None:
    """The configuration a run directory was started with: its ``config.json``, or, when that is
    lost or damaged, the record in its newest checkpoint (with a warning); ``None`` when the
    directory holds neither.

    Raises:
        UnreadableFileError: ``config.json`` is damaged and no checkpoint records the configuration.
    """
    run = Path(run)
    path = run / CONFIG_FILE
    problem = None
    if path.exists():
        try:
            return read_json(path, "the run's configuration (written by trirl when the run started)")
        except UnreadableFileError as err:
            problem = str(err)
    checkpoint = newest_checkpoint(run) if checkpoint_files(run) else None
    record = checkpoint.config if checkpoint is not None else None
    if record is not None:
        why = "is damaged" if problem else "is missing"
        warnings.warn(f"{path} {why}; using the configuration recorded in checkpoint "
                      f"step_{checkpoint.step:08d}.npz", UserWarning, stacklevel=2)
        return record
    if problem:
        raise UnreadableFileError(f"{problem}. No checkpoint records the configuration: restore {CONFIG_FILE} "
                                  f"from a copy, or start a new run in another folder")
    if checkpoint is not None:
        raise UnreadableFileError(
            f"{run} holds checkpoints but its {CONFIG_FILE} is missing, and they (written by an older trirl) do "
            f"not record the configuration: restore {CONFIG_FILE} from a copy, or start a new run in another folder")
    return None


def _dotted(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(_dotted(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_changes(saved: Mapping[str, Any], config: Mapping[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """``["ppo.num_envs: 64 -> 8", ...]``: the fields (dotted inside tables) whose values differ
    between a run's saved configuration and ``config``, except those in ``ignore``."""
    old, new = _dotted(to_jsonable(dict(saved))), _dotted(to_jsonable(dict(config)))
    keys = [*new, *(key for key in old if key not in new)]  # in the config's order: env before what it implies
    return [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in keys
            if key not in ignore and key.split(".")[0] not in ignore and old.get(key) != new.get(key)]


def check_new(run: str | os.PathLike) -> None:
    """Refuse to start a new run in a folder that holds one (a CLI calls it before compiling).

    Raises:
        InvalidConfigError: naming the folder, ``--resume``, and a lost ``config.json``.
    """
    run = Path(run)
    config_path = run / CONFIG_FILE
    if config_path.exists() or (run / METRICS_FILE).exists() or checkpoint_files(run):
        if not config_path.exists() and not checkpoint_files(run):
            raise InvalidConfigError(f"{run} holds the {METRICS_FILE} of a run that stopped before its first "
                                     "checkpoint; delete that file to start afresh there, or choose another output folder")
        lost = "" if config_path.exists() else f" (its {CONFIG_FILE} is missing; --resume rebuilds it from the newest checkpoint)"
        raise InvalidConfigError(
            f"{run} already holds a run{lost}; pass --resume to continue it or choose another output folder")
