"""The paper's Table 1 as one command: train, retrain and transfer every variant, then aggregate.

::

    trirl bench table1 [--study continuous/table1_point_maze.toml] [--runs runs/NAME]
        [--out continuous/results/NAME] [--only VARIANT,... | --shard K/N | --aggregate] [--no-progress]

A study spec (TOML, ``continuous/table1_point_maze.toml``) names the environment, the transfer
environment, the variants (a train config, optionally with ``algo`` replaced by a baseline), the
seeds and budgets, and the paper's numbers. For every variant the command runs three stages
(Section 5.1 of the paper), each into ``RUNS/<variant>/<stage>``:

``training``
    :func:`trirl.continuous.train.train`, all seeds vmapped; the score of a seed is its final
    deterministic evaluation.
``retraining``
    :func:`trirl.continuous.evaluate.retrain`: fresh PPO seeds (``[retrain] seed``) on the frozen
    learnt reward of each seed, in the training environment; before it,
    :func:`~trirl.continuous.evaluate.diagnose` (point maze: where the reward overpays, and the
    landscape figure of seed 0).
``transfer``
    the same in ``transfer_env`` (the paper: the flipped maze, the disabled Ant).

**Control.** PPO on the true reward with the same fresh seeds, budget and PPO config, in both
environments. Its result depends only on those, so it is trained once per environment and PPO
config (by the first variant that needs it, recorded as ``control_from``) and shared.

**Resume.** A stage whose ``result.json`` exists is skipped (after checking that its
configuration is the one the spec asks for now); an interrupted training stage resumes from its
newest checkpoint (:class:`trirl.rundir.RunDir`); an interrupted retraining stage restarts (it has
no checkpoints; it is minutes). Each running stage holds its run directory's lock, so two
invocations on one ``--runs`` folder refuse each other's stages; ``--only`` splits the variants
between processes (or leaves some out: the table then lists them as ``not_run``).

**Job arrays.** ``--shard K/N`` runs the K-th of N disjoint sets of stages (:func:`shard_variants`:
a variant's stages stay together, each control is trained once, by its owner's shard), one array
task each (Slurm: ``--array=1-N`` and ``--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``), all
on one shared ``--runs`` folder; then ``--aggregate`` runs nothing and builds the table from the
stages found there (:func:`saved_results`), the same table one process writes. Variants with stages
still missing are listed in ``not_run`` and ``missing_stages``, so the table accumulates over
sittings. Ctrl-C stops after the training iteration under way; running the same command
again continues.

**Aggregate.** Scores are expert-normalised returns (deterministic expert 1, uniform random
actions 0: the env's ``returns.json``, paper Table 8). Per variant and stage: the per-seed values,
their interquartile mean (IQM) and mean, each with a 95 % stratified bootstrap confidence interval
from ``rliable`` (Agarwal et al., 2021; the paper's Table 3 reports the same statistic), the
control's, and the paper's number. In the training environment the same returns are also scored
with the demonstrations' mean return as 1 (``demonstrator_normalised``): a stochastic demonstrator
scores below its own deterministic mean policy, so on that scale a policy that matches the
expert's mean scores above 1 (the paper's training values of 1.03 suggest its scale). ``--out`` gets ``NAME.json`` (also the machine, the command,
the commit, the budgets and the wall clock of every stage), ``table1.png`` (per stage, IQM with CI
per variant, every seed, the control's band and the paper's value) and ``learning_curves.png``
(paper Fig. 8 style: every seed a thin line, the IQM bold), plus ``landscape_<variant>.png`` where
:func:`~trirl.continuous.evaluate.diagnose` draws one.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import inspect
import json
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from trirl.errors import InvalidConfigError, TrirlError
from trirl.rundir import CHECKPOINT_DIR, CONFIG_FILE, RunDir, read_json, read_metrics, write_json

STAGES = ("training", "retraining", "transfer")
RESULT_FILE = "result.json"
#: retrain's parameters the study sets itself (the rest are the spec's ``[retrain]`` table)
_RETRAIN_OWN = ("config", "learner", "state", "env_name", "control")


@dataclass(frozen=True)
class Variant:
    """One row of the table: ``[variants.NAME]``.

    Attributes:
        name: the table's key (folder name under ``--runs``).
        config: a train config: a path (relative to the spec's folder or the working directory)
            or a shipped name (``trirl_point_maze_goal``).
        label: how figures and the table name it (default: ``name``).
        algo: replaces the config's ``algo`` (``gail``, ``airl``: they then take their own
            discriminator input, ``trirl.continuous.baselines.INPUT_MODE``); empty keeps it.
        paper: the ``[paper.ROW]`` this variant is compared with; empty for none.
    """

    name: str
    config: str
    label: str = ""
    algo: str = ""
    paper: str = ""

    def __post_init__(self):
        if not self.label:
            object.__setattr__(self, "label", self.name)


@dataclass(frozen=True)
class TrainBudget:
    """``[train]``: what every variant's training shares (replacing its config's values).

    Attributes:
        seeds: seeds per variant, vmapped in one process (the paper reports 20).
        seed: base seed of training (seed ``j`` uses ``split(PRNGKey(seed), seeds)[j]``).
        total_steps: environment steps per seed; 0 keeps each config's own.
        demos: the demonstrations every variant learns from: a file name in the env's shipped
            expert folder (``continuous/experts/<env>/``) or a path; empty keeps each config's own.
    """

    seeds: int = 20
    seed: int = 0
    total_steps: int = 0
    demos: str = ""

    def __post_init__(self):
        if self.seeds < 1:
            raise InvalidConfigError(f"TrainBudget.seeds must be >= 1, got {self.seeds}")
        if self.total_steps < 0:
            raise InvalidConfigError(f"TrainBudget.total_steps must be >= 0 (0: the config's own), got {self.total_steps}")


@dataclass(frozen=True)
class Study:
    """A study spec (see the module doc and ``continuous/table1_point_maze.toml``).

    Attributes:
        name: the study's name (default folders ``runs/NAME``, ``continuous/results/NAME``).
        env: the training environment; every variant's config must train on it.
        transfer_env: the environment of the transfer stage; empty: no transfer stage.
        bootstrap_reps: bootstrap replications of each confidence interval.
        train: :class:`TrainBudget`.
        retrain: keyword arguments of :func:`trirl.continuous.evaluate.retrain` (``steps``,
            ``seed``, ``eval_episodes``, ...), shared by the learnt rewards and the control.
        variants: name -> :class:`Variant` (TOML: ``[variants.NAME]`` tables, in order).
        paper: row -> stage -> ``(value, plus_minus)`` as the paper prints them.
        source: the file it was read from.
    """

    name: str
    env: str
    transfer_env: str = ""
    bootstrap_reps: int = 20_000
    train: TrainBudget = TrainBudget()
    retrain: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        from trirl.continuous.envs import ENV_NAMES

        for key in ("env", "transfer_env"):
            value = getattr(self, key)
            if (value or key == "env") and value not in ENV_NAMES:
                raise InvalidConfigError(f"Study.{key}: unknown environment {value!r}; choose one of {', '.join(ENV_NAMES)}")
        if self.bootstrap_reps < 100:
            raise InvalidConfigError(f"Study.bootstrap_reps must be >= 100, got {self.bootstrap_reps}")

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES if self.transfer_env else STAGES[:2]


def resolve_study(path: str | Path) -> Path:
    """A spec by path, or a shipped one by name (``table1_point_maze`` under ``continuous/``)."""
    from trirl.configfile import resolve_config

    return resolve_config(path, flag="--study", pattern="table*.toml", kind="study")


def load_study(path: str | Path) -> Study:
    """Read and check a study spec; every variant's train config is loaded (not run) too.

    Raises:
        InvalidConfigError: naming the file, the ``[section] key``, the value and the expected
            form (or, for a variant's train config, the variant and that file's own error).
    """
    from trirl.configfile import build_config

    path = resolve_study(path)
    source = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InvalidConfigError(f"--study {path}: not valid TOML ({err})") from None
    if "name" not in data or "env" not in data:
        missing = [key for key in ("name", "env") if key not in data]
        raise InvalidConfigError(f"{source}: {', '.join(missing)} missing; expected e.g. name = \"table1_point_maze\", "
                                 f"env = \"point_maze\" at the top of the file")
    study = dataclasses.replace(build_config(Study, data, source, skip=("source",)), source=source)
    variants = _variants(study.variants, source)
    retrain = _retrain_kwargs(study.retrain, source)
    paper = _paper(study.paper, source)
    for variant in variants.values():
        if variant.paper and variant.paper not in paper:
            raise InvalidConfigError(f"{source}: [variants.{variant.name}] paper = {variant.paper!r}: no [paper.{variant.paper}] "
                                     f"table; the rows are {', '.join(paper) or 'none'}")
    study = dataclasses.replace(study, variants=variants, retrain=retrain, paper=paper)
    for variant in variants.values():
        train_config(study, variant)  # every config error before anything runs
    return study


def _variants(tables: dict[str, Any], source: str) -> dict[str, Variant]:
    from trirl.configfile import build_config

    if not tables:
        raise InvalidConfigError(f"{source}: no [variants.NAME] table; expected at least one, e.g. "
                                 f"[variants.trirl] with config = \"trirl_point_maze_goal\"")
    variants = {}
    for name, table in tables.items():
        section = f"variants.{name}"
        if not isinstance(table, dict):
            raise InvalidConfigError(f"{source}: variants.{name} = {table!r}: expected a table [{section}]")
        if "config" not in table:
            raise InvalidConfigError(f"{source}: [{section}] config missing; expected a train config path or shipped name")
        if "name" in table:
            raise InvalidConfigError(f"{source}: [{section}] name: unknown key (the table's name is the variant's)")
        variants[name] = build_config(Variant, {**table, "name": name}, source, section=section)
    return variants


def _retrain_kwargs(table: dict[str, Any], source: str) -> dict[str, Any]:
    from trirl.continuous import evaluate

    parameters = {name: p.default for name, p in inspect.signature(evaluate.retrain).parameters.items()
                  if name not in _RETRAIN_OWN}
    unknown = sorted(set(table) - set(parameters))
    if unknown:
        raise InvalidConfigError(f"{source}: [retrain] unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                                 f"the known keys are {', '.join(sorted(parameters))} (trirl.continuous.evaluate.retrain)")
    kwargs = {}
    for key, value in table.items():
        default = parameters[key]
        kind = type(default) if default is not None and default is not inspect.Parameter.empty else None
        ok = kind is None or isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            expected = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(kind, kind.__name__)
            raise InvalidConfigError(f"{source}: [retrain] {key} = {value!r}: expected {expected}")
        if kind is int and key in ("steps", "eval_episodes") and value < 1:
            raise InvalidConfigError(f"{source}: [retrain] {key} = {value!r}: expected an integer >= 1")
        kwargs[key] = value
    return kwargs


def _paper(tables: dict[str, Any], source: str) -> dict[str, dict[str, list[float]]]:
    paper = {}
    for row, table in tables.items():
        if not isinstance(table, dict):
            raise InvalidConfigError(f"{source}: paper.{row} = {table!r}: expected a table [paper.{row}]")
        unknown = sorted(set(table) - set(STAGES))
        if unknown:
            raise InvalidConfigError(f"{source}: [paper.{row}] unknown key {', '.join(unknown)}; the stages are {', '.join(STAGES)}")
        for stage, value in table.items():
            if not (isinstance(value, list) and len(value) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise InvalidConfigError(f"{source}: [paper.{row}] {stage} = {value!r}: expected [value, plus_minus], "
                                         f"two numbers as the paper prints them")
        paper[row] = {stage: [float(v) for v in value] for stage, value in table.items()}
    return paper


def study_demos(study: Study) -> Path:
    """``[train] demos`` as a file: a path, or a name in ``continuous/experts/<env>/``.

    Raises:
        InvalidConfigError: naming ``[train] demos`` and the study file when neither exists.
    """
    from trirl.continuous.train import EXPERTS_DIR

    given = Path(study.train.demos)
    for path in (given, EXPERTS_DIR / study.env / given):
        if path.is_file():
            return path
    raise InvalidConfigError(f"{study.source}: [train] demos = {study.train.demos!r}: no such file, "
                             f"and none in {EXPERTS_DIR / study.env}")


def train_config(study: Study, variant: Variant):
    """The :class:`~trirl.continuous.train.TrainConfig` of a variant, with the study's budget."""
    from trirl.continuous import baselines, train

    overrides: dict[str, Any] = {"seeds": study.train.seeds, "seed": study.train.seed}
    if study.train.total_steps:
        overrides["total_steps"] = study.train.total_steps
    if study.train.demos:
        overrides["demos"] = str(study_demos(study))
    if variant.algo:
        overrides["algo"] = variant.algo
        if baselines.input_mode(variant.algo):  # the baseline's own input, whatever the config says
            overrides["discriminator"] = {"input_mode": baselines.input_mode(variant.algo)}
    where = f"{study.source}: [variants.{variant.name}]"
    beside = Path(study.source).parent / variant.config  # a config next to the spec file
    try:
        config = train.load_config(beside if beside.is_file() else variant.config, **overrides)
    except InvalidConfigError as err:
        raise InvalidConfigError(f"{where} config = {variant.config!r} (algo = {variant.algo or 'its own'}): {err}") from None
    if config.env != study.env:
        raise InvalidConfigError(f"{where} config = {variant.config!r} trains on {config.env!r}, but the study's env is {study.env!r}")
    return config


