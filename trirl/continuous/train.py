"""Train TRIRL or a baseline on a continuous task, several seeds vmapped in one process.

::

    trirl train --env point_maze --algo trirl --seeds 3 --steps 100000 --out runs/pm
        [--resume] [--demos FILE] [--config TOML] [--max-minutes M] [--no-progress] [--iterations-per-call N]

``--algo``: ``trirl`` (max-eta, TRPL projection), ``trirl-tr-loss`` (KL penalty with a scheduled
eta), ``gail``, ``airl``, ``amp``. The run directory (:class:`~trirl.rundir.RunDir`) gets
``config.json``, ``learning_curves.png`` (:mod:`trirl.learning_curves`), ``metrics.jsonl`` (one row per
iteration: the shared metric names averaged over seeds, ``normalised_return`` (mean) and ``normalised_return_iqm``
over seeds, evaluation returns every ``eval_every`` iterations; ``non_finite_steps`` counts the episodes that
non-finite physics ended, see ``envs/base.py``) and ``checkpoints/`` (the whole learner state with a leading seed
axis). Iteration ``i`` always uses the key ``fold_in(train_key, i)``, so ``--resume`` (and any
``--iterations-per-call``) reproduces the uninterrupted metrics. ``--max-minutes`` checkpoints and exits cleanly
after the compiled call that crosses the budget (long GPU runs come in resumable pieces); Ctrl-C finishes the
call under way, checkpoints it and prints the command that resumes (a second Ctrl-C stops at once). A NaN or
infinity in a metric or in the state stops the run: the last finite state is checkpointed and the message names
the metrics and parameter leaves where it appeared (the bad state goes to ``nonfinite_state.npz``).

Everything that can be wrong with the configuration or the demonstrations is checked before
anything is compiled.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trirl import compiled, configflags, devices, driver
from trirl.configfile import CONFIG_DIR, OTHER_KINDS, build_config, other_kind, override_flags, read_config
from trirl.continuous import baselines, compile_cache, distributed, envs
from trirl.continuous import checkpoint as ckpt
from trirl.continuous import trirl as trirl_lib
from trirl.continuous.demos import Demonstrations, load_demonstrations
from trirl.continuous.discriminator import DiscriminatorConfig
from trirl.continuous.evaluation import episode_returns, load_expert_returns, normalized_return, policy_act_fn
from trirl.continuous.envs.base import Env
from trirl.continuous.expert import ALIASES, env_config_class
from trirl.continuous.rollout import MAY_BE_NAN
from trirl.continuous.ppo import PPOConfig
from trirl.continuous.reward import RewardBufferConfig
from trirl.continuous.trpl import TrustRegionConfig
from trirl.errors import InvalidConfigError, InvalidDemonstrationError, NonFiniteError, RunDirWriteError, plain_warnings
from trirl.learning_curves import write_learning_curves
from trirl.stats import iqm
from trirl.rundir import (RunDir, RunDirLockedError, check_new, checkpoint_files, config_changes, interrupted_message,
                          resume_command, saved_config, write_json)
from trirl.text import plural

ALGOS = ("trirl", "trirl-tr-loss", "gail", "airl", "amp")
EXPERTS_DIR = CONFIG_DIR / "experts"
#: fields that are no key of a config file, a flag or ``config.json``: R_fit and the buffered
#: discriminators share the newest discriminator's config (:meth:`TrainConfig.learner_config`)
DERIVED = ("buffer.network",)


@dataclass(frozen=True)
class TrainConfig:
    """One IRL experiment (TOML: top-level keys plus ``[env_options]``, ``[ppo]``,
    ``[discriminator]``, ``[buffer]`` (without ``network``), ``[trust_region]`` tables).

    Attributes:
        env: the environment to train on.
        algo: ``trirl`` (max-eta, TRPL projection), ``trirl-tr-loss`` (KL penalty, scheduled eta), ``gail``,
            ``airl`` or ``amp``.
        seed: base seed; seed ``j`` of the vmapped batch uses ``split(init_key, seeds)[j]``.
        seeds: number of seeds trained at once (leading axis of the state).
        total_steps: environment steps per seed (rounded up to whole iterations).
        eval_every: iterations between deterministic evaluations (and at the end).
        eval_episodes: episodes per seed and evaluation.
        checkpoint_every: iterations between checkpoints (and at the end).
        demos: demonstration file (empty: the shipped expert's, ``continuous/experts/<env>/demos.npz``).
        expert_returns: JSON with ``expert_return`` and ``random_return`` for the
            normalised return (empty: ``continuous/experts/<env>/returns.json``; if the file is
            absent, no normalised return is logged).
        eta_schedule: ``trirl-tr-loss``'s eta: a number, ``linear:START:END:STEPS`` or ``exp:START:DECAY[:END]``.
        acting_policy: TRIRL max-eta's acting policy: ``"network"``, ``"projected"`` or ``"line-search"``.
        eta_from: the reward correction's multiplier with the line search: ``"projection"``, ``"step"`` or
            ``"scaled-step"`` (book chapter 10).
        buffer: the ``[buffer]`` table; its ``network`` is no key (:data:`DERIVED`): the learner's
            is ``discriminator`` (:meth:`learner_config`).
    """

    env: str = "point_maze"
    algo: str = "trirl"
    seed: int = 0
    seeds: int = 1
    total_steps: int = 100_000
    eval_every: int = 10
    eval_episodes: int = 8
    checkpoint_every: int = 10
    demos: str = ""
    expert_returns: str = ""
    eta_schedule: str = "1.0"
    acting_policy: str = "network"
    eta_from: str = "projection"
    env_options: dict[str, Any] = field(default_factory=dict)
    ppo: PPOConfig = PPOConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    buffer: RewardBufferConfig = RewardBufferConfig()
    trust_region: TrustRegionConfig = TrustRegionConfig()

    def __post_init__(self):
        if self.env not in envs.ENV_NAMES:
            raise InvalidConfigError(f"TrainConfig.env: unknown environment {self.env!r}; choose one of {envs.ENV_NAMES}")
        if self.algo not in ALGOS:
            raise InvalidConfigError(f"TrainConfig.algo: unknown algorithm {self.algo!r}; choose one of {ALGOS}")
        for name in ("seeds", "total_steps", "eval_every", "eval_episodes", "checkpoint_every"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise InvalidConfigError(f"TrainConfig.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.seed, int):
            raise InvalidConfigError(f"TrainConfig.seed must be an integer, got {self.seed!r}")
        configflags.check_fields(self)  # the types of the other fields (strings, ...)
        envs.make_config(self.env, self.env_options)
        baselines.input_mode(self.algo, self.discriminator.input_mode)
        if self.buffer.network != type(self.discriminator)():
            raise InvalidConfigError("TrainConfig.buffer.network cannot be set: R_fit and the buffered discriminators "
                                     "share [discriminator] (set that table instead)")
        self.learner_config()  # validates the combination now (built once, then kept)

    @property
    def demos_file(self) -> Path:
        """``demos``, or the shipped expert's ``continuous/experts/<env>/demos.npz``."""
        return Path(self.demos or EXPERTS_DIR / self.env / "demos.npz")

    @property
    def expert_returns_file(self) -> Path:
        """``expert_returns``, or the shipped expert's ``continuous/experts/<env>/returns.json``."""
        return Path(self.expert_returns or EXPERTS_DIR / self.env / "returns.json")

    @property
    def iterations(self) -> int:
        return math.ceil(self.total_steps / self.ppo.batch_size)

    def learner_config(self) -> trirl_lib.TRIRLConfig | baselines.BaselineConfig:
        """The learner's config, built once per config (a frozen config never changes it).

        TRIRL's buffer gets ``network = discriminator``: R_fit and the buffered discriminators
        share the newest discriminator's architecture and input (the one place this is set).
        """
        return self._learner_config

    @cached_property
    def _learner_config(self) -> trirl_lib.TRIRLConfig | baselines.BaselineConfig:
        if self.algo.startswith("trirl"):
            return trirl_lib.TRIRLConfig(
                variant="tr-loss" if self.algo == "trirl-tr-loss" else "max-eta", ppo=self.ppo,
                discriminator=self.discriminator, buffer=replace(self.buffer, network=self.discriminator),
                trust_region=self.trust_region, eta_schedule=self.eta_schedule, iterations=self.iterations,
                acting_policy=self.acting_policy, eta_from=self.eta_from)
        return baselines.BaselineConfig(algo=self.algo, ppo=self.ppo, discriminator=self.discriminator)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as ``config.json`` records it (defaulted files named, :data:`DERIVED` left out)."""
        data = asdict(self)
        data["demos"], data["expert_returns"] = str(self.demos_file), str(self.expert_returns_file)
        for dotted in DERIVED:
            section, key = dotted.split(".")
            data[section].pop(key)
        return data


def from_dict(data: Mapping[str, Any], source: str = "train config", flags: Mapping[str, str] | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from plain data (TOML or ``config.json``), built once.

    Two values follow from others before it is built: an unset ``[discriminator] input_mode`` of
    GAIL, AIRL and AMP is theirs (:func:`~trirl.continuous.baselines.input_mode`), so that
    ``config.json`` records what runs; an unset TRIRL ``[ppo] entropy_coef`` is ``1 / [buffer] beta``.

    Raises:
        InvalidConfigError: naming ``source``, the ``[section] key`` (or the flag in ``flags``
            that set it), the value and the expected type or range
            (:func:`trirl.configfile.build_config`).
    """
    if isinstance(data, Mapping):
        data = _entropy_from_beta(_baseline_input_mode(dict(data)))
    return build_config(TrainConfig, data, source, skip=DERIVED, tables={"env_options": env_config_class(data)},
                        flags=flags)


def _entropy_from_beta(data: dict[str, Any]) -> dict[str, Any]:
    """Eq. 1: TRIRL's entropy weight is ``1 / beta``; fill an unset ``[ppo] entropy_coef`` from
    ``[buffer] beta`` (a set one is validated against it by :class:`~trirl.continuous.trirl.TRIRLConfig`)."""
    if not str(data.get("algo", TrainConfig.algo)).startswith("trirl"):
        return data
    ppo, buffer = data.get("ppo", {}), data.get("buffer", {})
    if not (isinstance(ppo, Mapping) and isinstance(buffer, Mapping)):
        return data  # ``ppo = 3``: build_config names the table it expected
    beta = buffer.get("beta", RewardBufferConfig.beta)
    if "entropy_coef" in ppo or isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0 \
            or not math.isfinite(beta):
        return data  # set by the user, or a bad beta that build_config reports by name
    return {**data, "ppo": {**ppo, "entropy_coef": 1.0 / beta}}


def _baseline_input_mode(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with a baseline's fixed ``[discriminator] input_mode`` where the table leaves it out
    (a conflicting one is refused when the config is built)."""
    section = data.get("discriminator", {})
    fixed = baselines.input_mode(data.get("algo", TrainConfig.algo))
    if fixed is None or not isinstance(section, Mapping) or "input_mode" in section:
        return data  # not a baseline, a table build_config refuses by name, or the user's choice
    return {**data, "discriminator": {**section, "input_mode": fixed}}


def refuse_other_kinds(path: Path, data: Mapping[str, Any]) -> None:
    """Raise InvalidConfigError naming the command for a suite spec, a Table 1 study or an expert config."""
    kind = other_kind(path, data)
    if kind is not None:
        _, what, command = OTHER_KINDS[kind]
        raise InvalidConfigError(f"--config {path}: {what}: {command.replace('FILE', str(path))}")


def load_config(path: str | Path | None, **overrides) -> TrainConfig:
    """Read a TOML config (a path or a shipped name, :func:`~trirl.configfile.resolve_config`;
    ``None`` starts from the defaults), then apply non-None ``overrides`` (tables such as
    ``ppo={...}`` merge key by key; errors name them by their flag)."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path, data = read_config(path, training=True)
        refuse_other_kinds(path, data)
        source = str(path)
    return from_dict(configflags.merge(data, overrides), source, override_flags(overrides, ALIASES))


def build(config: TrainConfig, demos: Demonstrations, env: Env | None = None) -> trirl_lib.Learner:
    """The learner of ``config`` on ``env`` (the env of ``config``, built here when not given)."""
    env = env or envs.make(config.env, config.env_options)
    learner_config = config.learner_config()
    if isinstance(learner_config, trirl_lib.TRIRLConfig):
        return trirl_lib.make_trirl(env, learner_config, demos)
    return baselines.make_baseline(env, learner_config, demos)


def prepare(config: TrainConfig, demos_path: str | None = None, env: Env | None = None):
    """Every check that needs no compilation: the demos, their env (``env``, or the env of
    ``config`` built here) and the expert returns; returns ``(demos, (expert, random) or None)``."""
    env = env or envs.make(config.env, config.env_options)
    path = Path(demos_path or config.demos_file)
    if not path.exists():
        run = f"runs/{config.env}_expert"
        raise InvalidDemonstrationError(
            f"demonstrations: {path} does not exist. Pass --demos FILE, or create them: "
            f"`trirl expert train --env {config.env} --out {run}`, then "
            f"`trirl expert collect --checkpoint {run} --out {path}`")
    demos = load_demonstrations(path, env.spec)
    trirl_lib.validate_demos(demos, env)
    return demos, load_expert_returns(config.expert_returns_file)


def check_resume(config: TrainConfig, out: str | Path) -> None:
    """Before anything is compiled: ``--resume`` continues the run in ``out`` with the configuration
    it was started with (only ``total_steps`` may grow).

    Raises:
        InvalidConfigError: ``out`` holds no run; a field differs from the run's (each named, dotted
            inside tables: ``ppo.num_envs: 64 -> 8``); or ``total_steps`` ends before the run's
            newest checkpoint (a resume would rewrite config.json and "finish" at once).
    """
    saved = saved_config(out)  # config.json, or the newest checkpoint's record of it
    if saved is None:
        raise InvalidConfigError(f"--resume: {out} holds no run (no config.json, no checkpoint); "
                                 "drop --resume to start one there")
    changes = config_changes(saved, config.to_dict(), ignore=("total_steps",))
    if changes:
        raise InvalidConfigError(
            f"--resume: the run in {out} was started with another configuration; changed: {'; '.join(changes)}. "
            "A resumed run keeps its configuration (only --total-steps may change): drop the changed flags, "
            "or start a new run in another --out")
    files = checkpoint_files(out)
    step = int(files[-1].stem.split("_")[1]) if files else 0
    if step > config.iterations:
        raise InvalidConfigError(
            f"--resume --total-steps {config.total_steps} is {config.iterations} iterations, but the run in {out} "
            f"is already at iteration {step} ({step * config.ppo.batch_size} steps): pass --total-steps "
            f">= {step * config.ppo.batch_size} to train on, or evaluate the run as it is")


def train(config: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True, demos_path: str | None = None,
          max_minutes: float | None = None, iterations_per_call: int = compiled.ITERATIONS_PER_CALL) -> dict[str, Any]:
    """Train (or continue) ``config.seeds`` seeds, ``iterations_per_call`` per compiled call (:mod:`trirl.compiled`);
    returns a summary dict (``status`` is ``"done"``, ``"paused"`` when ``max_minutes`` ran out, or ``"interrupted"``
    after Ctrl-C: the call under way finishes and is checkpointed, so ``--resume`` loses nothing).

    The loop is :func:`trirl.driver.run` over the learner vmapped over seeds; what is particular
    to continuous IRL is the row (means over seeds, normalised returns, evaluation every
    ``eval_every`` iterations) and the learning curves written when the run stops.
    """
    started = time.monotonic()
    if resume:
        check_resume(config, out)  # the run's own configuration, before its demonstrations are looked for
    elif distributed.is_writer():  # process 0 creates the run; the others follow it
        check_new(out)
    env = envs.make(config.env, config.env_options)  # one env: checks, learner and evaluation
    demos, returns = prepare(config, demos_path, env)  # all validation before compiling
    if max_minutes is not None and not max_minutes > 0:
        raise InvalidConfigError(f"--max-minutes must be > 0, got {max_minutes}")
    learner = build(config, demos, env)
    mesh = driver.seed_mesh(config.seeds)  # over several processes: checks --seeds before anything is written
    writer = distributed.is_writer()
    run = RunDir(out, config.to_dict(), resume=resume, ignore=("total_steps",)) if writer else \
        distributed.Follower(out, resume)
    init_key, train_key, eval_key = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    evaluates = driver.every(config.eval_every, config.iterations)  # and a multi-iteration call ends there

    @jax.jit
    def evaluate(state, key):
        def one(ppo_state, seed_key):
            act = policy_act_fn(learner.ppo.networks, ppo_state.params.policy, ppo_state.normalizer)
            return jnp.mean(episode_returns(env, act, seed_key, config.eval_episodes))
        return jax.vmap(one)(state.ppo, jax.random.split(key, config.seeds))

    def normalise(values):
        return normalized_return(np.asarray(values), *returns)

    def row(iteration, state, metrics, seconds, previous) -> dict[str, Any]:
        row = {"iteration": iteration, "env_steps": iteration * config.ppo.batch_size}
        for name, value in metrics.items():
            finite = np.asarray(value)[np.isfinite(value)]
            if name != "iteration" and finite.size:
                row[name] = float(finite.mean())
        if returns is not None and "episode_return" in row:
            values = normalise(metrics["episode_return"])
            row["normalised_return"] = float(np.nanmean(values))
            row["normalised_return_iqm"] = iqm(values)
        if evaluates(iteration):
            evals = np.asarray(devices.to_host(evaluate(state, jax.random.fold_in(eval_key, iteration - 1))))
            row["eval_return"] = float(evals.mean())
            row["eval_return_iqm"] = iqm(evals)
            row["eval_return_per_seed"] = evals.tolist()
            if returns is not None:
                row["eval_normalised_return"] = float(normalise(evals).mean())
                row["eval_normalised_return_iqm"] = iqm(normalise(evals))
        return row

    def postfix(row) -> str | None:
        return f"norm={row['eval_normalised_return']:.2f}" if "eval_normalised_return" in row else None

    def curves(status: str) -> None:
        stopped = " (stopped at a non-finite value)" if status == "nonfinite" else f", {plural(config.seeds, 'seed')}"
        try:
            write_learning_curves(run.path, f"{config.algo} on {config.env}{stopped}")
        except OSError as err:  # a figure is not worth the run: metrics and checkpoints are written
            print(f"warning: learning_curves.png not written in {run.path}: {err.strerror or err}", file=sys.stderr)

    try:
        outcome = driver.run(
            driver.jitted(learner, config.seeds, iterations_per_call=iterations_per_call), config.iterations,
            init_key=jax.random.split(init_key, config.seeds), key=train_key, run_dir=run,
            checkpoint_every=config.checkpoint_every, restore_optional=ckpt.OPTIONAL,
            hooks=driver.Hooks(
                checkpoint_meta=lambda iteration, _: {"env_steps": iteration * config.ppo.batch_size,
                                                      "algo": config.algo},
                row=row, nonfinite=driver.jitted_nonfinite, may_be_nan=MAY_BE_NAN, on_stop=curves if writer else None,
                restored=getattr(learner, "restore", None), needs_state=evaluates),
            progress=driver.Progress(progress, f"{config.algo} {config.env} x{config.seeds}", postfix),
            max_minutes=max_minutes, started=started, finish_on_interrupt=True,
        )
    finally:
        run.close()  # the lock, at once (not when the object is collected)
    return {"status": outcome.status, "iterations": outcome.iteration, "last": outcome.last, "run": str(run.path),
            "devices": 1 if mesh is None else mesh.size, "writer": writer}


def build_parser() -> argparse.ArgumentParser:
    """``trirl train``'s flags: the run's own, then one per :class:`TrainConfig` field."""
    parser = argparse.ArgumentParser(prog="trirl train", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--config", help="TOML config: a path or a shipped name (e.g. trirl_point_maze); "
                                         "the flags below override its fields")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out (with its config.json)")
    parser.add_argument("--max-minutes", type=float, help="checkpoint and exit after this much wall clock")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    configflags.add_config_flags(parser, TrainConfig, aliases=ALIASES, choices={"env": envs.ENV_NAMES, "algo": ALGOS},
                                 exclude=DERIVED)
    for flags in (compiled, compile_cache, distributed):  # --iterations-per-call, the compilation cache, processes
        flags.add_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The config ``trirl train`` runs, parsed once: ``--config`` (or the defaults; with ``--resume`` alone, the
    run's own config.json) with the flags the user set."""
    overrides = configflags.overrides(args)
    if args.resume and args.config is None and (saved := saved_config(args.out)) is not None:
        return from_dict(configflags.merge(saved, overrides), f"{args.out}/config.json", override_flags(overrides, ALIASES))
    return load_config(args.config, **overrides)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    compile_cache.from_args(args)
    try:
        distributed.from_args(args)  # before JAX computes anything
        config = config_from_args(args)
        if args.config is None and not args.resume:
            print(f"trirl train: no --config, so the defaults: {config.algo} on {config.env}, "
                  f"{plural(config.iterations, 'iteration')} (a shipped recipe: --config trirl_point_maze, ...)", file=sys.stderr)
        with plain_warnings("trirl train"):
            summary = train(config, args.out, resume=args.resume, progress=not args.no_progress,
                            max_minutes=args.max_minutes, iterations_per_call=args.iterations_per_call)
    except (InvalidConfigError, InvalidDemonstrationError, NonFiniteError, RunDirLockedError, RunDirWriteError) as err:
        print(f"trirl train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C, or one before training started
        summary = {"status": "interrupted"}
    if summary["status"] == "interrupted":
        program = "trirl train"
        resume = resume_command(program, sys.argv[1:] if argv is None else argv)
        print(f"{program}: {interrupted_message(args.out, resume)}", file=sys.stderr)
        return 130
    last = summary["last"]
    keys = [k for k in ("eval_return", "eval_normalised_return", "eval_normalised_return_iqm") if k in last]
    print(f"{summary['status']}: {plural(summary['iterations'], 'iteration')} in {summary['run']} "
          f"({plural(config.seeds, 'seed')} on {plural(summary['devices'], 'device')}); " + ", ".join(f"{k} {last[k]:.3f}" for k in keys))
    if summary["status"] == "done" and summary["writer"]:
        try:
            write_json(Path(args.out) / "summary.json", summary)
        except RunDirWriteError as err:
            print(f"trirl train: error: {err}", file=sys.stderr)
            return 2
        print(f"wrote config.json, metrics.jsonl, learning_curves.png, checkpoints/, summary.json in {args.out}\n"
              f"train on: trirl train --out {args.out} --resume --total-steps N; "
              f"retrain a policy on the learnt reward: trirl evaluate --run {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
