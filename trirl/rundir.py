"""The run directory and generic checkpoints, shared by both halves (through :mod:`trirl.driver`).

A run directory holds everything needed to inspect and rerun a run::

    config.json        the full configuration, seed included (``trirl`` rereads it on --resume)
    metrics.jsonl      one JSON object per iteration, shared metric names (DESIGN.md)
    checkpoints/       step_XXXXXXXX.npz, written atomically, the newest ``keep`` kept
    *.png              plots

A checkpoint holds a learner's whole state, any pytree (NamedTuples, dicts, lists and tuples of
numpy or jax arrays and scalars): :func:`flatten` names every leaf by its path
(``state.reward``, ``state.ppo.params.policy.mean['params']['Dense_0']['kernel']``, JAX's key-path
spelling), so a checkpoint is a plain ``.npz`` readable with ``numpy.load``, and :func:`unflatten`
restores it into a *template* of the same structure (a freshly initialised state, or only its
shapes from ``jax.eval_shape``), checking every name, shape and dtype.

Writes are atomic (a temporary file renamed into place), so a run killed at any moment leaves
a readable directory, and ``resume`` continues from the newest checkpoint with the metrics
trimmed back to it, so a resumed run reproduces the uninterrupted metrics.

One writer at a time: a run holds an advisory lock on ``.lock`` in its directory (``fcntl.flock``)
for as long as its :class:`RunDir` is open, and the operating system releases it when the process
ends, crash or kill included. A second process that opens the same directory (a ``--resume``
started while the run is alive) is refused with a :class:`RunDirLockedError` naming the holder
(pid, host, start time, command, read from ``.lock.json``).

Every file of a run is read through one reader (:func:`read_metrics`, :func:`read_checkpoint`,
:func:`saved_config`, built on :mod:`trirl.files`) that turns any decoding failure (a truncated
or empty file, a ``.npy`` renamed ``.npz``, text that is not JSON, a field of the wrong dtype or
shape) into an :class:`~trirl.errors.UnreadableFileError` naming the file and what it should
hold. A run directory is never left half-written: a damaged newest checkpoint falls back to the
previous one (:class:`~trirl.errors.DamagedCheckpointWarning`, naming both), ``--resume`` drops
every metrics row after the checkpoint whatever its state (a row cut in half by a full disk
included), temporary files of a killed writer are removed when the directory is opened, every
checkpoint records the run's configuration (so a lost ``config.json`` is rebuilt from it), and a
failed write (no space, a read-only folder) raises :class:`~trirl.errors.RunDirWriteError` naming
the path, the reason and the checkpoint kept.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from trirl.errors import DamagedCheckpointWarning, InvalidConfigError, RunDirWriteError, TrirlError, UnreadableFileError
from trirl.files import _atomic_write_bytes, read_json, read_npz, to_jsonable, write_failure, write_json

# re-exported: the run directory's readers and writers have always been importable from here
__all__ = ["Checkpoint", "RunDir", "RunDirLockedError", "check_new", "checkpoint_file", "checkpoint_files", "checkpoints",
           "config_changes", "flatten", "newest_checkpoint_step",
           "interrupted_message", "lock_holder", "newest_checkpoint", "read_checkpoint", "read_json", "read_metrics",
           "read_npz", "resume_command", "saved_config", "to_jsonable", "tree_leaves_with_path", "unflatten",
           "write_failure", "write_json"]

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, one writer is then the user's responsibility
    fcntl = None

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
LOCK_FILE = ".lock"
HOLDER_FILE = ".lock.json"


class RunDirLockedError(TrirlError, RuntimeError):
    """Another process holds the run directory; the message names it (pid, host, start, command)."""


class _Lock:
    """An exclusive ``flock`` on ``<run>/.lock``, shared by every :class:`RunDir` of one process.

    flock locks belong to an open file, so two RunDirs of the same process on one directory
    share one lock (a reference count) instead of refusing each other; other processes are
    refused while any of them is open.
    """

    held: dict[str, _Lock] = {}

    def __init__(self, directory: Path):
        self.key = os.path.realpath(directory)
        self.directory = directory
        self.count = 0
        self.handle = None

    @classmethod
    def acquire(cls, directory: Path) -> _Lock:
        key = os.path.realpath(directory)
        lock = cls.held.get(key)
        if lock is None:
            lock = cls(directory)
            lock._take()
            cls.held[key] = lock
        lock.count += 1
        return lock

    def _take(self) -> None:
        if fcntl is None:
            return
        handle = open(self.directory / LOCK_FILE, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RunDirLockedError(
                f"{self.directory} is in use by another run ({_describe_holder(self.directory)}); "
                "two processes writing one run directory would corrupt its metrics and checkpoints. "
                "Wait for that run to finish (or stop it: Ctrl-C keeps its checkpoint), then --resume; "
                "or choose another output folder"
            ) from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": _command_line()}
        try:
            _atomic_write_bytes(self.directory / HOLDER_FILE, (json.dumps(holder) + "\n").encode())
        except OSError:
            handle.close()  # releases the lock: this process will not write here
            raise
        self.handle = handle

    def release(self) -> None:
        self.count -= 1
        if self.count > 0:
            return
        _Lock.held.pop(self.key, None)
        if self.handle is not None:
            try:
                (self.directory / HOLDER_FILE).unlink(missing_ok=True)
            finally:
                self.handle.close()  # closing the file releases the flock
                self.handle = None


def _command_line() -> str:
    """How this process was started: ``python -m trirl.cli grid ...`` or ``trirl grid ...``."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if len(argv) > 2 and argv[1] == "-m":
        return shlex.join(["python", *argv[1:]])
    return shlex.join([os.path.basename(sys.argv[0]), *sys.argv[1:]])


