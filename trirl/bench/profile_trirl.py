"""Where a TRIRL iteration's time goes (``trirl bench continuous --profile``): seconds per TRIRL,
GAIL and PPO iteration on the same settings, and each part of the TRIRL iteration (Algorithm 2's
order, :data:`COMPONENTS`) compiled and timed on its own."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from pathlib import Path

import jax

from trirl.configfile import CONFIG_DIR
from trirl.continuous import envs
from trirl.continuous import networks as nets
from trirl.continuous.ppo import make_ppo
from trirl.provenance import machine
from trirl.rundir import write_json


def synthetic_demos(env, episodes: int = 4, length: int = 50):
    """Random demonstrations with the env's sizes (for timing only)."""
    import numpy as np

    from trirl.continuous.demos import Demonstrations

    rng = np.random.default_rng(0)
    obs = rng.normal(size=(episodes, length, env.observation_size)).astype(np.float32)
    return Demonstrations(obs, rng.uniform(-1, 1, (episodes, length, env.action_size)).astype(np.float32), obs,
                          np.zeros((episodes, length), bool), np.zeros((episodes, length), np.float32),
                          np.full(episodes, length, np.int32), np.zeros(episodes, np.float32), env.spec.to_dict())


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


def loop_times(learners: dict, states: dict, per_call: tuple[int, ...], repeats: int, key) -> dict:
    """Seconds per iteration of :func:`trirl.driver.run`'s loop as ``trirl train`` runs it (one seed
    vmapped, the non-finite check of every state, a row of every metric's finite mean, no run
    directory), for each learner and each number of iterations per compiled call in ``per_call``
    (:mod:`trirl.compiled`), every loop from ``states[name]`` and the loops timed in turn. Each loop
    makes ``lcm(per_call)`` iterations (at least 10); returns ``{name: {N: {"wall_s", "cpu_s"}}}``."""
    import numpy as np

    from trirl import driver
    from trirl.continuous.rollout import MAY_BE_NAN

    def row(iteration, state, metrics, seconds, previous):
        finite = {name: np.asarray(value)[np.isfinite(value)] for name, value in metrics.items()}
        return {"iteration": iteration, **{name: float(v.mean()) for name, v in finite.items() if v.size}}

    iterations = math.lcm(*per_call) * math.ceil(10 / math.lcm(*per_call))
    hooks = driver.Hooks(row=row, nonfinite=driver.jitted_nonfinite, may_be_nan=MAY_BE_NAN)
    loops = {}
    for name, learner in learners.items():
        for n in per_call:
            jitted = driver.jitted(learner, 1, iterations_per_call=n)
            start = driver.Jitted(jitted.name, lambda _, state=states[name]: state, jitted.step, jitted.steps, n)
            loops[name, n] = functools.partial(driver.run, start, iterations, key=key, hooks=hooks)
            loops[name, n]()  # compile
    times = _median_times({f"{name} x{n}": fn for (name, n), fn in loops.items()}, repeats)
    return {name: {n: {unit: t / iterations for unit, t in times[f"{name} x{n}"].items()} for n in per_call}
            for name in learners}


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
                  config_path: str | Path | None = None, per_call: tuple[int, ...] = ()) -> dict:
    """Seconds per TRIRL iteration (max-eta, the config's acting policy), per GAIL iteration and
    per PPO iteration on the same settings (:func:`profile_config`), one seed vmapped as
    ``trirl train`` runs it, and the seconds of each part of the TRIRL iteration (``COMPONENTS``)
    compiled on its own (their sum exceeds the iteration, which XLA compiles as one program).

    The buffer is full (``k = capacity`` valid pairs): its cost does not depend on its contents.
    Demonstrations are :func:`synthetic_demos` (throughput does not depend on them). With
    ``per_call``, also the seconds per iteration of the driver's loop for TRIRL and GAIL at each
    number of iterations per compiled call (:func:`loop_times`), and TRIRL / GAIL at each.
    """
    import jax.numpy as jnp

    from trirl import driver
    from trirl.continuous import baselines, trirl
    from trirl.continuous import discriminator as disc
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
    keys = jax.random.split(step_key, 4)

    collect = jax.jit(lambda ps, key: rollout(ppo.env, networks, ps.params, ps.normalizer, ps.env_state, key,
                                              cfg.ppo.rollout_length)[1].transitions)
    transitions = collect(ps, keys[0])
    discriminator_update = jax.jit(lambda d, t, key: disc.update(dcfg, d, expert, disc.agent_batch(t, mode), key))
    disc_state, _ = discriminator_update(state.disc, transitions, keys[1])

    learner = learners["trirl"]  # the step's own parts, each compiled on its own
    rewards = jax.jit(learner.relabel)
    relabelled = rewards(state.buffer, disc_state.params, transitions)
    intermediate, r_absorbing = relabelled.intermediate, relabelled.absorbing
    reward_fit = jax.jit(learner.fit)

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
        "rewards": functools.partial(rewards, state.buffer, disc_state.params, transitions),
        "reward_fit": functools.partial(reward_fit, state.buffer, relabelled, keys[2]),
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
    loops = loop_times({name: learners[name] for name in ("trirl", "gail")}, states, per_call, repeats, step_key) \
        if per_call else {}
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
        **({"loop_s_per_iteration": {name: {str(n): t for n, t in by_n.items()} for name, by_n in loops.items()},
            "loop_speedup": {name: {str(n): by_n[per_call[0]]["cpu_s"] / t["cpu_s"] for n, t in by_n.items()}
                             for name, by_n in loops.items()},
            "loop_trirl_over_gail_cpu": {str(n): loops["trirl"][n]["cpu_s"] / loops["gail"][n]["cpu_s"] for n in per_call},
            "loop_trirl_over_gail": {str(n): loops["trirl"][n]["wall_s"] / loops["gail"][n]["wall_s"] for n in per_call}}
           if loops else {}),
    }


