"""Evaluating a learnt reward: retrain a fresh PPO on it (new seeds), optionally in another env.

::

    trirl evaluate --run runs/pm [--env point_maze_mirrored]
        [--steps 200000] [--init-log-std 0] [--seed 100] [--reward-scale 1] [--reward-shift 0] [--out retrain.json]
        [--expert-returns continuous/experts/ant_disabled/returns.json]
        [--figure landscape.png]

The frozen reward is the learner's ``reward`` (TRIRL: the buffer's corrected reward ``r^(i)``
including ``R_fit``; GAIL/AMP: their discriminator reward; AIRL: ``g(s)``) of seed ``j`` of the
run's newest checkpoint; fresh PPO seed ``j`` trains on it with the run's PPO config. With
``--env point_maze_mirrored`` (or ``ant_disabled`` on a GPU) this is the paper's transfer test:
the reward must carry "what the expert wants", not "what the expert did".

The retraining itself, its true-reward control, protocol and diagnostics:
:mod:`trirl.continuous.retrain`. Here: reading a run back (:func:`load_run`, also for the
studies and the LQ oracle) and the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jax
import numpy as np

from trirl import configflags
from trirl.continuous import checkpoint as ckpt
from trirl.continuous import compile_cache, envs
from trirl.continuous import baselines
from trirl.continuous.evaluation import normalized_return
from trirl.continuous.retrain import (ABSORBING_REWARDS, RETRAIN_OPTIONS, LoadedRun, diagnose, normalise,  # noqa: F401
                                      ratio, read_expert_returns, retrain, retrain_option_problem,
                                      with_expert_returns)
from trirl.continuous.train import TrainConfig, build, from_dict, prepare
from trirl.errors import InvalidConfigError, InvalidDemonstrationError, RunDirWriteError, plain_warnings
from trirl.provenance import machine, source_commit
from trirl.rundir import STATE_PREFIX, checkpoints, lock_holder, newest_checkpoint, saved_config, write_json
from trirl.stats import interval_estimates


def load_run(path: str | Path, running: bool = False, env: str | None = None,
             expert_returns: str | Path | None = None) -> LoadedRun:
    """A run directory's configuration, learner, newest readable checkpoint's state,
    demonstrations and expert returns: one read of each file, through :mod:`trirl.rundir`.

    ``record`` says what was evaluated: ``checkpoint_iteration``, ``run_state`` (``"finished"``:
    the checkpoint is the run's last iteration; ``"stopped"``: paused or interrupted before it;
    ``"running"``: a live ``trirl train`` holds the run) and ``run_holder`` when running.
    Everything is checked before the learner is built (nothing compiles): the run's lock (a run
    being written is refused unless ``running``), its files, and that ``env`` (the retraining
    environment) takes the states and actions of the run's. ``expert_returns`` (a ``returns.json``,
    read first) replaces the run's own as :attr:`LoadedRun.returns` (a transfer's target expert).

    Returns:
        :class:`~trirl.continuous.retrain.LoadedRun` (state leaves ``[seeds, ...]``).

    Raises:
        InvalidConfigError: naming ``--run`` (not a run, no checkpoint, being written), ``--env``
            (other state or action sizes), ``--expert-returns`` (no such file), or the damaged file.
    """
    path = Path(path)
    target = None if expert_returns is None else read_expert_returns(expert_returns)  # before the run is read
    holder = lock_holder(path)
    if holder is not None and not running:
        raise InvalidConfigError(
            f"--run: {path} is being written by a live trirl train ({holder}); its newest checkpoint may be "
            "replaced while it is read and the result would describe an unfinished run. Wait for the run to "
            "finish (or stop it: Ctrl-C keeps its checkpoint), or pass --running to evaluate its newest "
            "checkpoint as it is now")
    data = saved_config(path)  # config.json, or the newest checkpoint's record of it
    if data is None:
        raise InvalidConfigError(f"--run: {path} is not a run directory (config.json missing)")
    if baselines.input_mode(data.get("algo")) and isinstance(data.get("discriminator"), dict):
        # runs written before config.json recorded the baseline's own input_mode hold the default there
        data["discriminator"].pop("input_mode", None)
    config = from_dict(data, str(path / "config.json"))
    if env is not None:
        check_transfer(config.env, env, config.env_options)
    checkpoint = newest_checkpoint(path)  # a damaged newest one falls back to the previous (a warning)
    if checkpoint is None:
        raise InvalidConfigError(f"--run: {path} holds no checkpoint")
    demos, returns = prepare(config)
    returns_file = str(config.expert_returns_file) if target is None else str(expert_returns)
    learner = build(config, demos)
    state = ckpt.unflatten(state_template(config, learner), checkpoint.arrays, STATE_PREFIX)
    state_name = "running" if holder is not None else "finished" if checkpoint.step >= config.iterations else "stopped"
    record = {"checkpoint_iteration": checkpoint.step, "run_iterations": config.iterations, "run_state": state_name}
    if holder is not None:
        record["run_holder"] = holder
    return LoadedRun(config, learner, state, demos, returns if target is None else target, returns_file, record)


def state_template(config: TrainConfig, learner):
    """The shapes and dtypes of a run's learner state, ``[seeds, ...]`` (``jax.eval_shape``: nothing runs)."""
    keys = jax.random.split(jax.random.PRNGKey(config.seed), config.seeds)
    return jax.eval_shape(jax.vmap(learner.init), keys)