# -- running the stages ----------------------------------------------------------------------------


class StudyInterrupted(Exception):
    """Ctrl-C stopped a stage; completed stages (and a training stage's checkpoint) are kept."""


def _completed(path: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The stage's saved result if it is complete and was made with ``record``; ``None`` if not run.

    Raises:
        InvalidConfigError: the stage was completed with another configuration.
    """
    result_path = path / RESULT_FILE
    if not result_path.exists():
        return None
    result = read_json(result_path, "a completed stage's result (written by trirl bench table1)")
    saved = result.get("record", {})
    record = json.loads(json.dumps(record))  # the JSON form (tuples as lists)
    differ = sorted(k for k in set(saved) | set(record) if saved.get(k) != record.get(k))
    if differ:
        raise InvalidConfigError(
            f"{path} was completed with another configuration ({', '.join(f'{k}: {saved.get(k)!r} -> {record.get(k)!r}' for k in differ)}); "
            f"delete that folder to redo the stage, or choose another --runs folder")
    return result


def training_record(config) -> dict[str, Any]:
    """What a training stage's ``result.json`` must record to count as done: its whole config."""
    return {"stage": "training", "config": config.to_dict()}


def retraining_record(stage: str, env: str, train_path: Path, retrain_kwargs: dict[str, Any],
                      control: bool) -> dict[str, Any]:
    """What a retraining or transfer stage's ``result.json`` must record to count as done. It names
    the training stage by the hash of that stage's record (no paths: a study folder may move), so a
    retrained training invalidates it."""
    training = read_json(train_path / RESULT_FILE, "a completed stage's result (written by trirl bench table1)")["record"]
    digest = hashlib.sha256(json.dumps(training, sort_keys=True).encode()).hexdigest()[:16]
    return {"stage": stage, "env": env, "training_sha256": digest, "retrain": retrain_kwargs, "control": control}


def run_training(config, path: Path, progress: bool, log=print) -> dict[str, Any]:
    """The training stage: train (or resume) ``config`` into ``path``; its per-seed final scores."""
    from trirl.continuous import train

    record = training_record(config)
    done = _completed(path, record)
    if done is not None:
        return done | {"skipped": True}
    start = time.monotonic()
    resume = (path / CONFIG_FILE).exists()
    if resume:
        saved = sorted((path / CHECKPOINT_DIR).glob("step_*.npz"))
        log(f"  resuming {path} from iteration {int(saved[-1].stem.split('_')[1]) if saved else 0}")
    summary = train.train(config, path, resume=resume, progress=progress)
    if summary["status"] != "done":
        raise StudyInterrupted(f"training of {path} stopped at iteration {summary['iterations']} (checkpoint kept)")
    rows = read_metrics(path)
    evals = [row for row in rows if "eval_return_per_seed" in row]
    if not evals or rows[-1].get("iteration") != config.iterations:
        raise InvalidConfigError(f"{path}: the training run ended without its final evaluation; delete the folder and rerun")
    result = {"record": record, "returns": evals[-1]["eval_return_per_seed"], "iterations": config.iterations,
              "env_steps": config.iterations * config.ppo.batch_size, "wall_clock_s": round(time.monotonic() - start, 1)}
    write_json(path / RESULT_FILE, result)
    return result


def run_retraining(stage: str, train_path: Path, env: str, path: Path, retrain_kwargs: dict[str, Any],
                   control: bool) -> dict[str, Any]:
    """The retraining or transfer stage: :func:`~trirl.continuous.evaluate.retrain` on the frozen
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
        config, learner, state = evaluate.load_run(train_path)
        checks = evaluate.diagnose(config, learner, state, path / "landscape.png") if stage == "retraining" else {}
        result = evaluate.retrain(config, learner, state, env, control=control, **retrain_kwargs)
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
        config = train_config(study, variant)
        for stage in study.stages[1:]:
            env = study.env if stage == "retraining" else study.transfer_env
            owners.setdefault((stage, _control_key(config, env)), variant.name)
    return owners


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
        config = train_config(study, variant)
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
        config = train_config(study, variant)
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


# -- the aggregate -------------------------------------------------------------------------------


def interval_estimates(scores: dict[str, np.ndarray], reps: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """IQM and mean of each ``scores[key]`` (``[runs]``) with 95 % stratified bootstrap CIs
    (``rliable.library.get_interval_estimates`` with ``rliable.metrics.aggregate_iqm`` and
    ``aggregate_mean``, percentile intervals, ``reps`` replications; each key's from its own
    generator seeded with ``seed``, so a CI does not change when other keys are added)."""
    from rliable import library, metrics

    def iqm_and_mean(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

    estimates = {}
    for key, values in scores.items():  # seeded per key: a CI does not depend on the other keys
        # rliable's StratifiedBootstrap.update_indices draws from the global np.random and ignores
        # random_state (rliable 1.2), so the global generator is seeded for the call and restored
        saved = np.random.get_state()
        np.random.seed(seed)
        try:
            with warnings.catch_warnings():  # rliable hands arch a RandomState, which arch deprecates
                warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
                point, interval = library.get_interval_estimates(
                    {key: np.asarray(values, np.float64).reshape(-1, 1)}, iqm_and_mean, reps=reps,
                    random_state=np.random.RandomState(seed))
        finally:
            np.random.set_state(saved)
        estimates[key] = {"iqm": float(point[key][0]), "iqm_ci": [float(x) for x in interval[key][:, 0]],
                          "mean": float(point[key][1]), "mean_ci": [float(x) for x in interval[key][:, 1]]}
    return estimates


def _saved_result(path: Path) -> dict[str, Any]:
    """A completed stage's ``result.json`` (a control trained by a variant that ``--only`` left out)."""
    if not (path / RESULT_FILE).exists():
        raise InvalidConfigError(f"{path} holds no completed stage, and its true-reward control is needed: "
                                 f"run that variant too (--only)")
    return read_json(path / RESULT_FILE, "a completed stage's result (written by trirl bench table1)")


def _curve(path: Path, normalise) -> dict[str, Any]:
    """The training run's evaluations: ``env_steps`` and expert-normalised ``per_seed`` ``[evals][seeds]``."""
    rows = [row for row in read_metrics(path) if "eval_return_per_seed" in row]
    return {"env_steps": [row["env_steps"] for row in rows],
            "per_seed": [normalise(row["eval_return_per_seed"]).tolist() for row in rows]}


def aggregate(study: Study, results: dict[str, dict[str, Any]], runs: Path) -> dict[str, Any]:
    """The study's table (module doc): per variant and stage the per-seed expert-normalised values,
    IQM and mean with CIs, the control's and the paper's; per variant the training curves."""
    from trirl.continuous.evaluation import normalized_return
    from trirl.continuous.demos import load_demonstrations
    from trirl.continuous.train import load_expert_returns

    scores, variants = {}, {}
    for variant in study.variants.values():
        if variant.name not in results:  # left out by --only
            continue
        config = train_config(study, variant)
        expert_random = load_expert_returns(config.expert_returns_file)
        if expert_random is None:
            raise InvalidConfigError(f"{config.expert_returns_file} does not exist: the table needs expert and random returns "
                                     f"of {config.env} to normalise (trirl expert evaluate writes it)")

        def normalise(returns, one=expert_random[0], zero=expert_random[1]):
            return np.asarray(normalized_return(np.asarray(returns, np.float64), one, zero), np.float64)

        # The demonstrations' own mean return as 1 (same env only): a score the paper's > 1 training
        # values suggest (a stochastic demonstrator scores below its deterministic mean policy).
        demonstrations_return = float(np.mean(load_demonstrations(config.demos_file).returns))

        stages = {}
        for stage in study.stages:
            result = results[variant.name][stage]
            stages[stage] = {"returns": result["returns"], "values": normalise(result["returns"]).tolist(),
                             "env": result.get("env", config.env), "env_steps": result["env_steps"],
                             "wall_clock_s": result.get("wall_clock_s"), "run": str(runs / variant.name / stage),
                             "paper": study.paper.get(variant.paper, {}).get(stage)}
            scores[f"{variant.name}/{stage}"] = stages[stage]["values"]
            if demonstrations_return is not None and stages[stage]["env"] == config.env:
                stages[stage]["demonstrator_normalised"] = {
                    "demonstrations_return": demonstrations_return,
                    "values": normalise(result["returns"], one=demonstrations_return).tolist()}
                scores[f"{variant.name}/{stage}/demonstrator"] = stages[stage]["demonstrator_normalised"]["values"]
            if stage != "training":
                owner = result["control_from"]
                control = results.get(owner, {}).get(stage) or _saved_result(runs / owner / stage)
                stages[stage]["control"] = {"from": owner, "returns": control["control_returns"],
                                            "values": normalise(control["control_returns"]).tolist()}
                scores[f"control:{owner}/{stage}"] = stages[stage]["control"]["values"]
                if "landscape_check" in result:
                    shares = [check["share"] for check in result["landscape_check"]]
                    stages[stage]["overpaying_share"] = {"per_seed": shares, "median": float(np.median(shares))}
        variants[variant.name] = {"label": variant.label, "config": variant.config, "algo": config.algo,
                                  "paper_row": variant.paper or None, "stages": stages,
                                  "curve": _curve(runs / variant.name / "training", normalise)}
    estimates = interval_estimates(scores, study.bootstrap_reps)
    for name, entry in variants.items():
        for stage, values in entry["stages"].items():
            values.update(estimates[f"{name}/{stage}"])
            if "demonstrator_normalised" in values:
                values["demonstrator_normalised"].update(estimates[f"{name}/{stage}/demonstrator"])
            if "control" in values:
                values["control"].update(estimates[f"control:{values['control']['from']}/{stage}"])
    return {"study": study.name, "spec": study.source, "env": study.env, "transfer_env": study.transfer_env or None,
            "stages": list(study.stages), "order": list(variants),
            "not_run": [name for name in study.variants if name not in variants], "seeds": study.train.seeds, "train": dataclasses.asdict(study.train),
            "retrain": study.retrain, "bootstrap_reps": study.bootstrap_reps, "paper": study.paper,
            "normalisation": "expert-normalised return (R - R_random) / (R_expert - R_random): the deterministic expert "
                             "= 1, uniform random actions = 0 (the training env's returns.json, also for the transfer env); "
                             "demonstrator_normalised (training env only): the demonstrations' mean return = 1 instead",
            "variants": variants}


# -- figures ---------------------------------------------------------------------------------------

IQM_LABEL = "ours: IQM, 95 % CI"
MEAN_LABEL = "ours: mean"
SEEDS_LABEL = "ours: each seed"
CONTROL_LABEL = "PPO on the true reward: IQM, 95 % CI"
PAPER_LABEL = "paper, Table 1 (value +- as printed)"
CURVE_IQM_LABEL = "IQM over seeds"
STAGE_TITLES = {"training": "training", "retraining": "retraining (frozen reward, new seeds)", "transfer": "transfer"}


def plot_table(summary: dict[str, Any]):
    """The Table-1 figure: one panel per stage; per variant the seeds (dots), the IQM with its
    95 % CI (error bar), the mean, the paper's value and the control's IQM and CI (grey band)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = summary["order"]
    labels = [summary["variants"][n]["label"] for n in names]
    xs = np.arange(len(names), dtype=float)
    stages = summary["stages"]
    fig, axes = plt.subplots(1, len(stages), figsize=(1.2 * len(names) * len(stages) + 2, 4.6), sharey=True, squeeze=False)
    rng = np.random.default_rng(0)
    for ax, stage in zip(axes[0], stages):
        rows = [summary["variants"][n]["stages"][stage] for n in names]
        for x, row in zip(xs, rows):
            if "control" in row:
                control = row["control"]
                lo, hi = control["iqm_ci"]
                ax.add_patch(matplotlib.patches.Rectangle((x - 0.42, lo), 0.84, max(hi - lo, 1e-3), color="0.6", alpha=0.3,
                                                          lw=0))
                ax.hlines(control["iqm"], x - 0.42, x + 0.42, colors="0.45", linestyles="--",
                          label=CONTROL_LABEL if x == xs[0] else None)
            values = np.asarray(row["values"])
            ax.scatter(x - 0.12 + 0.08 * rng.uniform(-1, 1, values.size), values, s=9, color="tab:blue", alpha=0.35,
                       label=SEEDS_LABEL if x == xs[0] else None)
        iqm = np.array([row["iqm"] for row in rows])
        ci = np.array([row["iqm_ci"] for row in rows])
        ax.errorbar(xs, iqm, yerr=[iqm - ci[:, 0], ci[:, 1] - iqm], fmt="o", color="black", capsize=4, label=IQM_LABEL)
        ax.scatter(xs + 0.12, [row["mean"] for row in rows], marker="D", facecolors="none", edgecolors="tab:blue",
                   label=MEAN_LABEL)
        paper = [(x, row["paper"]) for x, row in zip(xs, rows) if row.get("paper")]
        if paper:
            ax.errorbar([x + 0.25 for x, _ in paper], [p[0] for _, p in paper], yerr=[p[1] for _, p in paper], fmt="*",
                        color="tab:red", markersize=10, capsize=3, label=PAPER_LABEL)
        ax.axhline(1.0, color="green", lw=0.8, ls=":", label="expert (1)")
        ax.axhline(0.0, color="0.3", lw=0.8, ls=":", label="uniform random actions (0)")
        env = next((row["env"] for row in rows), "")
        ax.set_title(f"{STAGE_TITLES.get(stage, stage)}\non {env}")
        ax.set_xticks(xs, labels, rotation=25, ha="right")
        ax.set_xlabel("variant")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("expert-normalised return")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:  # the paper's marker may be in a later panel only
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize="small", frameon=False)
    fig.suptitle(f"{summary['study']}: {summary['env']}, {summary['seeds']} seeds per variant, "
                 f"IQM with 95 % stratified bootstrap CI (rliable)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def plot_curves(summary: dict[str, Any]):
    """All-seed training curves (paper Fig. 8 style): a panel per variant, every seed's evaluation
    a thin line (``gid`` ``seed J``), the IQM over seeds bold."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = summary["order"]
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.5 * rows), sharey=True, squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        entry = summary["variants"][name]
        x = np.asarray(entry["curve"]["env_steps"])
        per_seed = np.asarray(entry["curve"]["per_seed"]).reshape(len(x), -1)
        for j in range(per_seed.shape[1]):
            (line,) = ax.plot(x, per_seed[:, j], lw=0.7, alpha=0.45, color="tab:blue",
                              label=f"each seed (n = {per_seed.shape[1]})" if j == 0 else None)
            line.set_gid(f"seed {j}")
        iqm = [float(interval_estimates_iqm(v)) for v in per_seed]
        ax.plot(x, iqm, lw=2.5, color="black", label=CURVE_IQM_LABEL)
        ax.axhline(1.0, color="green", lw=0.8, ls=":", label="expert (1)")
        ax.set_title(f"{entry['label']} ({entry['algo']})")
        ax.set_xlabel("environment steps per seed")
        ax.set_ylabel("expert-normalised evaluation return")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="lower right")
    fig.suptitle(f"{summary['study']}: training curves on {summary['env']}, every seed (paper Fig. 8 style)")
    fig.tight_layout()
    return fig


