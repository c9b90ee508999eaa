"""Running a suite's stages (one training per task x method, seeds vmapped) into
``RUNS/<task>/<method>``, in pieces of ``--max-minutes``, and what a ``--runs`` folder holds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from trirl.bench.study import StudyPaused, completed, run_training, training_record
from trirl.bench.suite.spec import Suite
from trirl.errors import InvalidConfigError
from trirl.rundir import CONFIG_FILE, newest_checkpoint_step


def select(suite: Suite, only: str | None) -> tuple[str, ...]:
    """The stages ``--only`` names: comma-separated tasks, methods or ``task/method`` pairs
    (empty: every stage), in the spec's order.

    Raises:
        InvalidConfigError: naming ``--only``, the unknown entry and the names it may use.
    """
    if not only:
        return suite.stages
    chosen = set()
    for entry in (part.strip() for part in only.split(",") if part.strip()):
        matches = {stage for stage in suite.stages if entry in (stage, *stage.split("/"))}
        if not matches:
            raise InvalidConfigError(f"--only {entry!r}: no such task, method or task/method; the tasks are "
                                     f"{', '.join(suite.tasks)}, the methods {', '.join(suite.methods)}")
        chosen |= matches
    return tuple(stage for stage in suite.stages if stage in chosen)


def stage_states(suite: Suite, runs: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """What ``runs`` holds, running nothing: ``(results, missing)``: the completed stages'
    ``result.json`` by ``"task/method"``, and for every other stage why it is missing (the task's
    reason it cannot run, a paused training's iteration, or not started).

    Raises:
        InvalidConfigError: a stage was completed with another configuration than the spec's.
    """
    results, missing = {}, {}
    for stage in suite.stages:
        if stage in suite.unavailable:
            missing[stage] = suite.unavailable[stage]
            continue
        config, path = suite.configs[stage], runs / stage
        done = completed(path, training_record(config))
        if done is not None:
            results[stage] = done
        elif (path / CONFIG_FILE).exists():
            missing[stage] = f"paused at iteration {newest_checkpoint_step(path) or 0} of {config.iterations} (resumes)"
        else:
            missing[stage] = "not run yet"
    return results, missing


def run_suite(suite: Suite, runs: Path, stages: tuple[str, ...], max_minutes: float | None = None,
              progress: bool = True, log=print) -> None:
    """Train (or resume, or skip) each of ``stages`` in order, all seeds vmapped per stage.

    ``max_minutes`` bounds the whole call: each training gets what is left and checkpoints after
    the iteration that crosses it (:class:`~trirl.bench.study.StudyPaused`; the first training of
    a call always runs at least one iteration); a stage that cannot run is skipped with its reason.

    Raises:
        StudyPaused: the minutes ran out (the stage under way keeps its checkpoint).
        StudyInterrupted: Ctrl-C (likewise).
    """
    start, trained = time.monotonic(), False
    for stage in stages:
        if stage in suite.unavailable:
            log(f"[{stage}] cannot run: {suite.unavailable[stage]}")
            continue
        config = suite.configs[stage]
        left = None
        if max_minutes is not None:
            left = max_minutes - (time.monotonic() - start) / 60
            # every call trains at least one iteration, so that any budget makes progress
            if left <= 0 and trained and completed(runs / stage, training_record(config)) is None:
                raise StudyPaused(f"--max-minutes ran out before {stage} started")
        log(f"[{stage}] training: {config.algo} on {config.env}, {config.seeds} seeds x {config.iterations} iterations "
            f"({config.iterations * config.ppo.batch_size:,} env steps per seed) -> {runs / stage}")
        result = run_training(config, runs / stage, progress, log, max_minutes=left if left is None else max(left, 1e-9))
        if result.get("skipped"):
            log(f"[{stage}] already done, skipped")
        else:
            trained = True