def profile_main(options, command: str, key) -> int:
    """``trirl bench continuous --profile``: :func:`profile_trirl` for every env and size of ``options``
    (:class:`trirl.bench.continuous.BenchOptions`), printed and written to ``options.out``."""

    profiles = []
    for name in options.env:
        for sizes in options.profile:
            load = os.getloadavg()
            row = profile_trirl(name, sizes, options.trirl_k, options.repeats, key, options.config,
                                options.iterations_per_call)
            row["load_before_after"] = [load[0], os.getloadavg()[0]]
            profiles.append(row)
            rates = ", ".join(f"{algo} {rate:,.0f}" for algo, rate in row["env_steps_per_s"].items())
            print(f"{name} ({sizes} networks, k={row['k']}): env-steps/s {rates}; TRIRL/GAIL time per step "
                  f"{row['trirl_over_gail']:.2f} (per CPU second {row['trirl_over_gail_cpu']:.2f})", flush=True)
            for part, times in {**{f"{algo} iteration": t for algo, t in row["iteration_s"].items()},
                                **row["components_s"]}.items():
                print(f"    {part:>28}: {1e3 * times['wall_s']:9.1f} ms, {1e3 * times['cpu_s']:9.1f} CPU ms",
                      flush=True)
            for algo, by_n in row.get("loop_s_per_iteration", {}).items():
                for n, times in by_n.items():
                    print(f"    {algo} loop, {n:>3} iterations per call: {1e3 * times['wall_s']:9.1f} ms, "
                          f"{1e3 * times['cpu_s']:9.1f} CPU ms per iteration ({row['loop_speedup'][algo][n]:.2f}x)",
                          flush=True)
            if "loop_trirl_over_gail_cpu" in row:
                print(f"    TRIRL/GAIL per CPU s by iterations per call: {row['loop_trirl_over_gail_cpu']}", flush=True)
    write_json(Path(options.out), {"command": command, "machine": machine(accelerator=True, command=False), "device": str(jax.devices()[0]),
                                   "profiles": profiles})
    return 0
