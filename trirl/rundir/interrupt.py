"""Ctrl-C in a long run: stop after the iteration under way, and say what is kept and how to resume."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from trirl.rundir.readers import CONFIG_FILE, newest_checkpoint_step, read_metrics


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
    """``program argv`` with ``--resume`` added: how a CLI whose ``--out`` is required continues.

    ``argv`` is taken as given: a command saved to be run from another folder (``config.json``'s
    ``resume``) passes its paths absolute (``trirl grid`` does), one printed for the same shell may
    keep them as typed."""
    argv = list(argv)
    return shlex.join([*shlex.split(program), *argv, *([] if "--resume" in argv else ["--resume"])])
