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
"""

from __future__ import annotations

import io
import json
import math
import os
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from trirl.errors import InvalidConfigError, TrirlError

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
        self.handle = handle
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": _command_line()}
        _atomic_write_bytes(self.directory / HOLDER_FILE, (json.dumps(holder) + "\n").encode())

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
    files = sorted((Path(out) / CHECKPOINT_DIR).glob("step_*.npz"))
    step = int(files[-1].stem.split("_")[1]) if files else 0
    kept = f"the checkpoint of iteration {step}" if files else "no checkpoint yet"
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


def _file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask); ``mkstemp``'s is 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())  # readable as any file the user writes, not private to the writer
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
        if resume and not config_path.exists():
            raise InvalidConfigError(f"--resume: {self.path} holds no run ({CONFIG_FILE} missing)")
        self.path.mkdir(parents=True, exist_ok=True)
        # lock before reading anything: a second writer must not trim the metrics of a live run
        self._lock = _Lock.acquire(self.path)
        try:
            self._open(config_path, resume, ignore)
        except BaseException:
            self.close()
            raise

    def _open(self, config_path: Path, resume: bool, ignore: tuple[str, ...]) -> None:
        if resume:
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
            self.truncate_metrics(checkpoint.step if checkpoint else -1)
        else:
            if config_path.exists() or (self.path / METRICS_FILE).exists():
                raise InvalidConfigError(
                    f"{self.path} already holds a run; pass --resume to continue it or choose another output folder"
                )
            (self.path / METRICS_FILE).touch()
        write_json(config_path, self.config)

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
        with open(self.path / METRICS_FILE, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path / METRICS_FILE)

    def truncate_metrics(self, last_iteration: int) -> None:
        """Drop the rows of ``metrics.jsonl`` after ``last_iteration`` (atomically)."""
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
        buffer = io.BytesIO()
        np.savez(buffer, **payload)
        _atomic_write_bytes(target, buffer.getvalue())
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