def checkpoint_states(path: str | Path, run: LoadedRun) -> Iterator[tuple[int, Any]]:
    """``(iteration, state [seeds, ...])`` of every checkpoint of the run directory ``path`` (whose
    :func:`load_run` is ``run``), oldest first (:func:`trirl.rundir.checkpoints`)."""
    template = state_template(run.config, run.learner)
    for checkpoint in checkpoints(path):
        yield checkpoint.step, ckpt.unflatten(template, checkpoint.arrays, STATE_PREFIX)


def check_transfer(source: str, target: str, options: dict | None = None) -> None:
    """The learnt reward of a ``source`` run takes ``source``'s observations and actions: refuse a
    retraining ``target`` whose sizes differ (before anything compiles), naming ``--env``."""
    have, want = envs.make(source, options).spec, envs.make(target, options).spec
    if (have.observation_size, have.action_size) != (want.observation_size, want.action_size):
        same = [name for name in envs.ENV_NAMES if name != source and name.startswith(source.split("_")[0])]
        raise InvalidConfigError(
            f"--env {target}: its observations have {want.observation_size} entries and its actions "
            f"{want.action_size}, but the run's reward was learnt on {source} ({have.observation_size} and "
            f"{have.action_size}); retrain in an environment of the same sizes"
            + (f" (e.g. {', '.join(same)})" if same else ""))


@dataclass(frozen=True)
class EvaluateOptions:
    """``trirl evaluate``'s options: one flag per field (:mod:`trirl.configflags`), validated here.

    Attributes:
        run: run directory of trirl train; seed j of its newest checkpoint gives the reward that
            fresh PPO seed j retrains on.
        env: retrain in this env (the transfer test, e.g. point_maze_mirrored); default: the run's.
        steps: PPO environment steps per seed (an integer >= 1; rounded up to whole PPO iterations).
        init_log_std: initial log std of the fresh policies (a finite number; 0 is a standard
            deviation of 1, the protocol's).
        seed: seed of the fresh PPO runs (their initial networks and environments).
        reward_scale: retrain on reward_scale * r + reward_shift (a probe; a finite number > 0).
        reward_shift: retrain on reward_scale * r + reward_shift (a probe; a finite number).
        expert_returns: normalise by this returns.json (expert 1, random 0) instead of the run's;
            for a transfer, the target env's expert (e.g. continuous/experts/ant_disabled/returns.json).
        absorbing_reward: the absorbing state's reward in retraining: learnt, or (a probe)
            demonstrations-min, the lowest learnt reward on the demonstrations' transitions.
        out: write the result as JSON here (default: evaluate_<env>.json in the run directory).
        figure: point maze: write the learnt reward's landscape (PNG) here.
        running: evaluate a run that trirl train is still writing: its newest checkpoint as it is
            now (the result records run_state "running"); without it such a run is refused.

    Raises:
        InvalidConfigError: naming the flag and the expected form.
    """

    run: str
    env: str | None = None
    steps: int = 200_000
    init_log_std: float = 0.0
    seed: int = 100
    reward_scale: float = 1.0
    reward_shift: float = 0.0
    expert_returns: str | None = None
    absorbing_reward: str = "learnt"
    out: str | None = None
    figure: str | None = None
    running: bool = False

    def __post_init__(self):
        if self.env is not None and self.env not in envs.ENV_NAMES:
            raise InvalidConfigError(f"--env is {self.env!r}, expected one of {list(envs.ENV_NAMES)}")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in RETRAIN_OPTIONS and value is not None:
                expected = retrain_option_problem(field.name, value)
                if expected:
                    raise InvalidConfigError(f"{configflags.flag(field.name)} is {value!r}, expected {expected}")

    def retrain_options(self) -> dict:
        """The keyword arguments of :func:`retrain` these options set (``env`` and ``expert_returns``
        are applied by the caller: :func:`load_run`, :func:`with_expert_returns`)."""
        return {name: getattr(self, name) for name in ("steps", "seed", "reward_scale", "reward_shift", "init_log_std",
                                                       "absorbing_reward")}


