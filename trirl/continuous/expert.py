"""Train PPO experts on the true reward, evaluate them against the random policy, collect demos.

::

    trirl expert train    --env point_maze --out runs/pm [--steps N] [--resume] [--config F]
                          [--max-minutes M]
    trirl expert evaluate --checkpoint runs/pm [--best] [--episodes 100] [--out|--json expert.json]
    trirl expert collect  --checkpoint runs/pm [--best] --out demos.npz [--episodes 30 --length 1000]

``evaluate`` prints a summary of the expert's and the uniform random policy's episodes (returns
mean +- std, lengths, falls, broken physics, the score on the paper's Table 8 scale) and
``--out``/``--json FILE`` writes the same numbers as JSON (:func:`expert_and_random_returns`).
``train`` writes a :class:`~trirl.rundir.RunDir` (config.json, metrics.jsonl, learning_curves.png, checkpoints/);
besides the newest checkpoints it keeps the best-evaluated one, ``checkpoints/best_step_XXXXXXXX.npz``
(the highest ``eval_return``; every evaluated row records ``best_iteration`` and ``best_eval_return``),
so a run that peaks and then degrades keeps its best policy: ``evaluate`` and ``collect`` use it with ``--best``.
``--resume`` continues from the newest checkpoint and reproduces the uninterrupted metrics,
because iteration ``i`` always uses the key ``fold_in(train_key, i)`` and the whole PPO state
(parameters, optimiser, normaliser, environments) is checkpointed. ``--max-minutes`` checkpoints
and exits cleanly after the iteration that crosses the wall-clock budget, so a long run comes in
resumable pieces. Every subcommand uses JAX's persistent compilation cache
(:mod:`trirl.continuous.compile_cache`; ``--no-compile-cache`` turns it off), so a resumed piece
does not compile the PPO iteration again.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trirl import configflags, driver
from trirl.configfile import CONFIG_DIR, build_config, override_flags, read_config, resolve_config
from trirl.continuous import checkpoint as ckpt
from trirl.continuous import compile_cache
from trirl.continuous import envs
from trirl.continuous.demos import Demonstrations, save_demonstrations
from trirl.continuous.evaluation import (episode_returns, expert_and_random_returns, policy_act_fn, run_episode,
                                        summary)
from trirl.continuous.rollout import MAY_BE_NAN
from trirl.continuous.ppo import PPO, PPOConfig, PPOState, make_ppo
from trirl.errors import InvalidConfigError, TrirlError
from trirl.learning_curves import write_learning_curves
from trirl.provenance import machine
from trirl.rundir import (STATE_PREFIX, Checkpoint, RunDir, best_checkpoint_file, interrupted_message,
                          newest_checkpoint, read_checkpoint, read_metrics, resume_command, saved_config, write_json)
from trirl.text import plural
#: flags whose name differs from the config field they set (``trirl expert train``, ``trirl train``)
ALIASES = {"total_steps": ("--steps",)}


@dataclass(frozen=True)
class ExpertConfig:
    """Training a PPO expert on the true reward (TOML: ``continuous/<env>_expert.toml``; top-level
    keys plus the ``[env_options]`` and ``[ppo]`` tables)."""

    env: str  #: environment name (``trirl.continuous.envs.ENV_NAMES``)
    seed: int = 0  #: seed of parameters, environments and sampling
    total_steps: int = 200_000  #: environment steps to train for (rounded up to whole iterations)
    eval_every: int = 10  #: iterations between deterministic evaluations
    eval_episodes: int = 32  #: episodes per evaluation
    checkpoint_every: int = 10  #: iterations between checkpoints (and always at the end)
    env_options: dict[str, Any] = field(default_factory=dict)  #: fields of the env's config dataclass
    ppo: PPOConfig = PPOConfig()  #: PPO hyperparameters

    def __post_init__(self):
        if self.env not in envs.ENV_NAMES:
            raise InvalidConfigError(f"ExpertConfig.env: unknown environment {self.env!r}; choose one of {envs.ENV_NAMES}")
        configflags.check_fields(self, {name: ">= 1" for name in
                                        ("total_steps", "eval_every", "eval_episodes", "checkpoint_every")})
        envs.make_config(self.env, self.env_options)  # validates the env options now

    @property
    def iterations(self) -> int:
        return math.ceil(self.total_steps / self.ppo.batch_size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def env_config_class(data: Mapping[str, Any], default: str = "point_maze"):
    """The config dataclass of ``data["env"]`` (it checks ``[env_options]``), if the env is known."""
    env = data.get("env", default)
    return type(envs.make_config(env)) if isinstance(env, str) and env in envs.ENV_NAMES else None


def from_dict(data: Mapping[str, Any], source: str = "expert config", flags: Mapping[str, str] | None = None) -> ExpertConfig:
    """An :class:`ExpertConfig` from plain data (a TOML table or a run's ``config.json``); ``source``
    names it in errors, ``flags`` the command-line flags that set keys (:func:`trirl.configfile.build_config`)."""
    return build_config(ExpertConfig, data, source, tables={"env_options": env_config_class(data)}, flags=flags)


def load_config(path: str | Path, **overrides) -> ExpertConfig:
    """Read an :class:`ExpertConfig` from TOML (a path or a shipped name,
    :func:`trirl.configfile.resolve_config`); ``overrides`` (e.g. ``total_steps``, or ``ppo={...}``
    merged key by key) win, and errors name them by their flag (``--steps``)."""
    path, data = read_config(path)
    return from_dict(configflags.merge(data, overrides), str(path), override_flags(overrides, ALIASES))


def default_path(env: str) -> Path:
    """The shipped ``continuous/<env>_expert.toml`` (it may not exist for every env)."""
    return CONFIG_DIR / f"{env}_expert.toml"


def config_from_args(args: argparse.Namespace) -> ExpertConfig:
    """The config ``trirl expert train`` runs, parsed once: ``--config`` (default: the shipped
    ``<env>_expert.toml`` if there is one, else the defaults) with the flags the user set.

    Raises:
        InvalidConfigError: ``--env`` is missing; the file names another env than ``--env``
            (naming both); or any bad value (naming the file's ``[section] key`` or the flag).
    """
    given = configflags.overrides(args)
    env = given.get("env")
    if env is None:
        raise InvalidConfigError(f"--env is required: the environment to train on, one of {', '.join(envs.ENV_NAMES)}")
    listed = {"pattern": "*expert*.toml", "kind": "expert config"}  # a missing --config lists the shipped experts
    path = resolve_config(args.config, **listed) if args.config else default_path(env)
    if not args.config and not path.exists():
        return from_dict(given, "defaults", override_flags(given, ALIASES))
    path, data = read_config(path)
    if data.get("env", env) != env:
        raise InvalidConfigError(f"--env {env}, but {path}: env = {data['env']!r}; drop --env or pass a config for {env}")
    merged = configflags.merge(data, given)  # --env fills a file without an env key
    return from_dict(merged, str(path), override_flags(given, ALIASES))


def build(config: ExpertConfig) -> PPO:
    return make_ppo(envs.make(config.env, config.env_options), config.ppo)


def finite(metrics: dict) -> dict:
    """Python scalars of the metrics, without NaN entries (e.g. no finished episode this iteration)."""
    out = {k: np.asarray(v).item() for k, v in metrics.items()}
    return {k: v for k, v in out.items() if not (isinstance(v, float) and not np.isfinite(v))}


def train(config: ExpertConfig, out: str | Path, resume: bool = False, progress: bool = True,
          max_minutes: float | None = None) -> PPOState:
    """Train (or, with ``resume``, continue) an expert; returns the final PPO state.

    The loop is :func:`trirl.driver.run` over PPO; the expert's own part is the row (the finite
    metrics, ``env_steps`` and a deterministic evaluation every ``eval_every`` iterations) and the
    best-evaluated checkpoint (:class:`~trirl.continuous.checkpoint.BestEvaluation`).
    With ``max_minutes`` it checkpoints and returns after the iteration that crosses that much
    wall clock (compilation included); ``--resume`` continues from there.

    Raises:
        KeyboardInterrupt: after Ctrl-C, once the iteration under way is logged and checkpointed.
        InvalidConfigError: naming ``--max-minutes`` when it is not > 0.
        NonFiniteError: a metric or a state leaf became NaN or infinite (named).
    """
    if max_minutes is not None and not max_minutes > 0:
        raise InvalidConfigError(f"--max-minutes must be > 0, got {max_minutes}")
    started = time.monotonic()
    ppo = build(config)
    run = RunDir(out, config.to_dict(), resume=resume, ignore=("total_steps",))
    init_key, train_key, eval_key = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    base_env = envs.make(config.env, config.env_options)

    def meta(iteration: int) -> dict:
        return {"env_spec": base_env.spec.to_dict(), "env_steps": iteration * config.ppo.batch_size}

    best = ckpt.BestEvaluation(run, "eval_return", meta)  # a run that peaks, then degrades, keeps its best policy

    @jax.jit
    def evaluate(state: PPOState, key):
        act = policy_act_fn(ppo.networks, state.params.policy, state.normalizer)
        return episode_returns(base_env, act, key, config.eval_episodes)

    def row(iteration, state, metrics, seconds, previous) -> dict:
        row = finite(metrics)
        row["env_steps"] = iteration * config.ppo.batch_size
        if iteration % config.eval_every == 0 or iteration == config.iterations:
            row["eval_return"] = float(jnp.mean(evaluate(state, jax.random.fold_in(eval_key, iteration - 1))))
        return best.row(iteration, row)

    # the PPO iteration is compiled; so is init: run op by op, the batched MJX reset costs minutes
    # of CPU on a laptop (a resumed run only takes init's shapes: no physics run, nothing compiled)
    outcome = driver.run(
        driver.jitted(ppo, name=f"PPO {config.env}"), config.iterations, init_key=init_key, key=train_key,
        run_dir=run, checkpoint_every=config.checkpoint_every, restore_optional=ckpt.OPTIONAL,
        hooks=driver.Hooks(
            checkpoint_meta=lambda iteration, _: meta(iteration), row=row, callback=best.save,
            nonfinite=driver.jitted_nonfinite, may_be_nan=MAY_BE_NAN,
            on_stop=lambda status: write_learning_curves(run.path, f"PPO expert on {config.env}")),
        progress=driver.Progress(
            progress, postfix=lambda row: f"eval_return={row['eval_return']:.1f}" if "eval_return" in row else None),
        max_minutes=max_minutes, started=started, finish_on_interrupt=True,
    )
    if outcome.status == "interrupted":
        raise KeyboardInterrupt
    return outcome.state


def load_expert(path: str | Path, best: bool = False) -> tuple[ExpertConfig, PPO, PPOState]:
    """The config, algorithm and state of a run directory's newest checkpoint (``best``: its
    best-evaluated one, :func:`best_checkpoint`), or of a checkpoint file."""
    return _load(path, best)[:3]


def best_checkpoint(run: str | Path) -> Path:
    """The best-evaluated checkpoint of a run directory (``checkpoints/best_step_XXXXXXXX.npz``, kept
    by :func:`train`: the highest ``eval_return``).

    Raises:
        InvalidConfigError: ``run`` is a checkpoint file, or the run holds no best checkpoint.
    """
    run = Path(run)
    if run.suffix == ".npz":
        raise InvalidConfigError(f"--best picks a run's best checkpoint: pass the run directory to --checkpoint, not "
                                 f"{run} (or drop --best to use that file)")
    found = best_checkpoint_file(run)
    if found is None:
        raise InvalidConfigError(
            f"--checkpoint {run} --best: the run holds no best checkpoint (checkpoints/best_step_*.npz, written at "
            "each evaluation that beats the ones before): it has not been evaluated yet, or an older trirl trained "
            "it (trirl expert train --resume keeps one from then on); drop --best to use its newest checkpoint")
    return found


def _load(path: str | Path, best: bool = False) -> tuple[ExpertConfig, PPO, PPOState, Checkpoint]:
    path = Path(path)
    run_path = path.parent.parent if path.suffix == ".npz" else path
    config_path = run_path / "config.json"
    data = saved_config(run_path)  # config.json, or the newest checkpoint's record of it
    if data is None:
        raise InvalidConfigError(f"--checkpoint: {run_path} is not a run directory ({config_path} missing)")
    if "algo" in data:  # a trirl train run: an IRL learner's checkpoint, not an expert's
        raise InvalidConfigError(f"--checkpoint: {run_path} is a trirl train run ({data['algo']} on {data.get('env')}), "
                                 f"not an expert's; evaluate its policy and reward with: trirl evaluate --run {run_path}")
    config = from_dict(data, str(config_path))
    path = best_checkpoint(path) if best else path
    # before anything is built: the newest readable checkpoint (a damaged newest one falls back)
    checkpoint = read_checkpoint(path) if path.suffix == ".npz" else newest_checkpoint(run_path)
    if checkpoint is None:
        raise InvalidConfigError(f"--checkpoint: {run_path} holds no checkpoint yet")
    ppo = build(config)
    template = jax.eval_shape(ppo.init, jax.random.PRNGKey(0))  # shapes only, no physics run
    return config, ppo, ckpt.unflatten(template, checkpoint.arrays, STATE_PREFIX), checkpoint


def collect(config: ExpertConfig, ppo: PPO, state: PPOState, key, episodes: int, length: int | None,
            deterministic: bool = False) -> Demonstrations:
    """Roll out the expert for ``episodes`` episodes of at most ``length`` steps."""
    options = dict(config.env_options)
    if length is not None:
        options["episode_length"] = length
    env = envs.make(config.env, options)
    act = policy_act_fn(ppo.networks, state.params.policy, state.normalizer, deterministic)

    @jax.jit
    def one(episode_key):
        states, obs, actions, alive = run_episode(env, act, episode_key, env.spec.episode_length)

        def pad_with_zeros(x):  # steps after the episode ended are padding (schema: zeros)
            return jnp.where(alive.reshape(alive.shape + (1,) * (x.ndim - 1)), x, 0)

        return (pad_with_zeros(obs), pad_with_zeros(actions), pad_with_zeros(states.next_obs),
                states.absorbing & alive, pad_with_zeros(states.reward), alive.sum())

    obs, actions, next_obs, absorbing, rewards, lengths = jax.vmap(one)(jax.random.split(key, episodes))
    rewards = np.asarray(rewards, np.float32)
    return Demonstrations(
        observations=np.asarray(obs, np.float32),
        actions=np.asarray(actions, np.float32),
        next_observations=np.asarray(next_obs, np.float32),
        absorbing=np.asarray(absorbing, bool),
        rewards=rewards,
        lengths=np.asarray(lengths, np.int32),
        returns=rewards.sum(1),
        env_spec=env.spec.to_dict(),
    )


def without_falls(demos: Demonstrations, episodes: int) -> Demonstrations:
    """The first ``episodes`` episodes of ``demos`` (in rollout order) that did not end absorbing.

    For demonstrations of an expert that sometimes falls: a fall puts the absorbing state in the
    demonstrations' support, and an imitator then learns to fall (Appendix C.4). Keeping only the
    episodes without one conditions the demonstrations on not falling, which the caller reports
    (``trirl expert collect --without-falls`` prints how many of the rollouts fell).

    Raises:
        InvalidConfigError: fewer than ``episodes`` episodes ended without a fall.
    """
    kept = np.flatnonzero(~demos.absorbing.any(axis=1))
    if kept.size < episodes:
        raise InvalidConfigError(
            f"--without-falls: only {kept.size} of {demos.lengths.size} rollouts ended without a fall, "
            f"{episodes} wanted; roll out more with --candidates (default 3 x --episodes), or train the expert longer")
    chosen = kept[:episodes]
    return demos._replace(**{name: getattr(demos, name)[chosen] for name in Demonstrations._fields
                             if name != "env_spec"})


BEST_HELP = ("use the run's best-evaluated checkpoint (the highest eval_return during training, kept as "
             "checkpoints/best_step_*.npz) instead of its newest")


def build_parser() -> argparse.ArgumentParser:
    """``trirl expert``'s subcommands and flags (``train`` has one per :class:`ExpertConfig` field)."""
    parser = argparse.ArgumentParser(prog="trirl expert", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a PPO expert on the true reward")
    p_train.add_argument("--out", required=True, help="run directory")
    p_train.add_argument("--config", help="TOML config: a path or a shipped name (default: the shipped "
                                          "<env>_expert.toml); the flags below override its fields")
    p_train.add_argument("--resume", action="store_true", help="continue the run in --out")
    configflags.add_config_flags(p_train, ExpertConfig, aliases=ALIASES, choices={"env": envs.ENV_NAMES})
    p_train.add_argument("--max-minutes", type=float,
                         help="checkpoint and exit after this much wall clock (continue with --resume)")
    p_eval = sub.add_parser("evaluate", help="expert and random-policy returns (Table 8 normalisation)",
                            description="The expert's deterministic returns and uniform random actions' (Table 8 normalisation).")
    p_eval.add_argument("--checkpoint", required=True, help="run directory or checkpoints/step_*.npz")
    p_eval.add_argument("--best", action="store_true", help=BEST_HELP)
    p_eval.add_argument("--episodes", type=int, default=100, help="episodes of each policy (default: 100)")
    p_eval.add_argument("--seed", type=int, default=1, help="random seed of the episodes (default: 1)")
    p_eval.add_argument("--out", "--json", dest="out", metavar="FILE",
                        help="also write the summary as JSON here (machine-readable: every number printed)")
    p_collect = sub.add_parser("collect", help="write expert demonstrations",
                               description="Roll the expert out and write its demonstrations (.npz).")
    p_collect.add_argument("--checkpoint", required=True, help="run directory or checkpoints/step_*.npz")
    p_collect.add_argument("--best", action="store_true", help=BEST_HELP)
    p_collect.add_argument("--out", required=True, help="demonstration file (.npz)")
    p_collect.add_argument("--episodes", type=int, default=30, help="episodes to write (default: 30)")
    p_collect.add_argument("--length", type=int, help="episode length (default: the env's time limit)")
    p_collect.add_argument("--seed", type=int, default=2, help="random seed of the episodes (default: 2)")
    p_collect.add_argument("--deterministic", action="store_true", help="act with the policy mean")
    p_collect.add_argument("--without-falls", action="store_true",
                           help="keep only episodes that did not end absorbing (a fall): the first --episodes of "
                                "--candidates rollouts; prints how many fell")
    p_collect.add_argument("--candidates", type=int, default=None,
                           help="rollouts to choose from with --without-falls (default: 3 x --episodes)")
    for sub_parser in (p_train, p_eval, p_collect):
        compile_cache.add_arguments(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``trirl expert``: errors are printed as ``trirl expert SUBCOMMAND: error: ...`` (exit status 2)."""
    args = build_parser().parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    program = f"trirl expert {args.command}"
    try:
        compile_cache.from_args(args)
        if args.command == "train":
            return _train(args, argv, program)
        return _use(args, argv)
    except TrirlError as err:  # bad input: no traceback
        print(f"{program}: error: {err}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace, argv: list[str], program: str) -> int:
    config = config_from_args(args)
    try:
        train(config, args.out, resume=args.resume, max_minutes=args.max_minutes)
    except KeyboardInterrupt:
        print(f"{program}: {interrupted_message(args.out, resume_command('trirl expert', argv))}", file=sys.stderr)
        return 130
    rows = read_metrics(args.out)
    evals = [r for r in rows if "eval_return" in r]
    done = len(rows) >= config.iterations
    print(f"{'trained' if done else 'paused after'} {len(rows)} of {plural(config.iterations, 'iteration')}; "
          + (f"last eval_return {evals[-1]['eval_return']:.2f}" if evals else "no evaluation yet"))
    if evals and "best_iteration" in evals[-1]:
        print(f"best eval_return {evals[-1]['best_eval_return']:.2f} at iteration {evals[-1]['best_iteration']}, kept "
              f"as {best_checkpoint_file(args.out)} (trirl expert evaluate|collect --checkpoint {args.out} --best)")
    if not done:
        print("continue with: trirl expert " + " ".join(map(shlex.quote, [a for a in argv if a != "--resume"]))
              + " --resume")
    return 0


def _use(args: argparse.Namespace, argv: list[str]) -> int:
    """``trirl expert evaluate`` and ``collect``."""
    if args.episodes < 1:
        raise InvalidConfigError(f"--episodes must be >= 1, got {args.episodes}")
    config, ppo, state, checkpoint = _load(args.checkpoint, args.best)
    if args.best:
        print(f"the best checkpoint: iteration {checkpoint.step} (eval_return {checkpoint.meta['eval_return']:.2f} "
              f"during training), {best_checkpoint_file(args.checkpoint)}")
    key = jax.random.PRNGKey(args.seed)
    if args.command == "evaluate":
        result = dict(expert_and_random_returns(config, ppo, state, key, args.episodes),
                      checkpoint_iteration=checkpoint.step, command="trirl expert " + shlex.join(argv),
                      machine=machine(accelerator=True, command=False))
        print(summary(result))
        if args.out:
            write_json(Path(args.out), result)
        return 0
    if args.length is not None and args.length < 1:
        raise InvalidConfigError(f"--length must be >= 1, got {args.length}")
    candidates = args.episodes
    if args.without_falls:
        candidates = 3 * args.episodes if args.candidates is None else args.candidates
        if candidates < args.episodes:
            raise InvalidConfigError(f"--candidates must be >= --episodes ({args.episodes}), got {candidates}")
    elif args.candidates is not None:
        raise InvalidConfigError("--candidates needs --without-falls")
    demos = collect(config, ppo, state, key, candidates, args.length, args.deterministic)
    if args.without_falls:
        fell, mean_all = int(demos.absorbing.any(axis=1).sum()), float(demos.returns.mean())
        demos = without_falls(demos, args.episodes)  # raises, naming the counts, when too few did not fall
        print(f"{fell} of {plural(candidates, 'rollout')} ended by a fall (absorbing); kept the first {args.episodes} "
              f"without one (mean return of all {candidates}: {mean_all:.2f})")
    save_demonstrations(args.out, demos)
    print(f"wrote {plural(args.episodes, 'episode')} to {args.out}: mean return {demos.returns.mean():.2f}, "
          f"mean length {demos.lengths.mean():.1f}, {int(demos.absorbing.any(axis=1).sum())} ended absorbing (falls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