def _describe_holder(directory: Path) -> str:
    try:
        holder = json.loads((directory / HOLDER_FILE).read_text())
        return (f"pid {holder['pid']} on host {holder['host']}, started {holder['started']}, "
                f"command: {holder['command']}")
    except (OSError, ValueError, KeyError, TypeError):
        return f"a process that has not said who it is; see {directory / LOCK_FILE}"


def interrupted_message(out: str | os.PathLike, resume: str) -> str:
    """What a CLI prints on Ctrl-C: which checkpoint of ``out`` is kept and the command to resume."""
    if not (Path(out) / CONFIG_FILE).exists():
        return f"interrupted before {out} held a run; nothing to resume"
    step = newest_checkpoint_step(out)
    kept = "no checkpoint yet" if step is None else f"the checkpoint of iteration {step}"
    step = step or 0
    rows = read_metrics(out)
    later = rows and rows[-1].get("iteration", step) > step
    metrics = "--resume drops the metrics rows after it" if later else "metrics.jsonl ends there"
    return f"interrupted; {kept} is kept in {out} ({metrics}).\nresume with: {resume}"


class StopOnInterrupt:
    """Turn the first Ctrl-C (SIGINT) into a request to stop after the current iteration.

    For loops whose iteration is long or compiled (the continuous trainers): the loop checks
    :attr:`requested`, checkpoints and returns; a second Ctrl-C raises ``KeyboardInterrupt`` at
    once (the newest periodic checkpoint is then kept, and ``--resume`` trims the metrics back to
    it). Outside the main thread, where Python delivers no signals, it does nothing.
    Call :meth:`restore` (``try``/``finally``) when the loop is over.
    """

    def __init__(self, message: str = "stopping after this iteration (Ctrl-C again to stop at once)"):
        self.requested = False
        self.message = message
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True
        print(f"\n{self.message}", file=sys.stderr, flush=True)
        self.restore()

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def resume_command(program: str, argv: list[str]) -> str:
    """``program argv`` with ``--resume`` added: how a CLI whose ``--out`` is required continues."""
    argv = list(argv)
    return shlex.join([*shlex.split(program), *argv, *([] if "--resume" in argv else ["--resume"])])


STATE_PREFIX = "state"


def _is_namedtuple(node) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def tree_leaves_with_path(tree) -> list[tuple[str, Any]]:
    """``[(path, leaf)]`` of a pytree, paths spelt as ``jax.tree_util.keystr`` spells them.

    With JAX loaded, JAX flattens (any registered pytree: flax structs, ``mjx.Data``); without it
    (the tabular half needs only numpy), NamedTuples (``.field``), dicts (``['key']``, sorted keys)
    and lists and tuples (``[i]``) are walked here in the same order and spelling, ``None`` being
    an empty node as in JAX.
    """
    if "jax" in sys.modules:
        import jax

        leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
        return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves]
    return list(_walk(tree, ""))


def _walk(node, path: str):
    if node is None:
        return
    if _is_namedtuple(node):
        for name, child in zip(node._fields, node):
            yield from _walk(child, f"{path}.{name}")
    elif isinstance(node, dict):
        for key in sorted(node):
            yield from _walk(node[key], f"{path}[{key!r}]")
    elif isinstance(node, (list, tuple)):
        for index, child in enumerate(node):
            yield from _walk(child, f"{path}[{index}]")
    else:
        yield path, node


