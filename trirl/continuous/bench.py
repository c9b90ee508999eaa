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
import functools
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax

from trirl import configflags
from trirl.configfile import CONFIG_DIR
from trirl.continuous import compile_cache, envs
from trirl.continuous import networks as nets
from trirl.continuous.expert import default_path, load_config as load_expert_config, machine
from trirl.continuous.ppo import PPOConfig, make_ppo
from trirl.errors import InvalidConfigError
from trirl.rundir import write_json


def _timed(fn, *args, repeats: int = 1) -> tuple[float, float]:
    """Wall-clock and process CPU seconds (all threads) per call, after a compiling call."""
    jax.block_until_ready(fn(*args))  # compile and warm up
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats, (time.process_time() - start_cpu) / repeats


def physics_steps_per_second(env_name: str, num_envs: int, steps: int, key) -> tuple[float, float]:
    """Env-steps per wall-clock second and per CPU second of ``num_envs`` auto-reset envs."""
    env = envs.auto_reset(envs.make(env_name))

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
    ppo = make_ppo(envs.make(env_name), config)
    state = jax.jit(ppo.init)(key)
    step = jax.jit(ppo.step)

    def run(state):
        for i in range(iterations):
            state, metrics = step(state, jax.random.fold_in(key, i))
        return metrics["policy_kl"]

    wall, cpu = _timed(run, state)
    return config.batch_size * iterations / wall, config.batch_size * iterations / cpu, config


def synthetic_demos(env, episodes: int = 4, length: int = 50):
    """Random demonstrations with the env's sizes (for timing only)."""
    import numpy as np

    from trirl.continuous.demos import Demonstrations

    rng = np.random.default_rng(0)
    obs = rng.normal(size=(episodes, length, env.observation_size)).astype(np.float32)
    return Demonstrations(obs, rng.uniform(-1, 1, (episodes, length, env.action_size)).astype(np.float32), obs,
                          np.zeros((episodes, length), bool), np.zeros((episodes, length), np.float32),
                          np.full(episodes, length, np.int32), np.zeros(episodes, np.float32), env.spec.to_dict())


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


#: network sizes of the per-component profile (``--profile``), over ``continuous/trirl_<env>.toml``:
#: trirl's own, and the TRIRL authors' (512-256-128 policy and critic, 512-256 discriminator)
PROFILE_SIZES = {
    "trirl": {},
    "authors": {"ppo": {"policy_hidden": [512, 256, 128], "value_hidden": [512, 256, 128]},
                "discriminator": {"hidden_sizes": [512, 256]}},
}
#: the parts of one TRIRL iteration (Algorithm 2), in order, as :func:`profile_trirl` times them
COMPONENTS = ("rollout", "discriminator_update", "rewards", "reward_fit", "gae", "ppo_epochs",
              "projection_and_line_search", "host_transfer")


def _median_times(fns: dict, repeats: int) -> dict[str, dict[str, float]]:
    """Median wall-clock and process CPU seconds (all threads) per call of each ``fns[name]()``
    (already compiled), the functions called in turn ``repeats`` times so that a load from other
    jobs hits them alike."""
    import numpy as np

    samples = {name: ([], []) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn())
            samples[name][0].append(time.perf_counter() - start)
            samples[name][1].append(time.process_time() - start_cpu)
    return {name: {"wall_s": float(np.median(wall)), "cpu_s": float(np.median(cpu))}
            for name, (wall, cpu) in samples.items()}


def profile_config(env_name: str, sizes: str, capacity: int = 0, config_path: str | Path | None = None):
    """The :class:`~trirl.continuous.train.TrainConfig` a profile times: ``config_path`` (default
    ``continuous/trirl_<env>.toml``, else the defaults) with the networks of ``PROFILE_SIZES[sizes]``
    and, if ``capacity``, that many buffered discriminators."""
    from trirl.continuous import train

    path = Path(config_path) if config_path else CONFIG_DIR / f"trirl_{env_name}.toml"
    overrides = dict(PROFILE_SIZES[sizes])
    if capacity:
        overrides["buffer"] = {"capacity": capacity}
    return train.load_config(path if path.exists() else None, env=env_name, algo="trirl", **overrides)