def interval_estimates_iqm(values) -> float:
    """The IQM of one set of runs, as rliable computes it (25 % trimmed mean)."""
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(values, np.float64), proportiontocut=0.25, axis=None))


def write_outputs(summary: dict[str, Any], runs: Path, out: Path) -> list[Path]:
    """``out/NAME.json``, ``table1.png``, ``learning_curves.png`` and the landscapes; their paths."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = [out / f"{summary['study']}.json"]
    write_json(written[0], summary)
    for name, draw in (("table1.png", plot_table), ("learning_curves.png", plot_curves)):
        fig = draw(summary)
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written.append(out / name)
    for variant in summary["variants"]:
        landscape = runs / variant / "retraining" / "landscape.png"
        if landscape.exists():
            shutil.copyfile(landscape, out / f"landscape_{variant}.png")
            written.append(out / f"landscape_{variant}.png")
    return written


def format_table(summary: dict[str, Any]) -> str:
    """The table as text: per variant and stage IQM [95 % CI], the control's IQM and the paper's."""
    lines = [f"{summary['study']}: expert-normalised return, IQM [95 % CI] over {summary['seeds']} seeds "
             f"(control: PPO on the true reward; paper: Table 1)"]
    for entry in (summary["variants"][name] for name in summary["order"]):
        cells = []
        for stage in summary["stages"]:  # the paper's order (a reloaded JSON has its keys sorted)
            row = entry["stages"][stage]
            cell = f"{stage} {row['iqm']:.2f} [{row['iqm_ci'][0]:.2f}, {row['iqm_ci'][1]:.2f}]"
            if "control" in row:
                cell += f" (control {row['control']['iqm']:.2f})"
            if "demonstrator_normalised" in row:
                cell += f" (demonstrations = 1: {row['demonstrator_normalised']['iqm']:.2f})"
            if row.get("paper"):
                cell += f" (paper {row['paper'][0]:.2f} +- {row['paper'][1]:g})"
            cells.append(cell)
        lines.append(f"  {entry['label']:<24} " + "; ".join(cells))
    return "\n".join(lines)


def _commit() -> str | None:
    """``git describe --always --dirty`` of the checkout this module is in (None outside one)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=Path(__file__).parent,
                              capture_output=True, text=True, timeout=30, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _describe(missing: dict[str, list[str]]) -> str:
    return "; ".join(f"{name}: {', '.join(stages)}" for name, stages in missing.items()) or "none"