def build_parser() -> argparse.ArgumentParser:
    """``trirl evaluate``'s flags: one per :class:`EvaluateOptions` field, and the compilation cache's."""
    parser = argparse.ArgumentParser(prog="trirl evaluate", description=__doc__.split("\n")[0])
    configflags.add_option_flags(parser, EvaluateOptions, choices={"env": envs.ENV_NAMES,
                                                                    "absorbing_reward": ABSORBING_REWARDS})
    compile_cache.add_arguments(parser)
    return parser


def summary_line(result: dict, expert_random: tuple[float, float] | None = None) -> str:
    """One line: the retrained policies' normalised return with its 95 % bootstrap CI (the mean
    over seeds, :func:`trirl.stats.interval_estimates`), the control's, the ratio, and
    what was evaluated."""

    def scored(name: str, values) -> str:
        if len(values) < 2:
            return f"{name} {float(np.mean(values)):.3f}"
        estimate = interval_estimates({name: np.asarray(values)}, reps=2000)[name]
        low, high = estimate["mean_ci"]
        return f"{name} {estimate['mean']:.3f} (95% CI {low:.3f} to {high:.3f})"

    if "normalised_return" in result and expert_random is not None:
        parts = [scored("normalised return", normalized_return(np.asarray(result["returns"]), *expert_random))]
        if "control_returns" in result:
            parts.append(scored("control", normalized_return(np.asarray(result["control_returns"]), *expert_random)))
            ratio_ = result.get("normalised_return_ratio")
            parts.append("ratio " + ("n/a (the control does not beat random)" if ratio_ is None else f"{ratio_:.2f}"))
    else:
        parts = [scored("return", result["returns"])]
        if "control_returns" in result:
            parts.append(scored("control", result["control_returns"]))
    where = (f"{result['algo']} on {result['source_env']} -> {result['env']}, {result['seeds']} seed(s), "
             f"checkpoint iteration {result['checkpoint_iteration']} ({result['run_state']})")
    return f"{'; '.join(parts)} [{where}]"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = configflags.options_from_args(EvaluateOptions, args)
    except InvalidConfigError as err:  # before anything is loaded or compiled
        print(f"trirl evaluate: error: {err}", file=sys.stderr)
        return 2
    compile_cache.from_args(args)
    with plain_warnings("trirl evaluate"):
        return _evaluate(options, argv)


def _evaluate(options: EvaluateOptions, argv: list[str] | None) -> int:
    try:
        run = load_run(options.run, options.running, options.env, options.expert_returns)
        checks = diagnose(run, options.figure)
        start = time.monotonic()
        result = retrain(run, options.env, **options.retrain_options())
    except (InvalidConfigError, InvalidDemonstrationError) as err:
        print(f"trirl evaluate: error: {err}", file=sys.stderr)
        return 2
    result.update(checks)
    result.update(run.record)
    argv = argv if argv is not None else sys.argv[1:]
    result.update(command=" ".join(["trirl evaluate", *map(shlex.quote, argv)]),
                  run=str(options.run), wall_clock_s=round(time.monotonic() - start, 1),
                  date=datetime.now(UTC).isoformat(timespec="seconds"), commit=source_commit(),
                  machine=machine(accelerator=True, command=False))
    out = Path(options.out) if options.out else Path(options.run) / f"evaluate_{result['env']}.json"
    try:
        write_json(out, result)
    except RunDirWriteError as err:  # the retraining is not lost: the result goes to stdout instead
        print(f"{summary_line(result, run.returns)}\n{json.dumps(result, indent=1)}")
        print(f"trirl evaluate: error: {err}; the result is printed above", file=sys.stderr)
        return 2
    print(f"{summary_line(result, run.returns)}\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
