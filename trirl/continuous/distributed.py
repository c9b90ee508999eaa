"""Seeds across processes and hosts: one run of ``trirl train`` over ``jax.distributed``.

On one host the seed axis already lives on a mesh of the local devices (:func:`trirl.devices.seed_mesh`).
Over several processes (one per host, or one per GPU), JAX's own runtime joins them into one
program: :func:`initialize` starts ``jax.distributed`` from the flags ::

    trirl train ... --coordinator-address HOST:PORT --num-processes P --process-id I

or, without flags, from the environment: ``JAX_COORDINATOR_ADDRESS`` (what
``jax.distributed.initialize()`` reads) with ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (the flags'
spelling), or a launcher JAX detects by itself: Slurm (``srun`` with ``SLURM_STEP_NUM_TASKS`` > 1; a job
array's single task starts nothing) and Open MPI (``OMPI_COMM_WORLD_SIZE`` > 1).

Then, for ``seeds`` seeds over ``P`` processes:

* the mesh (:func:`trirl.devices.process_seed_mesh`) spans every process's devices, the same number ``k`` of each,
  process by process, so process ``p`` owns seeds ``p * seeds / P`` to ``(p + 1) * seeds / P - 1``
  (``seeds`` must be a multiple of ``P``; ``k`` is the largest count that divides the rest);
* every process runs the same :func:`trirl.driver.run` loop with the same keys, so seed ``j``'s numbers
  do not depend on the process count (up to XLA's float rounding for another batch size, as on one
  host); the metrics come back replicated, and :func:`trirl.devices.to_host` gathers a state (a checkpoint) or an
  evaluation to every host, a collective that all processes make together;
* process 0 is the one writer of the run directory (``config.json``, ``metrics.jsonl``, checkpoints,
  figures); the others hold a :class:`Follower`, which reads the run (``--resume``: the newest
  checkpoint, placed on the global mesh as any host array is) and writes nothing. The run directory
  must therefore be on a filesystem every host reads (as a cluster's home or scratch is).

A stop on one process's own clock would leave the others waiting in a collective, so
``--max-minutes`` is refused with several processes: use the scheduler's time limit and ``--resume``
from the newest checkpoint (``checkpoint_every`` bounds the iterations lost).

On CPU the processes talk over gloo (``jax_cpu_collectives_implementation``, the default of the
installed JAX, set explicitly here). XLA crashes when CPU collectives meet forced host devices
(``--xla_force_host_platform_device_count``): a CPU process of a distributed run keeps one device.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from trirl.argtypes import integer
from trirl.errors import InvalidConfigError
from trirl.rundir import Checkpoint, newest_checkpoint, read_metrics

#: the environment variables read when a flag is not given (the first is ``jax.distributed``'s own)
ENVIRONMENT = {"coordinator_address": "JAX_COORDINATOR_ADDRESS", "num_processes": "JAX_NUM_PROCESSES",
               "process_id": "JAX_PROCESS_ID"}
#: launchers that ``jax.distributed.initialize()`` detects by itself: their process-count variable
LAUNCHERS = {"Slurm": "SLURM_STEP_NUM_TASKS", "Open MPI": "OMPI_COMM_WORLD_SIZE"}


class Settings(NamedTuple):
    """What :func:`initialize` passes to ``jax.distributed.initialize``; ``None`` fields are left to
    JAX's detection of the launcher named in ``source``."""

    coordinator_address: str | None
    num_processes: int | None
    process_id: int | None
    source: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--coordinator-address``, ``--num-processes``, ``--process-id`` (module doc)."""
    group = parser.add_argument_group("several processes or hosts (jax.distributed)")
    group.add_argument("--coordinator-address", metavar="HOST:PORT",
                       help=f"process 0's address and a free port (default: ${ENVIRONMENT['coordinator_address']})")
    group.add_argument("--num-processes", type=integer(1), metavar="P",
                       help=f"how many processes share the seeds (default: ${ENVIRONMENT['num_processes']}, "
                            "or the launcher's, e.g. srun's SLURM_STEP_NUM_TASKS)")
    group.add_argument("--process-id", type=integer(0), metavar="I",
                       help=f"this process, 0 to P-1; 0 writes the run directory (default: ${ENVIRONMENT['process_id']})")


def settings(coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None,
             environ: Mapping[str, str] | None = None) -> Settings | None:
    """The distributed settings from the flags, else the environment (module doc); ``None``: one process.

    Raises:
        InvalidConfigError: naming the flag (and its environment variable) that is missing or malformed:
            an address that is not ``HOST:PORT``, a count or id that is not an integer, an id outside
            ``0 .. P-1``, or an address without a process count and id.
    """
    environ = os.environ if environ is None else environ
    given = {"coordinator_address": coordinator_address, "num_processes": num_processes, "process_id": process_id}
    source = "flags" if any(value is not None for value in given.values()) else "environment"
    for name, variable in ENVIRONMENT.items():
        if given[name] is None and environ.get(variable, "") != "":
            given[name] = environ[variable]
    if all(value is None for value in given.values()):
        for launcher, variable in LAUNCHERS.items():
            count = environ.get(variable, "")
            if count.isdigit() and int(count) > 1:
                return Settings(None, None, None, launcher)
        return None
    for name in ("num_processes", "process_id"):
        value = given[name]
        if value is not None and not isinstance(value, int):
            if not str(value).strip().isdigit():
                raise InvalidConfigError(f"{_flag(name)}: expected an integer >= {1 if name == 'num_processes' else 0}, "
                                         f"got {value!r}")
            given[name] = int(value)
    address, count, index = given["coordinator_address"], given["num_processes"], given["process_id"]
    missing = [_flag(name) for name, value in given.items() if value is None]
    if missing:
        raise InvalidConfigError(f"a run over several processes needs {', '.join(missing)} as well "
                                 f"(given: {', '.join(_flag(n) for n, v in given.items() if v is not None)})")
    host, _, port = str(address).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidConfigError(f"{_flag('coordinator_address')}: expected HOST:PORT (process 0's host and a free "
                                 f"port, e.g. node001:29500), got {address!r}")
    if count < 1:
        raise InvalidConfigError(f"{_flag('num_processes')}: expected an integer >= 1, got {count}")
    if not 0 <= index < count:
        raise InvalidConfigError(f"{_flag('process_id')}: expected 0 to {count - 1} "
                                 f"({_flag('num_processes')} is {count}), got {index}")
    return Settings(str(address), count, index, source)


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')} (${ENVIRONMENT[name]})"


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, max_minutes: float | None = None) -> int:
    """Start ``jax.distributed`` when :func:`settings` asks for several processes; returns the
    process count (1: nothing started). Call it before JAX computes anything.

    Raises:
        InvalidConfigError: bad settings (:func:`settings`), or ``max_minutes`` (``--max-minutes``)
            with several processes (module doc).
    """
    chosen = settings(coordinator_address, num_processes, process_id)
    if chosen is None or chosen.num_processes == 1:
        return 1
    if max_minutes is not None:
        raise InvalidConfigError(
            "--max-minutes with several processes: each process's clock would stop it at another iteration; "
            "use the scheduler's time limit and --resume (checkpoint_every bounds the iterations lost)")
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(chosen.coordinator_address, chosen.num_processes, chosen.process_id)
    return jax.process_count()


def from_args(args: argparse.Namespace) -> int:
    """:func:`initialize` from the flags of :func:`add_arguments` (and ``--max-minutes``)."""
    return initialize(args.coordinator_address, args.num_processes, args.process_id,
                      getattr(args, "max_minutes", None))


def is_writer() -> bool:
    """Whether this process writes the run directory: process 0, or the only process."""
    import jax

    return jax.process_index() == 0


class Follower:
    """The run directory as a process other than 0 sees it: it reads the run that process 0 writes
    (``resume``: the newest checkpoint and the metrics up to it) and writes nothing; the methods of
    :class:`~trirl.rundir.RunDir` that :func:`trirl.driver.run` calls, as no-ops where they write."""

    def __init__(self, path: str | os.PathLike, resume: bool = False):
        self.path = Path(path)
        self._checkpoint = newest_checkpoint(self.path) if resume else None

    def latest_checkpoint(self) -> Checkpoint | None:
        return self._checkpoint

    def metrics(self) -> list[dict[str, Any]]:
        if self._checkpoint is None:
            return []
        return [row for row in read_metrics(self.path / "metrics.jsonl")
                if row.get("iteration", -1) <= self._checkpoint.step]

    def log(self, metrics: Mapping[str, Any]) -> None:
        pass

    def save_checkpoint(self, step: int, arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> None:
        pass

    def truncate_metrics(self, last_iteration: int) -> None:
        pass

    def file(self, name: str) -> io.BytesIO:
        """A buffer in place of the file (what is written to it is dropped)."""
        return io.BytesIO()

    def close(self) -> None:
        pass
