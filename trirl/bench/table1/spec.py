"""A Table 1 study spec (``continuous/table1_*.toml``): its dataclasses, reading and checking it, and
each variant's :class:`~trirl.continuous.train.TrainConfig` with the study's budget (the stages:
:mod:`trirl.bench.table1.stages`)."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trirl.errors import InvalidConfigError

STAGES = ("training", "retraining", "transfer")


@dataclass(frozen=True)
class Variant:
    """One row of the table: ``[variants.NAME]``.

    Attributes:
        name: the table's key (folder name under ``--runs``).
        config: a train config: a path (relative to the spec's folder or the working directory)
            or a shipped name (``trirl_point_maze_goal``).
        label: how figures and the table name it (default: ``name``).
        algo: replaces the config's ``algo`` (``gail``, ``airl``: they then take their own
            discriminator input, ``trirl.continuous.baselines.input_mode``); empty keeps it.
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
        retrain: keyword arguments of :func:`trirl.continuous.retrain.retrain` (``steps``,
            ``seed``, ``eval_episodes``, ...), shared by the learnt rewards and the control.
        variants: name -> :class:`Variant` (TOML: ``[variants.NAME]`` tables, in order).
        paper: row -> stage -> ``(value, plus_minus)`` as the paper prints them.
        source: the file it was read from.
        configs: variant name -> its :class:`~trirl.continuous.train.TrainConfig` with the study's
            budget (:func:`train_config`), built once by :func:`load_study` and used by every stage.
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
    configs: dict[str, Any] = field(default_factory=dict)

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
    from trirl.configfile import build_config, read_config

    path, data = read_config(resolve_study(path), flag="--study")  # the one TOML reader
    source = str(path)
    if "name" not in data or "env" not in data:
        missing = [key for key in ("name", "env") if key not in data]
        raise InvalidConfigError(f"{source}: {', '.join(missing)} missing; expected e.g. name = \"table1_point_maze\", "
                                 f"env = \"point_maze\" at the top of the file")
    study = dataclasses.replace(build_config(Study, data, source, skip=("source", "configs")), source=source)
    variants = _variants(study.variants, source)
    retrain = _retrain_kwargs(study.retrain, source)
    paper = _paper(study.paper, source)
    for variant in variants.values():
        if variant.paper and variant.paper not in paper:
            raise InvalidConfigError(f"{source}: [variants.{variant.name}] paper = {variant.paper!r}: no [paper.{variant.paper}] "
                                     f"table; the rows are {', '.join(paper) or 'none'}")
    study = dataclasses.replace(study, variants=variants, retrain=retrain, paper=paper)
    # every config error before anything runs; the configs are built here once
    return dataclasses.replace(study, configs={name: train_config(study, variant) for name, variant in variants.items()})


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
    """``[retrain]`` as keyword arguments of :func:`trirl.continuous.retrain.retrain`, each checked by
    its rule (:data:`trirl.continuous.retrain.RETRAIN_OPTIONS`); whole numbers given for a float
    option become floats."""
    from trirl.continuous.retrain import RETRAIN_OPTIONS, retrain, retrain_option_problem

    unknown = sorted(set(table) - set(RETRAIN_OPTIONS))
    if unknown:
        raise InvalidConfigError(f"{source}: [retrain] unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                                 f"the known keys are {', '.join(sorted(RETRAIN_OPTIONS))} (trirl.continuous.retrain.retrain)")
    defaults = inspect.signature(retrain).parameters
    kwargs = {}
    for key, given in table.items():
        whole = isinstance(given, int) and not isinstance(given, bool)
        value = float(given) if whole and isinstance(defaults[key].default, float) else given
        expected = retrain_option_problem(key, value)
        if expected:
            raise InvalidConfigError(f"{source}: [retrain] {key} = {given!r}: expected {expected}")
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

