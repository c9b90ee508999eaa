"""Running a study's stages (training, retraining, transfer) into ``RUNS/<variant>/<stage>``: resume,
the shared true-reward controls and job-array shards (the study: :mod:`trirl.bench.table1`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from trirl.bench.study import RESULT_FILE, StudyInterrupted, parse_shard, run_training, training_record
from trirl.bench.study import completed as _completed
from trirl.bench.table1.spec import Study
from trirl.errors import InvalidConfigError
from trirl.rundir import CONFIG_FILE, RunDir, read_json, write_json

__all__ = ["StudyInterrupted", "control_owners", "parse_shard", "retraining_record", "run_retraining", "run_study",
           "run_training", "saved_results", "shard_variants", "training_record"]


def retraining_record(stage: str, env: str, train_path: Path, retrain_kwargs: dict[str, Any],
                      control: bool) -> dict[str, Any]:
    """What a retraining or transfer stage's ``result.json`` must record to count as done. It names
    the training stage by the hash of that stage's record (no paths: a study folder may move), so a
    retrained training invalidates it."""
    training = read_json(train_path / RESULT_FILE, "a completed stage's result (written by trirl bench table1)")["record"]
    digest = hashlib.sha256(json.dumps(training, sort_keys=True).encode()).hexdigest()[:16]
    return {"stage": stage, "env": env, "training_sha256": digest, "retrain": retrain_kwargs, "control": control}


def run_retraining(stage: str, train_path: Path, env: str, path: Path, retrain_kwargs: dict[str, Any],
                   control: bool) -> dict[str, Any]:
    """The retraining or transfer stage: :func:`~trirl.continuous.retrain.retrain` on the frozen
    rewards of ``train_path`` in ``env`` (with the true-reward control when ``control``; its record:
    :func:`retraining_record`)."""
    from trirl.continuous import evaluate

    record = retraining_record(stage, env, train_path, retrain_kwargs, control)
    done = _completed(path, record)
    if done is not None:
        return done | {"skipped": True}
    start = time.monotonic()
    # the lock: another invocation on this folder is refused while this one retrains
    with RunDir(path, record, resume=(path / CONFIG_FILE).exists()):
        run = evaluate.load_run(train_path)
        checks = evaluate.diagnose(run, path / "landscape.png") if stage == "retraining" else {}
        result = evaluate.retrain(run, env, control=control, **retrain_kwargs)
        result.update(checks, record=record, wall_clock_s=round(time.monotonic() - start, 1))
        write_json(path / RESULT_FILE, result)
    return result


def _control_key(config, env: str) -> str:
    """What a true-reward control depends on besides the spec's ``[retrain]``: env, PPO, seeds."""
    return json.dumps([env, dataclasses.asdict(config.ppo), config.env_options, config.seeds], sort_keys=True, default=str)


def control_owners(study: Study) -> dict[tuple[str, str], str]:
    """``(stage, control key) -> variant``: the variant that trains each true-reward control, the
    first in the spec that needs it (whichever variants a process runs)."""
    owners: dict[tuple[str, str], str] = {}
    for variant in study.variants.values():
        config = study.configs[variant.name]
        for stage in study.stages[1:]:
            env = study.env if stage == "retraining" else study.transfer_env
            owners.setdefault((stage, _control_key(config, env)), variant.name)
    return owners


def shard_variants(study: Study, k: int, n: int) -> tuple[str, ...]:
    """The variants of shard ``k`` of ``n``: every ``n``-th in the spec's order from the ``k``-th.

    A variant's stages stay together (retraining and transfer need its training), so the shards'
    stage sets are disjoint and together cover the study; a true-reward control is trained by the
    shard of the variant that owns it (:func:`control_owners`), never twice. Shards beyond the
    number of variants are empty."""
    return tuple(name for i, name in enumerate(study.variants) if i % n == k - 1)


def saved_results(study: Study, runs: Path) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """What the stages under ``runs`` hold, as :func:`run_study` returns it, without running anything.

    Returns:
        ``(results, missing)``: ``results`` has the variants whose every stage is complete (with its
        true-reward control's stage), in :func:`run_study`'s form; ``missing`` maps each other
        variant to the stages it lacks.

    Raises:
        InvalidConfigError: a stage was completed with another configuration than the spec's.
    """
    owners = control_owners(study)
    results: dict[str, dict[str, Any]] = {}
    missing: dict[str, list[str]] = {}
    for variant in study.variants.values():
        config = study.configs[variant.name]
        train_path = runs / variant.name / "training"
        done = _completed(train_path, training_record(config))
        if done is None:
            missing[variant.name] = list(study.stages)
            continue
        stage_results, absent = {"training": done}, []
        for stage in study.stages[1:]:
            env = study.env if stage == "retraining" else study.transfer_env
            owner = owners[(stage, _control_key(config, env))]
            record = retraining_record(stage, env, train_path, study.retrain, control=owner == variant.name)
            done = _completed(runs / variant.name / stage, record)
            if done is None:
                absent.append(stage)
            else:
                stage_results[stage] = done | {"control_from": owner}
        if absent:
            missing[variant.name] = absent
        else:
            results[variant.name] = stage_results
    for name in list(results):  # a control trained by a variant whose stage is missing
        lacking = {stage: result["control_from"] for stage, result in results[name].items()
                   if result.get("control_from", name) != name and stage in missing.get(result["control_from"], ())}
        if lacking:
            del results[name]
            missing[name] = [f"{stage} (its true-reward control, trained by {owner})" for stage, owner in lacking.items()]
    return results, missing


def run_study(study: Study, runs: Path, progress: bool = True, log=print,
              only: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Run (or skip) every stage of every variant (of the variants in ``only``, if given: several
    processes can share the work); ``{variant: {stage: result}}`` (results as saved in
    ``RUNS/<variant>/<stage>/result.json``, plus ``control_from`` for the stages that reuse
    another variant's control: the first variant in the spec that needs it, whatever ``only`` is)."""
    unknown = sorted(set(only) - set(study.variants))
    if unknown:
        raise InvalidConfigError(f"--only: unknown variant{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                                 f"the study's are {', '.join(study.variants)}")
    results: dict[str, dict[str, Any]] = {}
    controls = control_owners(study)
    for variant in study.variants.values():
        if only and variant.name not in only:
            continue
        config = study.configs[variant.name]
        stage_results = results[variant.name] = {}
        train_path = runs / variant.name / "training"
        log(f"[{variant.name}] training: {config.algo}, {config.seeds} seeds x {config.iterations} iterations -> {train_path}")
        stage_results["training"] = run_training(config, train_path, progress, log)
        for stage in study.stages[1:]:
            env = study.env if stage == "retraining" else study.transfer_env
            owner = controls[(stage, _control_key(config, env))]
            path = runs / variant.name / stage
            control = "with the true-reward control" if owner == variant.name else f"the true-reward control is {owner}'s"
            log(f"[{variant.name}] {stage} on {env} ({control}) -> {path}")
            result = run_retraining(stage, train_path, env, path, study.retrain, control=owner == variant.name)
            stage_results[stage] = result | {"control_from": owner}
        for stage, result in stage_results.items():
            if result.get("skipped"):
                log(f"[{variant.name}] {stage}: already done, skipped")
    return results