def profile_trirl(env_name: str, sizes: str, capacity: int, repeats: int, key,
                  config_path: str | Path | None = None) -> dict:
    """Seconds per TRIRL iteration (max-eta, the config's acting policy), per GAIL iteration and
    per PPO iteration on the same settings (:func:`profile_config`), one seed vmapped as
    ``trirl train`` runs it, and the seconds of each part of the TRIRL iteration (``COMPONENTS``)
    compiled on its own (their sum exceeds the iteration, which XLA compiles as one program).

    The buffer is full (``k = capacity`` valid pairs): its cost does not depend on its contents.
    Demonstrations are :func:`synthetic_demos` (throughput does not depend on them).
    """
    import jax.numpy as jnp

    from trirl import driver
    from trirl.continuous import baselines, trirl
    from trirl.continuous import discriminator as disc
    from trirl.continuous import reward as buffer_lib
    from trirl.continuous import trpl
    from trirl.continuous.ppo import Batch, advantages, absorbing_value, update
    from trirl.continuous.rollout import rollout

    config = profile_config(env_name, sizes, capacity, config_path)
    learner_config = config.learner_config()
    env = envs.make(env_name, config.env_options)
    demos = synthetic_demos(env)
    learners = {
        "trirl": trirl.make_trirl(env, learner_config, demos),
        "gail": baselines.make_baseline(env, baselines.BaselineConfig(
            algo="gail", ppo=config.ppo, discriminator=dataclasses.replace(config.discriminator,
                                                                             input_mode="state_action")), demos),
        "ppo": make_ppo(env, config.ppo),
    }
    init_key, step_key = jax.random.split(key)
    states, steps = {}, {}
    for name, learner in learners.items():
        jitted = driver.jitted(learner, 1)
        state = jitted.init(init_key[None])
        for i in range(2):  # compile, and a state that has seen an update
            state, _ = jitted.step(state, jax.random.fold_in(step_key, i))
        states[name], steps[name] = state, jitted.step
    # a full buffer of k valid pairs whose chain starts from R_fit
    k = learner_config.buffer.capacity
    full = states["trirl"].buffer._replace(count=jnp.full((1,), k, jnp.int32), pushes=jnp.full((1,), k + 1, jnp.int32))
    states["trirl"] = states["trirl"]._replace(buffer=full)

    # the parts of the TRIRL iteration, each compiled on its own, on seed 0's state
    ppo, cfg = learners["trirl"].ppo, learner_config
    networks, dcfg, bcfg, mode = ppo.networks, cfg.discriminator, cfg.buffer, cfg.discriminator.input_mode
    state = jax.tree.map(lambda x: x[0], states["trirl"])
    ps = state.ppo
    expert = disc.expert_batch(demos, mode)
    absorbing_input = disc.absorbing_sample(env.observation_size, disc.input_dim(env, mode))
    keys = jax.random.split(step_key, 4)

    collect = jax.jit(lambda ps, key: rollout(ppo.env, networks, ps.params, ps.normalizer, ps.env_state, key,
                                              cfg.ppo.rollout_length)[1].transitions)
    transitions = collect(ps, keys[0])
    obs, other, _ = disc.agent_inputs(transitions, mode)
    not_absorbing = jnp.zeros(obs.shape[0])
    discriminator_update = jax.jit(lambda d, t, key: disc.update(dcfg, d, expert, disc.agent_batch(t, mode), key))
    disc_state, _ = discriminator_update(state.disc, transitions, keys[1])

    def relabel(buf, params, obs, other):
        out = buffer_lib.rewards(bcfg, buf, params, obs, other, not_absorbing)
        return out.intermediate, buffer_lib.rewards(bcfg, buf, params, *absorbing_input).intermediate[0], out.corrected

    rewards = jax.jit(relabel)
    intermediate, r_absorbing, corrected = rewards(state.buffer, disc_state.params, obs, other)
    fit_idx = jax.random.randint(keys[2], (obs.shape[0],), 0, expert.obs.shape[0])
    expert_fit = (expert.obs[fit_idx], expert.action_or_next_obs[fit_idx], expert.absorbing[fit_idx])

    def fit(buf, corrected):  # as the step fits: the agent's corrected rewards come from ``rewards``
        return buffer_lib.fit_reward(
            bcfg, buf, jnp.concatenate([obs, expert_fit[0]]), jnp.concatenate([other, expert_fit[1]]),
            jnp.concatenate([not_absorbing, expert_fit[2]]),
            corrected=jnp.concatenate([corrected, buffer_lib.corrected_rewards(bcfg, buf, *expert_fit)]))

    reward_fit = jax.jit(fit)

    def flat_batch(ps, transitions, rewards, r_absorbing):
        advantage, target = advantages(networks, ps.params, ps.normalizer, transitions,
                                       rewards.reshape(transitions.reward.shape), cfg.ppo,
                                       absorbing_value(cfg.ppo, r_absorbing))
        flat = jax.tree_util.tree_map(lambda x: x.reshape(cfg.ppo.batch_size, *x.shape[2:]),
                                      Batch(transitions.obs, transitions.action, transitions.log_prob, advantage,
                                            target))
        old_mean, _ = nets.policy_distribution(networks, ps.params.policy, ps.normalizer, flat.obs)
        return flat._replace(old_mean=old_mean)

    gae = jax.jit(flat_batch)
    batch = gae(ps, transitions, intermediate / bcfg.beta, r_absorbing / bcfg.beta)
    old_log_std = ps.params.policy.log_std

    def ppo_epochs(ps, batch, key):
        def loss_fn(params, minibatch):
            return trirl.trpl_loss(networks, cfg, ps.normalizer, params, minibatch, old_log_std)
        return update(networks, ppo.optimizer, cfg.ppo, ps.params, ps.opt_state, ps.normalizer, batch, key, loss_fn)

    epochs = jax.jit(ppo_epochs)
    new_params = epochs(ps, batch, keys[3])[0]

    def projection_and_line_search(ps, new_params, batch):
        new_mean, _ = nets.policy_distribution(networks, new_params.policy, ps.normalizer, batch.obs)
        eta = trpl.project(cfg.trust_region, new_mean, new_params.policy.log_std, batch.old_mean, old_log_std).eta
        if cfg.acting_policy != "line-search":
            return eta
        return eta, trirl.scale_back_policy(networks, cfg.trust_region, ps.params.policy, new_params.policy,
                                            ps.normalizer, batch.obs, batch.old_mean, old_log_std)[1]

    projection = jax.jit(projection_and_line_search)
    new_state, metrics = steps["trirl"](states["trirl"], step_key)

    def host_transfer():  # what the driver reads of every iteration
        return driver.jitted_nonfinite(new_state), jax.device_get(metrics)

    parts = {
        "rollout": functools.partial(collect, ps, keys[0]),
        "discriminator_update": functools.partial(discriminator_update, state.disc, transitions, keys[1]),
        "rewards": functools.partial(rewards, state.buffer, disc_state.params, obs, other),
        "reward_fit": functools.partial(reward_fit, state.buffer, corrected),
        "gae": functools.partial(gae, ps, transitions, intermediate / bcfg.beta, r_absorbing / bcfg.beta),
        "ppo_epochs": functools.partial(epochs, ps, batch, keys[3]),
        "projection_and_line_search": functools.partial(projection, ps, new_params, batch),
        "host_transfer": host_transfer,
    }
    for fn in parts.values():
        jax.block_until_ready(fn())  # compile
    # iterations and parts timed in turn in every round, so that the load of other jobs hits them alike
    iterations = {name: functools.partial(steps[name], states[name], step_key) for name in learners}
    times = _median_times({**{f"iteration {name}": fn for name, fn in iterations.items()}, **parts}, repeats)
    iteration_s = {name: times[f"iteration {name}"] for name in learners}
    components = {name: times[name] for name in parts}
    batch_size = config.ppo.batch_size
    return {
        "env": env_name, "sizes": sizes, "k": k, "acting_policy": cfg.acting_policy,
        "num_envs": config.ppo.num_envs, "rollout_length": config.ppo.rollout_length,
        "num_epochs": config.ppo.num_epochs, "num_minibatches": config.ppo.num_minibatches,
        "policy_hidden": list(config.ppo.policy_hidden), "value_hidden": list(config.ppo.value_hidden),
        "discriminator_hidden": list(config.discriminator.hidden_sizes),
        "discriminator_epochs": config.discriminator.epochs, "fit_steps": config.buffer.fit_steps,
        "iteration_s": iteration_s,
        "env_steps_per_s": {name: batch_size / t["wall_s"] for name, t in iteration_s.items()},
        "trirl_over_gail": iteration_s["trirl"]["wall_s"] / iteration_s["gail"]["wall_s"],
        "trirl_over_ppo": iteration_s["trirl"]["wall_s"] / iteration_s["ppo"]["wall_s"],
        "trirl_over_gail_cpu": iteration_s["trirl"]["cpu_s"] / iteration_s["gail"]["cpu_s"],
        "components_s": components,
        "components_sum_s": sum(c["wall_s"] for c in components.values()),
        "repeats": repeats,
    }


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

    def __post_init__(self):
        if not self.envs or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.envs):
            raise InvalidConfigError(f"--envs is {list(self.envs)}, expected batch sizes: integers >= 1")
        unknown = [name for name in self.env if name not in envs.ENV_NAMES]
        if not self.env or unknown:
            raise InvalidConfigError(f"--env is {list(self.env)}, expected names from {list(envs.ENV_NAMES)}")
        unknown = [name for name in self.profile if name not in PROFILE_SIZES]
        if unknown:
            raise InvalidConfigError(f"--profile is {list(self.profile)}, expected names from {list(PROFILE_SIZES)}")
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
        return _profile_main(options, command, key)
    rows = []
    for name in options.env:
        for size in options.envs:
            physics, physics_cpu = physics_steps_per_second(name, size, options.physics_steps, key)
            ppo, ppo_cpu, config = ppo_steps_per_second(name, size, options.ppo_iterations, key, options.config)
            row = {"env": name, "num_envs": size, "physics_env_steps_per_s": physics,
                   "ppo_env_steps_per_s": ppo, "ppo_over_physics": ppo / physics,
                   "physics_env_steps_per_cpu_s": physics_cpu, "ppo_env_steps_per_cpu_s": ppo_cpu,
                   "ppo_over_physics_cpu": ppo_cpu / physics_cpu,
                   "rollout_length": config.rollout_length, "num_minibatches": config.num_minibatches,
                   "num_epochs": config.num_epochs, "policy_hidden": list(config.policy_hidden),
                   "value_hidden": list(config.value_hidden)}
            if options.trirl_k:
                trirl = trirl_steps_per_second(name, size, options.ppo_iterations, options.trirl_k, key)
                row.update(trirl_k=options.trirl_k, trirl_env_steps_per_s=trirl, trirl_over_ppo=trirl / ppo)
                print(f"{name:>12} B={size:>6}: TRIRL k={options.trirl_k} {trirl:12.0f} env-steps/s", flush=True)
            if (peak := peak_memory()) is not None:
                row["peak_bytes_in_use"] = peak
            rows.append(row)
            print(f"{name:>12} B={size:>6}: physics {physics:12.0f} env-steps/s, PPO {ppo:12.0f} env-steps/s, "
                  f"ratio {ppo / physics:.3f} (per CPU second {ppo_cpu / physics_cpu:.3f})", flush=True)
    write_json(Path(options.out), {"command": command, "machine": machine(), "device": str(jax.devices()[0]),
                                   "physics_steps": options.physics_steps, "ppo_iterations": options.ppo_iterations,
                                   "results": rows})
    return 0


def _profile_main(options: BenchOptions, command: str, key) -> int:
    import os

    profiles = []
    for name in options.env:
        for sizes in options.profile:
            load = os.getloadavg()
            row = profile_trirl(name, sizes, options.trirl_k, options.repeats, key, options.config)
            row["load_before_after"] = [load[0], os.getloadavg()[0]]
            profiles.append(row)
            rates = ", ".join(f"{algo} {rate:,.0f}" for algo, rate in row["env_steps_per_s"].items())
            print(f"{name} ({sizes} networks, k={row['k']}): env-steps/s {rates}; TRIRL/GAIL time per step "
                  f"{row['trirl_over_gail']:.2f} (per CPU second {row['trirl_over_gail_cpu']:.2f})", flush=True)
            for part, times in {**{f"{algo} iteration": t for algo, t in row["iteration_s"].items()},
                                **row["components_s"]}.items():
                print(f"    {part:>28}: {1e3 * times['wall_s']:9.1f} ms, {1e3 * times['cpu_s']:9.1f} CPU ms",
                      flush=True)
    write_json(Path(options.out), {"command": command, "machine": machine(), "device": str(jax.devices()[0]),
                                   "profiles": profiles})
    return 0


if __name__ == "__main__":
    sys.exit(main())
