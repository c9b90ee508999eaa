"""One writer at a time: the advisory lock on a run directory's ``.lock`` and who holds it.

A run holds an exclusive ``fcntl.flock`` on ``<run>/.lock`` for as long as its
:class:`~trirl.rundir.RunDir` is open; the operating system releases it when the process ends,
crash or kill included. The holder (pid, host, start time, command) is written to ``.lock.json``
so that a refused second writer can be told who it is.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import time
from pathlib import Path

from trirl.errors import TrirlError
from trirl.files import _atomic_write_bytes

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, one writer is then the user's responsibility
    fcntl = None

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
