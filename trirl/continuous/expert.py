"""Train PPO experts on the true reward, evaluate them against the random policy, collect demos.

::

    trirl expert train    --env point_maze --out runs/pm [--steps N] [--resume] [--config F]
                          [--max-minutes M]
    trirl expert evaluate --checkpoint runs/pm [--episodes 100] [--out|--json expert.json]
    trirl expert collect  --checkpoint runs/pm --out demos.npz [--episodes 30 --length 1000]

``evaluate`` prints a summary of the expert's and the uniform random policy's episodes (returns
mean +- std, lengths, falls, broken physics, the score on the paper's Table 8 scale) and
``--out``/``--json FILE`` writes the same numbers as JSON (:func:`expert_and_random_returns`).
``train`` writes a :class:`~trirl.rundir.RunDir` (config.json, metrics.jsonl, learning_curves.png, checkpoints/);
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
from trirl.continuous.evaluation import (PAPER_TABLE8, episode_outcomes, episode_returns, normalized_return,
                                        policy_act_fn, random_act_fn, run_episode)
from trirl.continuous.rollout import MAY_BE_NAN
from trirl.continuous.ppo import PPO, PPOConfig, PPOState, make_ppo
from trirl.errors import InvalidConfigError, TrirlError
from trirl.learning_curves import write_learning_curves
from trirl.provenance import machine
from trirl.rundir import (STATE_PREFIX, RunDir, RunDirLockedError, interrupted_message, newest_checkpoint,
                          read_checkpoint, read_metrics, resume_command, saved_config, write_json)
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
    path = resolve_config(args.config) if args.config else default_path(env)
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
    metrics, ``env_steps`` and a deterministic evaluation every ``eval_every`` iterations).
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

    @jax.jit
    def evaluate(state: PPOState, key):
        act = policy_act_fn(ppo.networks, state.params.policy, state.normalizer)
        return episode_returns(base_env, act, key, config.eval_episodes)

    def row(iteration, state, metrics, seconds, previous) -> dict:
        row = finite(metrics)
        row["env_steps"] = iteration * config.ppo.batch_size
        if iteration % config.eval_every == 0 or iteration == config.iterations:
            row["eval_return"] = float(jnp.mean(evaluate(state, jax.random.fold_in(eval_key, iteration - 1))))
        return row

    # the PPO iteration is compiled; so is init: run op by op, the batched MJX reset costs minutes
    # of CPU on a laptop (a resumed run only takes init's shapes: no physics run, nothing compiled)
    outcome = driver.run(
        driver.jitted(ppo, name=f"PPO {config.env}"), config.iterations, init_key=init_key, key=train_key,
        run_dir=run, checkpoint_every=config.checkpoint_every, restore_optional=ckpt.OPTIONAL,
        hooks=driver.Hooks(
            checkpoint_meta=lambda iteration, _: {"env_spec": base_env.spec.to_dict(),
                                                  "env_steps": iteration * config.ppo.batch_size},
            row=row, nonfinite=driver.jitted_nonfinite, may_be_nan=MAY_BE_NAN,
            on_stop=lambda status: write_learning_curves(run.path, f"PPO expert on {config.env}")),
        progress=driver.Progress(
            progress, postfix=lambda row: f"eval_return={row['eval_return']:.1f}" if "eval_return" in row else None),
        max_minutes=max_minutes, started=started, finish_on_interrupt=True,
    )
    if outcome.status == "interrupted":
        raise KeyboardInterrupt
    return outcome.state


def load_expert(path: str | Path) -> tuple[ExpertConfig, PPO, PPOState]:
    """The config, algorithm and state of a run directory (its newest checkpoint)."""
    path = Path(path)
    run_path = path.parent.parent if path.suffix == ".npz" else path
    config_path = run_path / "config.json"
    data = saved_config(run_path)  # config.json, or the newest checkpoint's record of it
    if data is None:
        raise InvalidConfigError(f"--checkpoint: {run_path} is not a run directory ({config_path} missing)")
    config = from_dict(data, str(config_path))
    # before anything is built: the newest readable checkpoint (a damaged newest one falls back)
    checkpoint = read_checkpoint(path) if path.suffix == ".npz" else newest_checkpoint(run_path)
    if checkpoint is None:
        raise InvalidConfigError(f"--checkpoint: {run_path} holds no checkpoint yet")
    ppo = build(config)
    template = jax.eval_shape(ppo.init, jax.random.PRNGKey(0))  # shapes only, no physics run
    return config, ppo, ckpt.unflatten(template, checkpoint.arrays, STATE_PREFIX)


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


def _outcome_fields(prefix: str, outcomes) -> dict:
    returns, lengths = np.asarray(outcomes.returns, np.float64), np.asarray(outcomes.lengths)
    broken = int(np.asarray(outcomes.broken_physics).sum())
    return {f"{prefix}_return": float(returns.mean()), f"{prefix}_return_std": float(returns.std()),
            f"{prefix}_return_min": float(returns.min()), f"{prefix}_return_max": float(returns.max()),
            f"{prefix}_length_mean": float(lengths.mean()), f"{prefix}_length_min": int(lengths.min()),
            f"{prefix}_length_max": int(lengths.max()),
            f"{prefix}_falls": int(np.asarray(outcomes.absorbing).sum()) - broken,
            f"{prefix}_broken_physics": broken}


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


def expert_and_random_returns(config: ExpertConfig, ppo: PPO, state: PPOState, key, episodes: int) -> dict:
    """The expert's (deterministic) and the uniform random policy's episodes, summarised.

    Returns a JSON-ready dict: ``env``, ``version``, ``episodes``, ``episode_length``; for
    ``expert`` and ``random``: ``<who>_return`` (mean), ``_return_std``, ``_return_min``,
    ``_return_max``, ``_length_mean``, ``_length_min``, ``_length_max``, ``_falls`` (episodes that
    ended absorbing: unhealthy, paper C.4) and ``_broken_physics`` (ended by non-finite or diverged
    physics, ``envs/base.py``); for the suite's tasks also the paper's Table 8 returns
    (``paper_expert_return``, ``paper_random_return``) and this expert's score on their scale,
    ``paper_normalized_return`` = ``(R - R_random) / (R_expert - R_random)`` with the paper's two.
    """
    env = envs.make(config.env, config.env_options)
    expert_key, random_key = jax.random.split(key)
    act = policy_act_fn(ppo.networks, state.params.policy, state.normalizer)
    expert = jax.jit(lambda k: episode_outcomes(env, act, k, episodes))(expert_key)
    random = jax.jit(lambda k: episode_outcomes(env, random_act_fn(env.action_size), k, episodes))(random_key)
    result = {"env": config.env, "version": env.spec.version, "episodes": episodes,
              "episode_length": env.spec.episode_length,
              **_outcome_fields("expert", expert), **_outcome_fields("random", random)}
    if config.env in PAPER_TABLE8:
        paper_expert, paper_random = PAPER_TABLE8[config.env]
        result.update(paper_expert_return=paper_expert, paper_random_return=paper_random,
                      paper_normalized_return=float(normalized_return(result["expert_return"], paper_expert, paper_random)))
    return result


def summary(result: Mapping[str, Any]) -> str:
    """``trirl expert evaluate``'s report of :func:`expert_and_random_returns`, as lines of text."""
    lines = [f"{result['env']} (version {result['version']}): {result['episodes']} episodes of at most "
             f"{result['episode_length']} steps each"]
    for who, name in (("expert", "expert (deterministic)"), ("random", "uniform random")):
        get = lambda field: result[f"{who}_{field}"]  # noqa: E731
        ends = f"{get('falls')} of {result['episodes']} ended by a fall (absorbing)"
        if get("broken_physics"):
            ends += f", {get('broken_physics')} by non-finite or diverged physics (the env's max_qvel)"
        lines.append(f"  {name:<22} return {get('return'):10.1f} +- {get('return_std'):.1f} "
                     f"(min {get('return_min'):.1f}, max {get('return_max'):.1f}); length {get('length_mean'):.1f} "
                     f"(min {get('length_min')}, max {get('length_max')}); {ends}")
    if "paper_normalized_return" in result:
        note = "" if result["version"] == 2 else " (version 1 is not the paper's environment: not comparable)"
        lines.append(f"  expert-normalised: {result['paper_normalized_return']:.2f} of the paper's expert "
                     f"(Table 8: expert {result['paper_expert_return']:.1f}, random {result['paper_random_return']:.1f};"
                     f" (R - R_random) / (R_expert - R_random)){note}")
    return "\n".join(lines)


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
    p_eval = sub.add_parser("evaluate", help="expert and random-policy returns (Table 8 normalisation)")
    p_eval.add_argument("--checkpoint", required=True, help="run directory or checkpoints/step_*.npz")
    p_eval.add_argument("--episodes", type=int, default=100)
    p_eval.add_argument("--seed", type=int, default=1)
    p_eval.add_argument("--out", "--json", dest="out", metavar="FILE",
                        help="also write the summary as JSON here (machine-readable: every number printed)")
    p_collect = sub.add_parser("collect", help="write expert demonstrations")
    p_collect.add_argument("--checkpoint", required=True, help="run directory or checkpoints/step_*.npz")
    p_collect.add_argument("--out", required=True, help="demonstration file (.npz)")
    p_collect.add_argument("--episodes", type=int, default=30)
    p_collect.add_argument("--length", type=int, help="episode length (default: the env's time limit)")
    p_collect.add_argument("--seed", type=int, default=2)
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
    args = build_parser().parse_args(argv)
    compile_cache.from_args(args)
    command = "trirl expert " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    if args.command == "train":
        config = config_from_args(args)
        try:
            train(config, args.out, resume=args.resume, max_minutes=args.max_minutes)
        except KeyboardInterrupt:
            resume = resume_command("trirl expert", sys.argv[1:] if argv is None else argv)
            print(f"trirl expert: {interrupted_message(args.out, resume)}", file=sys.stderr)
            return 130
        except RunDirLockedError as err:
            print(f"trirl expert: error: {err}", file=sys.stderr)
            return 2
        rows = read_metrics(args.out)
        evals = [r["eval_return"] for r in rows if "eval_return" in r]
        done = len(rows) >= config.iterations
        print(f"{'trained' if done else 'paused after'} {len(rows)} of {config.iterations} iterations; "
              f"last eval_return {evals[-1] if evals else float('nan'):.2f}")
        if not done:
            resume = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--resume"]
            print("continue with: trirl expert " + " ".join(map(shlex.quote, resume)) + " --resume")
        return 0
    if args.episodes < 1:
        raise InvalidConfigError(f"--episodes must be >= 1, got {args.episodes}")
    config, ppo, state = load_expert(args.checkpoint)
    key = jax.random.PRNGKey(args.seed)
    if args.command == "evaluate":
        result = dict(expert_and_random_returns(config, ppo, state, key, args.episodes), command=command,
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
        print(f"{fell} of {candidates} rollouts ended by a fall (absorbing); kept the first {args.episodes} "
              f"without one (mean return of all {candidates}: {mean_all:.2f})")
    save_demonstrations(args.out, demos)
    print(f"wrote {args.episodes} episodes to {args.out}: mean return {demos.returns.mean():.2f}, "
          f"mean length {demos.lengths.mean():.1f}, {int(demos.absorbing.any(axis=1).sum())} ended absorbing (falls)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TrirlError as err:  # as `trirl expert` reports it: no traceback for bad input
        print(f"trirl expert: error: {err}", file=sys.stderr)
        sys.exit(2)