def main(argv: list[str] | None = None) -> int:
    from trirl.continuous import compile_cache
    from trirl.continuous.evaluate import machine
    from trirl.continuous.train import NonFiniteError

    parser = argparse.ArgumentParser(prog="trirl bench table1", description=__doc__.split("\n")[0])
    parser.add_argument("--study", default="table1_point_maze",
                        help="study spec: a path or a shipped name (continuous/table1_point_maze.toml)")
    parser.add_argument("--runs", help="folder of the stages' run directories (default runs/NAME)")
    parser.add_argument("--out", help="folder of the JSON and figures (default continuous/results/NAME)")
    parser.add_argument("--only", help="comma-separated variants: run only their stages and write their table "
                                       "(processes sharing the work each get another --out; the JSON lists the rest "
                                       "as not_run)")
    parser.add_argument("--shard", metavar="K/N",
                        help="run only the K-th of N disjoint sets of stages (every N-th variant from the K-th, "
                             "with their retraining, transfer and the controls they own), for a job array; "
                             "then one --aggregate call builds the table")
    parser.add_argument("--aggregate", action="store_true",
                        help="run nothing: build the table from the stages that --runs holds (what the shards "
                             "wrote); variants with missing stages are listed, not scored")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    compile_cache.add_arguments(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    given = [flag for flag, value in (("--only", args.only), ("--shard", args.shard), ("--aggregate", args.aggregate))
             if value]
    if len(given) > 1:
        parser.error(f"{' and '.join(given)} exclude each other: --only and --shard choose the stages a process "
                     f"runs, --aggregate runs none")
    compile_cache.from_args(args)
    command = shlex.join(["trirl", "bench", "table1", *argv])
    start, date = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    missing: dict[str, list[str]] = {}
    try:
        shard = parse_shard(args.shard) if args.shard else None
        study = load_study(args.study)
        runs = Path(args.runs or Path("runs") / study.name)
        out = Path(args.out or Path("continuous") / "results" / study.name)
        if args.aggregate:
            results, missing = saved_results(study, runs)
            if not results:
                raise InvalidConfigError(f"--aggregate: {runs} holds no variant with every stage complete "
                                         f"(missing: {_describe(missing)}); run the shards first")
        elif shard:
            only = shard_variants(study, *shard)
            print(f"shard {shard[0]}/{shard[1]}: {', '.join(only) or 'no variant (more shards than variants)'}")
            if only:  # an empty `only` would mean every variant
                run_study(study, runs, progress=not args.no_progress, only=only)
            print(f"shard {shard[0]}/{shard[1]} done. When every shard is, build the table with:\n"
                  f"  {shlex.join(['trirl', 'bench', 'table1', '--study', args.study, '--runs', str(runs), '--aggregate'])}")
            return 0
        else:
            only = tuple(name.strip() for name in args.only.split(",") if name.strip()) if args.only else ()
            results = run_study(study, runs, progress=not args.no_progress, only=only)
        summary = aggregate(study, results, runs)
    except (StudyInterrupted, KeyboardInterrupt) as err:
        detail = f" ({err})" if str(err) else ""
        print(f"\ntrirl bench table1: interrupted{detail}; completed stages are kept, an interrupted training "
              f"resumes from its checkpoint and an interrupted retraining restarts.\ncontinue with: {command}",
              file=sys.stderr)
        return 130
    except (TrirlError, NonFiniteError, FloatingPointError) as err:
        print(f"trirl bench table1: error: {err}", file=sys.stderr)
        return 2
    if missing:
        print(f"trirl bench table1: not in the table, stages missing: {_describe(missing)}", file=sys.stderr)
    summary.update(missing_stages=missing, command=command, commit=_commit(), date=date, machine=machine(), runs=str(runs),
                   wall_clock_s=round(time.monotonic() - start, 1),
                   stage_wall_clock_s_total=round(sum(row.get("wall_clock_s") or 0 for entry in summary["variants"].values()
                                                      for row in entry["stages"].values()), 1))
    written = write_outputs(summary, runs, out)
    print(format_table(summary))
    print("wrote " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
