"""The run directory and generic checkpoints, shared by both halves (through :mod:`trirl.driver`).

A run directory holds everything needed to inspect and rerun a run::

    config.json        the full configuration, seed included (``trirl`` rereads it on --resume)
    metrics.jsonl      one JSON object per iteration, metric names shared by both halves (trirl.driver)
    checkpoints/       step_XXXXXXXX.npz, written atomically, the newest ``keep`` kept (and
                       best_step_XXXXXXXX.npz, the best-evaluated one, where a caller keeps it)
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

The package, by job: :mod:`.readers` (file names and readers), :mod:`.writer` (:class:`RunDir`),
:mod:`.lock` (one writer at a time), :mod:`.interrupt` (Ctrl-C), :mod:`.pytree` (a state as
named arrays); the atomic writers are :mod:`trirl.files`'. Every name is importable from here.
"""

from __future__ import annotations

from trirl.files import _atomic_write_bytes, read_json, read_npz, to_jsonable, write_failure, write_json  # noqa: F401
from trirl.rundir.interrupt import StopOnInterrupt, interrupted_message, resume_command
from trirl.rundir.lock import HOLDER_FILE, LOCK_FILE, RunDirLockedError, lock_holder
from trirl.rundir.pytree import STATE_PREFIX, _walk, flatten, tree_leaves_with_path, unflatten  # noqa: F401
from trirl.rundir.readers import (CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE, Checkpoint, best_checkpoint_file,
                                  check_new, checkpoint_file, checkpoint_files, checkpoint_step, checkpoints,
                                  config_changes, newest_checkpoint, newest_checkpoint_step, read_checkpoint,
                                  read_metrics, saved_config)
from trirl.rundir.writer import RunDir

__all__ = ["CHECKPOINT_DIR", "CONFIG_FILE", "HOLDER_FILE", "LOCK_FILE", "METRICS_FILE", "STATE_PREFIX", "Checkpoint",
           "RunDir", "RunDirLockedError", "StopOnInterrupt", "best_checkpoint_file", "check_new", "checkpoint_file",
           "checkpoint_files", "checkpoint_step", "checkpoints", "config_changes", "flatten", "interrupted_message",
           "lock_holder", "newest_checkpoint", "newest_checkpoint_step", "read_checkpoint", "read_json", "read_metrics",
           "read_npz", "resume_command", "saved_config", "to_jsonable", "tree_leaves_with_path", "unflatten",
           "write_failure", "write_json"]
