"""What the studies share (``trirl bench table1``, :mod:`trirl.bench.table1`, and ``trirl bench
suite``, :mod:`trirl.bench.suite`): a stage's completion record, the training stage with resume
and ``--max-minutes`` pieces, ``--shard K/N``, expert normalisation and a training run's curve.

A stage is a run directory whose ``result.json`` (:data:`RESULT_FILE`) holds the ``record`` it was
made with; it counts as done only for that record (:func:`completed`), so a changed spec never
reuses a stale stage silently.
"""

from __future__ import annotations

import filecmp
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trirl.errors import InvalidConfigError
from trirl.rundir import CONFIG_FILE, newest_checkpoint_step, read_json, read_metrics, write_json

RESULT_FILE = "result.json"
#: a training stage's wall clock per call, ``{"seconds": [...]}`` (a stage resumed over several calls sums them)
PIECES_FILE = "pieces.json"


class StudyInterrupted(Exception):
    """Ctrl-C stopped a stage; completed stages (and a training stage's checkpoint) are kept."""


class StudyPaused(StudyInterrupted):
    """``--max-minutes`` ran out inside a training stage: its checkpoint is kept, the next call resumes."""


def completed(path: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The stage's saved result if it is complete and was made with ``record``; ``None`` if not run.

    Raises:
        InvalidConfigError: the stage was completed with another configuration.
    """
    result_path = path / RESULT_FILE
    if not result_path.exists():
        return None
    result = read_json(result_path, "a completed stage's result (written by trirl bench)")
    saved = portable(result.get("record", {}))
    record = portable(json.loads(json.dumps(record)))  # the JSON form (tuples as lists)
    differ = _differences(saved, record)
    if differ:
        raise InvalidConfigError(
            f"{path} was completed with another configuration ({'; '.join(f'{k}: {a!r} -> {b!r}' for k, a, b in differ)}); "
            f"delete that folder to redo the stage, or choose another --runs folder")
    return result


def _differences(saved: Any, record: Any, where: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, saved, record)`` of every leaf where two records differ."""
    if isinstance(saved, dict) and isinstance(record, dict):
        return [d for k in sorted(set(saved) | set(record), key=str)
                for d in _differences(saved.get(k), record.get(k), f"{where}.{k}" if where else str(k))]
    return [] if saved == record else [(where or "record", saved, record)]


def portable(value: Any) -> Any:
    """A record (JSON form) with every absolute path to a shipped file written as
    ``<folder>/<path in it>`` (``continuous/experts/point_maze/demos.npz``,
    :mod:`trirl.resources`), so that a runs folder counts as done in any checkout or install.
    A path of another checkout names the shipped file that its part after the last
    ``continuous/`` (or ``gridworlds/``) names, where that file exists here and, if the other
    checkout's file still exists, holds the same bytes; any other path is kept as it is."""
    from trirl.resources import FOLDERS, data_dir

    if isinstance(value, dict):
        return {key: portable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item) for item in value]
    if not (isinstance(value, str) and Path(value).is_absolute()):
        return value
    path = Path(value)
    for folder in FOLDERS:
        root = data_dir(folder).resolve()
        if path.exists() and path.resolve().is_relative_to(root):
            return f"{folder}/{path.resolve().relative_to(root).as_posix()}"
        if folder in path.parts:
            tail = path.parts[len(path.parts) - path.parts[::-1].index(folder):]
            here = root / Path(*tail) if tail else root
            if tail and here.is_file() and (not path.is_file() or filecmp.cmp(path, here, shallow=False)):
                return f"{folder}/{Path(*tail).as_posix()}"
    return value


def training_record(config) -> dict[str, Any]:
    """What a training stage's ``result.json`` must record to count as done: its whole config
    (shipped files as :func:`portable` paths)."""
    return {"stage": "training", "config": portable(json.loads(json.dumps(config.to_dict())))}


