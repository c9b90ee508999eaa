"""Throughput: raw MJX physics env-steps/s against PPO training env-steps/s.

::

    trirl bench continuous --envs 1024,4096,16384 --env ant,humanoid --out bench.json

For each environment and batch size ``B`` it times (after compilation, ``block_until_ready``):

- ``physics``: ``physics_steps`` auto-reset env steps of ``B`` environments with random actions in
  one jitted ``lax.scan`` (one env step = ``frame_skip`` MJX steps);
- ``ppo``: ``ppo_iterations`` full PPO iterations (rollout + GAE + update) with ``num_envs = B``,
  the networks of ``continuous/<env>_expert.toml`` and minibatches of 512 where ``B * T`` allows.

and reports env-steps/s of both and their ratio (the share of time left to physics under PPO),
per wall-clock second and per process CPU second (all threads; the steadier figure on a machine
shared with other jobs).
With ``--trirl-k K`` (the paper uses ``k = 100``) it also times full TRIRL iterations
(:mod:`trirl.continuous.trirl`, max-eta) with a buffer of ``K`` discriminators, the networks of
``continuous/trirl_<env>.toml`` (else the defaults) and the same ``B`` and PPO settings, on
synthetic demonstrations of the right shapes (throughput does not depend on their content).
``peak_bytes_in_use`` is the device's peak memory so far in the process
(``jax.devices()[0].memory_stats()``; absent on CPU, where JAX does not report it)::

    trirl bench continuous --envs 4096 --env ant,humanoid --trirl-k 100 --out bench_trirl.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax

from trirl import configflags
from trirl.configfile import CONFIG_DIR
from trirl.continuous import compile_cache, envs
from trirl.continuous.expert import default_path, load_config as load_expert_config
from trirl.continuous.ppo import PPOConfig, make_ppo
from trirl.bench.profile_trirl import PROFILE_SIZES, COMPONENTS, profile_config, profile_main, synthetic_demos  # noqa: F401
from trirl.errors import InvalidConfigError
from trirl.provenance import machine
from trirl.rundir import write_json


def _timed(fn, *args, repeats: int = 1) -> tuple[float, float]:
    """Wall-clock and process CPU seconds (all threads) per call, after a compiling call."""
    jax.block_until_ready(fn(*args))  # compile and warm up
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats, (time.process_time() - start_cpu) / repeats


def physics_steps_per_second(env_name: str, num_envs: int, steps: int, key,
                             env_options: dict | None = None) -> tuple[float, float]:
    """Env-steps per wall-clock second and per CPU second of ``num_envs`` auto-reset envs."""
    env = envs.auto_reset(envs.make(env_name, env_options))

    @jax.jit
    def run(key):
        state = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def body(state, step_key):
            action = jax.random.uniform(step_key, (num_envs, env.action_size), minval=-1.0, maxval=1.0)
            return jax.vmap(env.step)(state, action), None

        state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
        return state.obs

    # the batched reset is inside the timed call: negligible against ``steps`` env steps
    wall, cpu = _timed(run, key)
    return num_envs * steps / wall, num_envs * steps / cpu


def env_options_for(env_name: str, config_path: str | Path | None = None) -> dict:
    """The ``[env_options]`` of ``config_path`` (default ``continuous/<env>_expert.toml``), e.g. ``version = 2``."""
    path = Path(config_path) if config_path else default_path(env_name)
    return dict(load_expert_config(path).env_options) if path.exists() else {}


def ppo_config_for(env_name: str, num_envs: int, config_path: str | Path | None = None) -> PPOConfig:
    """The ``[ppo]`` table of ``config_path`` (default ``continuous/<env>_expert.toml``) with
    ``num_envs`` environments and the same minibatch size (512 for the default files)."""
    path = Path(config_path) if config_path else default_path(env_name)
    base = load_expert_config(path).ppo if path.exists() else PPOConfig()
    size = base.minibatch_size if config_path else 512
    batch = num_envs * base.rollout_length
    minibatches = batch // size if batch % size == 0 and batch >= size else 1
    return dataclasses.replace(base, num_envs=num_envs, num_minibatches=minibatches)


def ppo_steps_per_second(env_name: str, num_envs: int, iterations: int, key,
                         config_path: str | Path | None = None) -> tuple[float, float, PPOConfig]:
    """Training env-steps per wall-clock second and per CPU second, and the config timed."""
    config = ppo_config_for(env_name, num_envs, config_path)
    ppo = make_ppo(envs.make(env_name, env_options_for(env_name, config_path)), config)
    state = jax.jit(ppo.init)(key)
    step = jax.jit(ppo.step)

    def run(state):
        for i in range(iterations):
            state, metrics = step(state, jax.random.fold_in(key, i))
        return metrics["policy_kl"]

    wall, cpu = _timed(run, state)
    return config.batch_size * iterations / wall, config.batch_size * iterations / cpu, config


def trirl_steps_per_second(env_name: str, num_envs: int, iterations: int, capacity: int, key) -> float:
    """Env-steps/s of full TRIRL iterations with a buffer of ``capacity`` discriminators."""
    from trirl.continuous import train, trirl

    path = CONFIG_DIR / f"trirl_{env_name}.toml"
    config = train.load_config(path if path.exists() else None, env=env_name)
    ppo_config = ppo_config_for(env_name, num_envs)
    ppo_config = dataclasses.replace(config.ppo, num_envs=num_envs, num_minibatches=ppo_config.num_minibatches)
    if ppo_config.batch_size % ppo_config.num_minibatches:
        ppo_config = dataclasses.replace(ppo_config, num_minibatches=1)
    learner_config = dataclasses.replace(config.learner_config(), ppo=ppo_config,
                                         buffer=dataclasses.replace(config.learner_config().buffer, capacity=capacity))
    env = envs.make(env_name, config.env_options)
    learner = trirl.make_trirl(env, learner_config, synthetic_demos(env))
    state = jax.jit(learner.init)(key)
    step = jax.jit(learner.step)

    def run(state):
        for i in range(iterations):
            state, metrics = step(state, jax.random.fold_in(key, i))
        return metrics["eta"]

    return ppo_config.batch_size * iterations / _timed(run, state)[0]


def peak_memory() -> int | None:
    stats = jax.devices()[0].memory_stats()
    return int(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None


@dataclass(frozen=True)
class BenchOptions:
    """``trirl bench continuous``'s options: one flag per field (:mod:`trirl.configflags`), validated here.

    Attributes:
        out: JSON results file.
        envs: batch sizes B to time, integers >= 1 (e.g. --envs 1024 4096 or --envs 1024,4096).
        env: environments to time.
        physics_steps: env steps per physics timing (an integer >= 1).
        ppo_iterations: PPO (and TRIRL) iterations per timing (an integer >= 1).
        trirl_k: also time TRIRL with this many buffered discriminators (paper: 100; 0 = skip).
        config: expert TOML whose [ppo] table to time: its rollout length, epochs, minibatch size
            and networks (default: continuous/<env>_expert.toml with minibatches of 512).
        seed: seed of the timed runs.
        profile: instead of the above, profile one TRIRL iteration part by part beside GAIL and
            PPO (:func:`profile_trirl`) at these network sizes (``PROFILE_SIZES``: trirl, authors),
            on the settings of --config, a TRIRL TOML (default continuous/trirl_<env>.toml; --envs is
            not used; --trirl-k sets k).
        repeats: timed calls per function in a profile (medians are reported; an integer >= 1).
        iterations_per_call: with --profile, also time the driver's loop for TRIRL and GAIL at these
            numbers of iterations per compiled call (e.g. 1 10; integers >= 1, the first the baseline).

    Raises:
        InvalidConfigError: naming the flag and the expected form.
    """

    out: str
    envs: tuple[int, ...] = (1024, 4096, 16384)
    env: tuple[str, ...] = ("ant", "humanoid")
    physics_steps: int = 100
    ppo_iterations: int = 3
    trirl_k: int = 0
    config: str | None = None
    seed: int = 0
    profile: tuple[str, ...] = ()
    repeats: int = 5
    iterations_per_call: tuple[int, ...] = ()

    def __post_init__(self):
        if not self.envs or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.envs):
            raise InvalidConfigError(f"--envs is {list(self.envs)}, expected batch sizes: integers >= 1")
        unknown = [name for name in self.env if name not in envs.ENV_NAMES]
        if not self.env or unknown:
            raise InvalidConfigError(f"--env is {list(self.env)}, expected names from {list(envs.ENV_NAMES)}")
        unknown = [name for name in self.profile if name not in PROFILE_SIZES]
        if unknown:
            raise InvalidConfigError(f"--profile is {list(self.profile)}, expected names from {list(PROFILE_SIZES)}")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.iterations_per_call):
            raise InvalidConfigError(f"--iterations-per-call is {list(self.iterations_per_call)}, expected integers >= 1")
        for name, low in (("physics_steps", 1), ("ppo_iterations", 1), ("trirl_k", 0), ("repeats", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidConfigError(f"{configflags.flag(name)} is {value!r}, expected an integer >= {low}")


def build_parser() -> argparse.ArgumentParser:
    """``trirl bench continuous``'s flags: one per :class:`BenchOptions` field, and the compilation cache's."""
    parser = argparse.ArgumentParser(prog="trirl bench continuous", description=__doc__.split("\n")[0])
    configflags.add_option_flags(parser, BenchOptions, choices={"env": envs.ENV_NAMES, "profile": tuple(PROFILE_SIZES)})
    compile_cache.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = configflags.options_from_args(BenchOptions, args)
    except InvalidConfigError as err:  # before anything is compiled
        print(f"trirl bench continuous: error: {err}", file=sys.stderr)
        return 2
    compile_cache.from_args(args)
    command = "trirl bench continuous " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    key = jax.random.PRNGKey(options.seed)
    if options.profile:
        return profile_main(options, command, key)
    rows = []
    for name in options.env:
        for size in options.envs:
            env_options = env_options_for(name, options.config)
            load_before = os.getloadavg()[0]
            physics, physics_cpu = physics_steps_per_second(name, size, options.physics_steps, key, env_options)
            ppo, ppo_cpu, config = ppo_steps_per_second(name, size, options.ppo_iterations, key, options.config)
            row = {"env": name, "num_envs": size, "physics_env_steps_per_s": physics,
                   "ppo_env_steps_per_s": ppo, "ppo_over_physics": ppo / physics,
                   "physics_env_steps_per_cpu_s": physics_cpu, "ppo_env_steps_per_cpu_s": ppo_cpu,
                   "ppo_over_physics_cpu": ppo_cpu / physics_cpu,
                   "rollout_length": config.rollout_length, "num_minibatches": config.num_minibatches,
                   "num_epochs": config.num_epochs, "policy_hidden": list(config.policy_hidden),
                   "value_hidden": list(config.value_hidden), "env_options": env_options,
                   "load_average_1min": [load_before, os.getloadavg()[0]]}  # before and after: a shared machine
            if options.trirl_k:
                trirl = trirl_steps_per_second(name, size, options.ppo_iterations, options.trirl_k, key)
                row.update(trirl_k=options.trirl_k, trirl_env_steps_per_s=trirl, trirl_over_ppo=trirl / ppo)
                print(f"{name:>12} B={size:>6}: TRIRL k={options.trirl_k} {trirl:12.0f} env-steps/s", flush=True)
            if (peak := peak_memory()) is not None:
                row["peak_bytes_in_use"] = peak
            rows.append(row)
            print(f"{name:>12} B={size:>6}: physics {physics:12.0f} env-steps/s, PPO {ppo:12.0f} env-steps/s, "
                  f"ratio {ppo / physics:.3f} (per CPU second {ppo_cpu / physics_cpu:.3f})", flush=True)
    write_json(Path(options.out), {"command": command, "machine": machine(accelerator=True, command=False), "device": str(jax.devices()[0]),
                                   "physics_steps": options.physics_steps, "ppo_iterations": options.ppo_iterations,
                                   "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