def _rebuild(template, leaves: dict[str, Any], path: str = ""):
    """``template`` with every leaf replaced by ``leaves[path]`` (the numpy-only twin of ``tree_unflatten``)."""
    if template is None:
        return None
    if _is_namedtuple(template):
        return type(template)(*(_rebuild(c, leaves, f"{path}.{n}") for n, c in zip(template._fields, template)))
    if isinstance(template, dict):
        return type(template)({k: _rebuild(template[k], leaves, f"{path}[{k!r}]") for k in template})
    if isinstance(template, (list, tuple)):
        return type(template)(_rebuild(c, leaves, f"{path}[{i}]") for i, c in enumerate(template))
    return leaves[path]


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """``{prefix + key path: numpy array}`` for every leaf of the pytree ``tree`` (scalars as 0-d arrays)."""
    return {prefix + path: np.asarray(leaf) for path, leaf in tree_leaves_with_path(tree)}


def unflatten(template, arrays: Mapping[str, np.ndarray], prefix: str = "", optional: tuple[str, ...] = ()):
    """Rebuild a pytree shaped like ``template`` from ``arrays`` (as :func:`flatten` wrote them).

    Every leaf must be present with the template leaf's shape and dtype; it comes back as the
    template leaf's kind: a JAX array for a JAX array or ``ShapeDtypeStruct``, a Python ``int``,
    ``float`` or ``bool`` for one, a numpy array otherwise. A missing leaf whose name contains one
    of the ``optional`` substrings starts at zero (e.g. a diagnostic added since the checkpoint
    was written).

    Raises:
        InvalidConfigError: naming a missing array, or one whose shape or dtype differs.
    """
    restored = {}
    for path, leaf in tree_leaves_with_path(template):
        name = prefix + path
        python = isinstance(leaf, (bool, int, float)) and not isinstance(leaf, np.generic)
        shape = () if python else tuple(np.shape(leaf))
        dtype = np.asarray(leaf).dtype if python or isinstance(leaf, (np.ndarray, np.generic)) else np.dtype(leaf.dtype)
        if name in arrays:
            value = np.asarray(arrays[name])
        elif any(part in name for part in optional):
            value = np.zeros(shape, dtype)
        else:
            raise InvalidConfigError(f"checkpoint: the array {name!r} is missing (was it written by another config?)")
        if value.shape != shape or (value.dtype != dtype and not python):
            raise InvalidConfigError(
                f"checkpoint: {name!r} has shape {value.shape} and dtype {value.dtype}, expected {shape} and {dtype}"
            )
        if python:
            value = type(leaf)(value.item())
        elif isinstance(leaf, np.generic):
            value = value[()]
        elif not isinstance(leaf, np.ndarray):  # a JAX array or shape: JAX is loaded
            import jax.numpy as jnp

            value = jnp.asarray(value)
        restored[path] = value
    if "jax" in sys.modules:
        import jax

        leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
        return jax.tree_util.tree_unflatten(treedef, [restored[jax.tree_util.keystr(p)] for p, _ in leaves])
    return _rebuild(template, restored)


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
    return int(path.stem.split("_")[1])


def checkpoint_file(run: str | os.PathLike, step: int) -> Path:
    """The checkpoint file of iteration ``step`` in a run directory (``checkpoints/step_XXXXXXXX.npz``)."""
    return Path(run) / CHECKPOINT_DIR / f"step_{step:08d}.npz"


def checkpoint_files(run: str | os.PathLike) -> list[Path]:
    """The checkpoint files of a run directory, oldest first."""
    return sorted((Path(run) / CHECKPOINT_DIR).glob("step_*.npz"))


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


def lock_holder(run: str | os.PathLike) -> str | None:
    """Who is writing the run directory now (pid, host, start, command), or ``None`` when no other
    live process holds its lock (the lock dies with its process, so a killed run holds none; this
    process's own runs are not being written while it reads them)."""
    run = Path(run)
    if fcntl is None or not (run / LOCK_FILE).exists() or os.path.realpath(run) in _Lock.held:
        return None
    with open(run / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _describe_holder(run)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


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
        directory = self.path / CHECKPOINT_DIR
        target = checkpoint_file(self.path, step)
        payload = {name: np.asarray(value) for name, value in arrays.items()}
        payload["__meta__"] = _json_bytes(dict(meta or {}))
        payload["__config__"] = _json_bytes(self.config)  # so that a lost config.json can be rebuilt (saved_config)
        buffer = io.BytesIO()
        np.savez(buffer, **payload)
        with self._writing(target):
            directory.mkdir(exist_ok=True)
            _atomic_write_bytes(target, buffer.getvalue())
        for old in checkpoint_files(self.path)[: -self.keep]:
            with contextlib.suppress(OSError):
                old.unlink()
        self._remove_temporary_files()
        return target

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest readable checkpoint (:func:`newest_checkpoint`), or ``None`` when the run has none yet."""
        return newest_checkpoint(self.path)

    def file(self, name: str) -> Path:
        """Path of a file (plot, table, summary) inside the run directory."""
        return self.path / name
