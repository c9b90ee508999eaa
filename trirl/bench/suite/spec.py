"""A suite spec (``continuous/suite_*.toml``): tasks x methods, read by :mod:`trirl.configfile`'s
reader and checked before anything runs; each stage's :class:`~trirl.continuous.train.TrainConfig`
with the task's budget, or the reason it cannot run (no expert, no features)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trirl.errors import InvalidConfigError

#: the algorithms a method may name (:data:`trirl.continuous.train.ALGOS`)
METHOD_ALGOS = ("trirl", "trirl-tr-loss", "gail", "airl", "amp")


@dataclass(frozen=True)
class Task:
    """One environment of the suite: ``[tasks.NAME]``.

    Attributes:
        name: the table's key (folder ``RUNS/<task>/``).
        config: the train config every method starts from (a path, relative to the spec's folder
            or the working directory, or a shipped name): its policy, PPO, discriminator and
            buffer; the suite replaces ``env``, the seeds, the budget and the demonstrations.
        total_steps: environment steps per seed, the same for every method on this task.
        env: the environment (default: ``name``).
        demos: the demonstrations: a file name in ``continuous/experts/<env>/`` or a path.
        features: the base-feature set of the feature-based methods (``ant:paper``); empty: the
            task has none, and those methods are listed as missing on it.
        paper: the task's column name in the ``[paper.ROW]`` tables (``Ant``); empty: none.
        label: how figures name it (default: ``name``).
        note: what a reader must know about its results (an old environment, a weak expert).
        methods: the methods that run on it (a control task's few); empty: every method.
        aggregate: whether its scores enter the aggregates over tasks; ``false`` for a control
            (the same environment again with other demonstrations), shown per task only.
    """

    name: str
    config: str
    total_steps: int
    env: str = ""
    demos: str = "demos.npz"
    features: str = ""
    paper: str = ""
    label: str = ""
    note: str = ""
    methods: tuple[str, ...] = ()
    aggregate: bool = True

    def __post_init__(self):
        for key, default in (("env", self.name), ("label", self.name)):
            if not getattr(self, key):
                object.__setattr__(self, key, default)
        if self.total_steps < 1:
            raise InvalidConfigError(f"Task.total_steps must be >= 1, got {self.total_steps}")


@dataclass(frozen=True)
class Method:
    """One algorithm of the suite: ``[methods.NAME]``.

    Attributes:
        name: the table's key (folder ``RUNS/<task>/<method>``).
        algo: one of :data:`METHOD_ALGOS`; GAIL, AIRL and AMP take their own discriminator input
            (:func:`trirl.continuous.baselines.input_mode`).
        features: the feature-based variant: a discriminator linear in the task's ``features``.
        input_mode: the discriminator's (and TRIRL's reward's) input, ``"state_action"`` for
            ``(s, a)`` or ``"state_transition"`` for ``(s, s')``
            (:data:`trirl.continuous.discriminator.INPUT_MODES`); empty: the algorithm's own
            (AIRL's and AMP's ``(s, s')``, GAIL's ``(s, a)``) or else the task's config's.
        label: how figures name it (default: ``name``).
        paper: the ``[paper.ROW]`` this method is compared with; empty: none.
    """

    name: str
    algo: str
    features: bool = False
    input_mode: str = ""
    label: str = ""
    paper: str = ""

    def __post_init__(self):
        from trirl.continuous.baselines import input_mode
        from trirl.continuous.discriminator import INPUT_MODES

        if not self.label:
            object.__setattr__(self, "label", self.name)
        if self.algo not in METHOD_ALGOS:
            raise InvalidConfigError(f"Method.algo: unknown algorithm {self.algo!r}; choose one of {', '.join(METHOD_ALGOS)}")
        if self.features and not self.algo.startswith("trirl"):
            raise InvalidConfigError(f"Method.features: only TRIRL has a feature-based variant, got algo = {self.algo!r}")
        if self.input_mode and self.input_mode not in INPUT_MODES:
            raise InvalidConfigError(f"Method.input_mode: unknown input {self.input_mode!r}; choose one of "
                                     f"{', '.join(INPUT_MODES)} (or leave it out for the algorithm's own)")
        if self.features and self.input_mode not in ("", "state_action"):
            raise InvalidConfigError(f"Method.input_mode = {self.input_mode!r}: the feature-based variant is linear in "
                                     f"base features phi(s, a); leave input_mode out or set it to 'state_action'")
        if self.input_mode:
            input_mode(self.algo, self.input_mode)  # AIRL's and AMP's input is fixed by the method


@dataclass(frozen=True)
class SuiteSeeds:
    """``[train]``: what every stage shares.

    Attributes:
        seeds: seeds per stage, vmapped in one process (>= 5 for a reported study).
        seed: base seed (seed ``j`` uses ``split(PRNGKey(seed), seeds)[j]``).
    """

    seeds: int = 5
    seed: int = 0

    def __post_init__(self):
        if self.seeds < 1:
            raise InvalidConfigError(f"SuiteSeeds.seeds must be >= 1, got {self.seeds}")


@dataclass(frozen=True)
class Suite:
    """A suite spec (module doc of :mod:`trirl.bench.suite`; ``continuous/suite_cpu.toml``).

    Attributes:
        name: the study's name (default folders ``runs/NAME``, ``continuous/results/NAME``).
        reference: the method whose probability of improvement over each other is reported
            (default: the first).
        bootstrap_reps: bootstrap replications of each confidence interval.
        train: :class:`SuiteSeeds`.
        tasks: name -> :class:`Task` (TOML ``[tasks.NAME]``, in order).
        methods: name -> :class:`Method` (TOML ``[methods.NAME]``, in order).
        paper: row -> task column -> ``(value, plus_minus)`` as the paper prints them.
        source: the file it was read from.
        configs: ``"task/method"`` -> its train config (every stage but a feature-based method on
            a task without features).
        unavailable: ``"task/method"`` -> why that stage cannot run (no expert yet, no features).
    """

    name: str
    reference: str = ""
    bootstrap_reps: int = 20_000
    train: SuiteSeeds = SuiteSeeds()
    tasks: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    configs: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.bootstrap_reps < 100:
            raise InvalidConfigError(f"Suite.bootstrap_reps must be >= 100, got {self.bootstrap_reps}")

    @property
    def stages(self) -> tuple[str, ...]:
        """Every ``"task/method"`` (a task's ``methods`` where it names some), tasks in the
        spec's order, then methods."""
        return tuple(f"{task}/{method}" for task, entry in self.tasks.items() for method in self.methods
                     if not entry.methods or method in entry.methods)


def resolve_suite(path: str | Path) -> Path:
    """A spec by path, or a shipped one by name (``suite_cpu`` under ``continuous/``)."""
    from trirl.configfile import resolve_config

    return resolve_config(path, flag="SPEC", pattern="suite*.toml", kind="suite spec")


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite spec; every stage's train config is built (not run) too.

    Raises:
        InvalidConfigError: naming the file, the ``[section] key``, the value and the expected
            form (or, for a stage's train config, the task, the method and that file's own error).
    """
    from trirl.configfile import build_config, read_config

    path, data = read_config(resolve_suite(path), flag="SPEC")  # the one TOML reader
    source = str(path)
    if "name" not in data:
        raise InvalidConfigError(f"{source}: name missing; expected e.g. name = \"suite_cpu\" at the top of the file")
    suite = dataclasses.replace(build_config(Suite, data, source, skip=("source", "configs", "unavailable")), source=source)
    tasks = _tables(Task, "tasks", suite.tasks, source, required=("config", "total_steps"),
                    example='[tasks.ant] with config = "trirl_ant_cpu", total_steps = 2_000_000')
    methods = _tables(Method, "methods", suite.methods, source, required=("algo",),
                      example='[methods.trirl] with algo = "trirl"')
    paper = _paper(suite.paper, source)
    for where, entry in [*(("tasks", t) for t in tasks.values()), *(("methods", m) for m in methods.values())]:
        rows = paper if where == "methods" else {column for row in paper.values() for column in row}
        if entry.paper and entry.paper not in rows:
            raise InvalidConfigError(f"{source}: [{where}.{entry.name}] paper = {entry.paper!r}: not in the [paper.ROW] "
                                     f"tables; they hold {', '.join(sorted(rows)) or 'nothing'}")
    for task in tasks.values():
        unknown = [m for m in task.methods if m not in methods]
        if unknown:
            raise InvalidConfigError(f"{source}: [tasks.{task.name}] methods = {list(task.methods)!r}: "
                                     f"{', '.join(map(repr, unknown))} is no [methods.NAME]; the methods are {', '.join(methods)}")
    reference = suite.reference or next(iter(methods))
    if reference not in methods:
        raise InvalidConfigError(f"{source}: reference = {reference!r}: no such method; the methods are {', '.join(methods)}")
    suite = dataclasses.replace(suite, tasks=tasks, methods=methods, paper=paper, reference=reference)
    configs, unavailable = {}, {}
    for task in tasks.values():
        demos, problem = _expert(suite, task)
        for method in methods.values():
            key = f"{task.name}/{method.name}"
            if task.methods and method.name not in task.methods:
                continue
            if method.features and not task.features:
                unavailable[key] = f"the task declares no base features ([tasks.{task.name}] features)"
                continue
            # every config error before anything runs, also of a task still waiting for its expert
            # (its budget is counted); built here once
            configs[key] = train_config(suite, task, method, demos)
            if problem:
                unavailable[key] = problem
    return dataclasses.replace(suite, configs=configs, unavailable=unavailable)


def _tables(cls, section: str, tables: dict[str, Any], source: str, required: tuple[str, ...], example: str) -> dict:
    from trirl.configfile import build_config

    if not tables:
        raise InvalidConfigError(f"{source}: no [{section}.NAME] table; expected at least one, e.g. {example}")
    built = {}
    for name, table in tables.items():
        where = f"{section}.{name}"
        if not isinstance(table, dict):
            raise InvalidConfigError(f"{source}: {where} = {table!r}: expected a table [{where}]")
        for key in required:
            if key not in table:
                raise InvalidConfigError(f"{source}: [{where}] {key} missing; expected e.g. {example}")
        if "name" in table:
            raise InvalidConfigError(f"{source}: [{where}] name: unknown key (the table's name is the {section[:-1]}'s)")
        if "/" in name:
            raise InvalidConfigError(f"{source}: [{where}]: a name without '/' expected (it names a folder)")
        built[name] = build_config(cls, {**table, "name": name}, source, section=where)
    return built


def _paper(tables: dict[str, Any], source: str) -> dict[str, dict[str, list[float]]]:
    paper = {}
    for row, table in tables.items():
        if not isinstance(table, dict):
            raise InvalidConfigError(f"{source}: paper.{row} = {table!r}: expected a table [paper.{row}]")
        for column, value in table.items():
            if not (isinstance(value, list) and len(value) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise InvalidConfigError(f"{source}: [paper.{row}] {column} = {value!r}: expected [value, plus_minus], "
                                         f"two numbers as the paper prints them")
        paper[row] = {column: [float(v) for v in value] for column, value in table.items()}
    return paper


def _expert(suite: Suite, task: Task) -> tuple[Path, str]:
    """The task's demonstrations file, and ``""`` or why the task cannot run yet."""
    from trirl.configfile import CONFIG_DIR
    from trirl.continuous.envs import ENV_NAMES
    from trirl.continuous.train import EXPERTS_DIR

    if task.env not in ENV_NAMES:
        raise InvalidConfigError(f"{suite.source}: [tasks.{task.name}] env = {task.env!r}: unknown environment; "
                                 f"choose one of {', '.join(ENV_NAMES)}")
    folder = EXPERTS_DIR / task.env
    returns = folder / "returns.json"
    # messages name the folder as the README does where it lies under the working directory
    shown = folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder
    demos = next((p for p in (Path(task.demos), folder / task.demos) if p.is_file()), None)
    if not returns.is_file():
        recipe = CONFIG_DIR / f"{task.env}_expert_cpu.toml"
        how = f"trirl expert train --config {recipe.name}" if recipe.is_file() else "trirl expert train"
        return folder / task.demos, f"no expert: {shown / 'returns.json'} does not exist (train one: {how}, then evaluate and collect)"
    if demos is None:
        return folder / task.demos, (f"no demonstrations: [tasks.{task.name}] demos = {task.demos!r} is no file, "
                                     f"and none in {shown}")
    return demos, ""


def train_config(suite: Suite, task: Task, method: Method, demos: Path):
    """The :class:`~trirl.continuous.train.TrainConfig` of one stage: the task's config on its env
    with the suite's seeds, the task's budget and demonstrations, and the method's algorithm."""
    from trirl.continuous import baselines, train

    overrides: dict[str, Any] = {"env": task.env, "seeds": suite.train.seeds, "seed": suite.train.seed,
                                 "total_steps": task.total_steps, "demos": str(demos),
                                 "expert_returns": str(train.EXPERTS_DIR / task.env / "returns.json"), "algo": method.algo}
    if baselines.input_mode(method.algo, method.input_mode or None):  # the baseline's input, whatever the config says
        overrides["discriminator"] = {"input_mode": baselines.input_mode(method.algo, method.input_mode or None)}
    elif method.input_mode:  # TRIRL's reward on (s, a) or (s, s')
        overrides["discriminator"] = {"input_mode": method.input_mode}
    elif method.features:  # linear in the task's base features: r = theta^T phi(s, a) + b
        overrides["discriminator"] = {"features": task.features, "hidden_sizes": [], "input_mode": "state_action"}
    where = f"{suite.source}: [tasks.{task.name}] x [methods.{method.name}]"
    beside = Path(suite.source).parent / task.config  # a config next to the spec file
    try:
        return train.load_config(beside if beside.is_file() else task.config, **overrides)
    except InvalidConfigError as err:
        raise InvalidConfigError(f"{where} config = {task.config!r} (algo = {method.algo}): {err}") from None