def run_training(config, path: Path, progress: bool, log=print, max_minutes: float | None = None) -> dict[str, Any]:
    """The training stage: train (or resume) ``config`` into ``path``; its per-seed final scores,
    ``wall_clock_s`` summed over the calls that trained it (``pieces``, :data:`PIECES_FILE`).

    Raises:
        StudyPaused: ``max_minutes`` (> 0) ran out first (the checkpoint is kept).
        StudyInterrupted: Ctrl-C stopped it (the checkpoint is kept).
    """
    from trirl.continuous import train

    record = training_record(config)
    done = completed(path, record)
    if done is not None:
        return done | {"skipped": True}
    start = time.monotonic()
    resume = (path / CONFIG_FILE).exists()
    pieces_path = path / PIECES_FILE
    pieces = []
    if resume and pieces_path.exists():
        pieces = read_json(pieces_path, "the wall clock of a stage's pieces").get("seconds", [])
    if resume:
        log(f"  resuming {path} from iteration {newest_checkpoint_step(path) or 0}")
    summary = train.train(config, path, resume=resume, progress=progress, max_minutes=max_minutes)
    pieces = [*pieces, round(time.monotonic() - start, 1)]
    if path.is_dir():  # the run directory train made
        write_json(pieces_path, {"seconds": pieces})
    if summary["status"] == "paused":
        raise StudyPaused(f"--max-minutes ran out: training of {path} paused at iteration {summary['iterations']} "
                          f"of {config.iterations} (checkpoint kept)")
    if summary["status"] != "done":
        raise StudyInterrupted(f"training of {path} stopped at iteration {summary['iterations']} (checkpoint kept)")
    rows = read_metrics(path)
    evals = [row for row in rows if "eval_return_per_seed" in row]
    if not evals or rows[-1].get("iteration") != config.iterations:
        raise InvalidConfigError(f"{path}: the training run ended without its final evaluation; delete the folder and rerun")
    result = {"record": record, "returns": evals[-1]["eval_return_per_seed"], "iterations": config.iterations,
              "env_steps": config.iterations * config.ppo.batch_size, "wall_clock_s": round(sum(pieces), 1),
              "pieces": len(pieces)}
    write_json(path / RESULT_FILE, result)
    return result


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard K/N`` as ``(K, N)``, ``1 <= K <= N`` (a job array's task ``K`` of ``N``).

    Raises:
        InvalidConfigError: naming ``--shard`` and the expected form.
    """
    parts = text.split("/")
    try:
        k, n = (int(part) for part in parts) if len(parts) == 2 else (0, 0)
    except ValueError:
        k, n = 0, 0
    if not 1 <= k <= n:
        raise InvalidConfigError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. --shard 2/4 for the second of "
                                 f"four array tasks (Slurm: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT "
                                 f"with --array=1-N)")
    return k, n


def expert_normaliser(config) -> Callable[..., np.ndarray]:
    """``normalise(returns, one=R_expert, zero=R_random)``: expert-normalised returns (paper Table 8,
    ``(R - R_random) / (R_expert - R_random)``) from the config's ``returns.json``.

    Raises:
        InvalidConfigError: that file does not exist (naming it and the command that writes it).
    """
    from trirl.continuous.evaluation import normalized_return
    from trirl.continuous.evaluation import load_expert_returns

    expert_random = load_expert_returns(config.expert_returns_file)
    if expert_random is None:
        raise InvalidConfigError(f"{config.expert_returns_file} does not exist: the table needs expert and random returns "
                                 f"of {config.env} to normalise (trirl expert evaluate writes it)")

    def normalise(returns, one=expert_random[0], zero=expert_random[1]) -> np.ndarray:
        return np.asarray(normalized_return(np.asarray(returns, np.float64), one, zero), np.float64)

    return normalise


def write_outputs(summary: dict[str, Any], out: Path, name: str, figures: dict[str, Callable], dpi: int) -> list[Path]:
    """``out/NAME.json`` (the summary) and each ``figures`` file drawn from it; their paths."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = [out / f"{name}.json"]
    write_json(written[0], summary)
    for file, draw in figures.items():
        fig = draw(summary)
        fig.savefig(out / file, dpi=dpi)
        plt.close(fig)
        written.append(out / file)
    return written


def training_curve(path: Path, normalise) -> dict[str, Any]:
    """A training run's evaluations: ``env_steps`` and normalised ``per_seed`` ``[evals][seeds]``."""
    rows = [row for row in read_metrics(path) if "eval_return_per_seed" in row]
    return {"env_steps": [row["env_steps"] for row in rows],
            "per_seed": [normalise(row["eval_return_per_seed"]).tolist() for row in rows]}


__all__ = ["PIECES_FILE", "RESULT_FILE", "StudyInterrupted", "StudyPaused", "completed", "expert_normaliser", "parse_shard",
           "portable", "run_training", "training_curve", "write_outputs", "training_record"]
