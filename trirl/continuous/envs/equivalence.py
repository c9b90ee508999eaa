"""trirl's MJX tasks against Gymnasium v5's C MuJoCo environments: states over k steps, returns, throughput.

The reference is Gymnasium's own environment (``gymnasium.make(task.gym_id)``, C MuJoCo in float64,
its model and solver as shipped: RK4, Newton with 100 iterations, PGS for Humanoid), with the
transfer variant's change applied (wind, gravity, the disabled legs' model) and
``include_cfrc_ext_in_observation`` as in trirl's config. Everything is measured on **paired
rollouts** (:func:`paired_rollouts`): episode ``i`` starts in both simulators from Gymnasium's
``reset(seed=seed + i)`` state and applies the same uniform random action sequence (or, for a
trained policy, runs it in closed loop), MJX vmapping the episodes in one compiled call:

- :func:`k_step_errors`: the largest absolute difference of the observations after ``k`` steps
  (median and maximum over the episodes) and of the rewards. Contacts make the dynamics chaotic
  and MJX computes in float32, so the error grows with ``k``: agreement is to a tolerance over a
  few steps, and statistical beyond.
- :func:`returns`: the returns' means and stds in both, and the mean paired difference with its
  standard error (common random numbers: the difference is the simulators', not the sampling's).
- :func:`throughput`: env steps per second of that compiled MJX call (``episodes`` envs vmapped).

``python -m trirl.continuous.envs.equivalence --out FILE`` runs them over the tasks and the MJX
settings of :data:`SETTINGS` and writes JSON with the machine and the command
(``continuous/results/suite_equivalence_cpu.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trirl.continuous import envs
from trirl.continuous.envs.base import Env, EnvState
from trirl.continuous.envs.locomotion import LocomotionConfig, load_model, model_xml
from trirl.errors import InvalidConfigError
from trirl.provenance import machine

#: MJX settings measured per task (LocomotionConfig fields); "gymnasium" is the model as shipped
SETTINGS = {
    "gymnasium": {"solver_iterations": 100, "ls_iterations": 50},
    "newton_4_4": {"solver_iterations": 4, "ls_iterations": 4},
    "newton_1_4": {"solver_iterations": 1, "ls_iterations": 4},
    "euler_4_4": {"solver_iterations": 4, "ls_iterations": 4, "integrator": "euler"},
    "floor_4_4": {"solver_iterations": 4, "ls_iterations": 4, "contacts": "floor"},
}
NpAct = Callable[[np.ndarray, np.random.Generator], np.ndarray]  #: (obs [O], rng) -> action [A] in [-1, 1]


def reference_env(config: LocomotionConfig):
    """Gymnasium's C MuJoCo environment that ``config``'s task is equivalent to (module docstring)."""
    import gymnasium

    kwargs = {}
    if config.base in ("ant", "humanoid"):
        kwargs["include_cfrc_ext_in_observation"] = config.include_cfrc_ext_in_observation
    if config.robot == "ant_disabled":
        handle, path = tempfile.mkstemp(suffix=".xml", prefix="trirl_ant_disabled_")
        with os.fdopen(handle, "w") as file:
            file.write(model_xml(config))
        kwargs["xml_file"] = path
    env = gymnasium.make(config.task.gym_id, max_episode_steps=config.episode_length, **kwargs)
    model = env.unwrapped.model
    model.opt.wind[:] = config.wind
    model.opt.density = config.air_density
    model.opt.gravity[:] = (0.0, 0.0, -config.gravity)
    if "xml_file" in kwargs:
        os.unlink(kwargs["xml_file"])
    return env


def _mjx_state(env: Env, reset_state: EnvState, qpos: np.ndarray, qvel: np.ndarray, model) -> EnvState:
    from trirl.continuous.envs.mjx import mjx

    dtype = reset_state.physics.qpos.dtype  # float32, or float64 under jax_enable_x64
    data = mjx.forward(model, reset_state.physics.replace(qpos=jnp.asarray(qpos, dtype), qvel=jnp.asarray(qvel, dtype)))
    return reset_state._replace(physics=data)


def _options(config: LocomotionConfig) -> dict:
    fields = ("version", "episode_length", "integrator", "solver_iterations", "ls_iterations", "contacts",
              "include_cfrc_ext_in_observation")
    return {name: getattr(config, name) for name in fields}


class Rollouts(NamedTuple):
    """Paired episodes of both simulators (``[E, T, ...]``; steps after an episode's end are masked)."""

    mjx_obs: np.ndarray  #: [E, T, O] observation after each step
    gym_obs: np.ndarray  #: [E, T, O]
    mjx_rewards: np.ndarray  #: [E, T] (0 after the end)
    gym_rewards: np.ndarray  #: [E, T]
    mjx_alive: np.ndarray  #: [E, T] bool, the step belongs to the episode
    gym_alive: np.ndarray  #: [E, T]
    mjx_seconds: float  #: wall-clock seconds of the (compiled) MJX call


def paired_rollouts(config: LocomotionConfig, episodes: int = 10, seed: int = 0, act: Callable | None = None,
                    np_act: NpAct | None = None, length: int | None = None) -> Rollouts:
    """``episodes`` episodes in each simulator from the same initial states (module docstring).

    Episode ``i`` starts in both from Gymnasium's ``reset(seed=seed + i)`` state. Without ``act``
    both apply the **same** uniform random action sequence (common random numbers, so differences
    are the simulators', not the sampling's); with ``act`` (jax ``(obs, key) -> action``) and
    ``np_act`` (the same policy on numpy) each runs the policy in closed loop. One compiled MJX
    function serves every measurement of a setting (compilation is what costs on a CPU).
    """
    from trirl.continuous.envs.mjx import mjx

    env = envs.make(config.robot, _options(config))
    model = mjx.put_model(load_model(config))
    reference = reference_env(config)
    length = length or config.episode_length
    rng = np.random.default_rng(seed)
    open_loop = act is None
    actions = rng.uniform(-1.0, 1.0, (episodes, length, env.action_size)).astype(np.float32)
    gym_obs = np.zeros((episodes, length, env.observation_size))
    gym_rewards = np.zeros((episodes, length))
    gym_alive = np.zeros((episodes, length), bool)
    starts = []
    for episode in range(episodes):
        obs, _ = reference.reset(seed=seed + episode)
        starts.append((reference.unwrapped.data.qpos.copy(), reference.unwrapped.data.qvel.copy()))
        for t in range(length):
            action = actions[episode, t] if open_loop else np_act(obs, rng)
            obs, reward, terminated, truncated, _ = reference.step(config.action_scale * np.asarray(action, np.float64))
            gym_obs[episode, t], gym_rewards[episode, t], gym_alive[episode, t] = obs, reward, True
            if terminated or truncated:
                break
    reset_state = jax.jit(env.reset)(jax.random.PRNGKey(seed))  # MJX op by op would take ~25 s of CPU

    @jax.jit
    @jax.vmap
    def mjx_episode(qpos, qvel, episode_actions, key):
        state = _mjx_state(env, reset_state, qpos, qvel, model)

        def body(state, inputs):
            action, step_key = inputs
            alive = jnp.logical_not(state.done)
            action = action if open_loop else act(state.obs, step_key)
            after = env.step(state, action)
            after = jax.tree_util.tree_map(lambda new, old: jnp.where(alive, new, old), after, state)
            return after, (after.obs, jnp.where(alive, after.reward, 0.0), alive)

        return jax.lax.scan(body, state, (episode_actions, jax.random.split(key, length)))[1]

    qpos, qvel = (np.stack(x) for x in zip(*starts))
    keys = jax.random.split(jax.random.PRNGKey(seed), episodes)
    jax.block_until_ready(mjx_episode(qpos, qvel, actions, keys))  # compiles
    started = time.perf_counter()
    mjx_obs, mjx_rewards, mjx_alive = (np.asarray(x) for x in jax.block_until_ready(mjx_episode(qpos, qvel, actions, keys)))
    return Rollouts(mjx_obs, gym_obs, mjx_rewards, gym_rewards * gym_alive, mjx_alive, gym_alive,
                    time.perf_counter() - started)


def k_step_errors(rollouts: Rollouts, ks=(1, 2, 5, 10, 20)) -> dict:
    """Observation and reward differences after ``k`` steps of paired open-loop rollouts.

    Returns ``{"k", "obs_error_median", "obs_error_max", "reward_error_max", "obs_scale"}``: the
    largest absolute difference over the observation's coordinates after step ``k`` (median and
    maximum over the episodes alive in both), the largest reward difference, and the median
    absolute observation for reading them.
    """
    both = rollouts.mjx_alive & rollouts.gym_alive
    obs_error = np.max(np.abs(rollouts.mjx_obs - rollouts.gym_obs), axis=-1)
    reward_error = np.abs(rollouts.mjx_rewards - rollouts.gym_rewards)
    out = {"k": list(ks), "obs_error_median": [], "obs_error_max": [], "reward_error_max": [], "episodes_alive": []}
    for k in ks:
        alive = both[:, k - 1]
        out["episodes_alive"].append(int(alive.sum()))
        errors = obs_error[alive, k - 1] if alive.any() else np.asarray([np.nan])
        out["obs_error_median"].append(float(np.median(errors)))
        out["obs_error_max"].append(float(np.max(errors)))
        out["reward_error_max"].append(float(np.max(reward_error[alive, k - 1])) if alive.any() else float("nan"))
    out["obs_scale"] = float(np.median(np.abs(rollouts.gym_obs[:, 0])))
    return out


def returns(rollouts: Rollouts) -> dict:
    """Means and stds of the returns in both simulators, mean lengths, and their differences."""
    mjx_return, gym_return = rollouts.mjx_rewards.sum(1), rollouts.gym_rewards.sum(1)
    difference = mjx_return - gym_return
    return {
        "episodes": len(mjx_return),
        "mjx_return_mean": float(mjx_return.mean()), "mjx_return_std": float(mjx_return.std()),
        "gym_return_mean": float(gym_return.mean()), "gym_return_std": float(gym_return.std()),
        "mjx_length_mean": float(rollouts.mjx_alive.sum(1).mean()),
        "gym_length_mean": float(rollouts.gym_alive.sum(1).mean()),
        "relative_difference": float(abs(mjx_return.mean() - gym_return.mean()) / max(abs(gym_return.mean()), 1e-9)),
        "paired_difference_mean": float(difference.mean()),
        "paired_difference_sem": float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 else None,
    }


def throughput(rollouts: Rollouts, frame_skip: int) -> dict:
    """MJX env steps per second of the paired rollouts' compiled call (``E`` envs vmapped, no resets)."""
    steps = rollouts.mjx_alive.size
    return {"num_envs": rollouts.mjx_alive.shape[0], "steps": rollouts.mjx_alive.shape[1],
            "env_steps_per_s": steps / rollouts.mjx_seconds,
            "physics_steps_per_s": steps * frame_skip / rollouts.mjx_seconds}


def expert_returns(config: LocomotionConfig, run: str, episodes: int = 10, seed: int = 0) -> dict:
    """:func:`returns` of the deterministic policy of the expert in run directory ``run``, in closed loop."""
    from trirl.continuous.evaluation import policy_act_fn
    from trirl.continuous.expert import load_expert

    _, ppo, state = load_expert(run)
    act = policy_act_fn(ppo.networks, state.params.policy, state.normalizer)
    act_jit = jax.jit(act)
    key = jax.random.PRNGKey(seed)

    def np_act(obs, rng):
        return np.asarray(act_jit(jnp.asarray(obs, jnp.float32), key), np.float64)

    return dict(returns(paired_rollouts(config, episodes, seed, act=act, np_act=np_act)), expert=str(run))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trirl.continuous.envs.equivalence", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["half_cheetah", "hopper", "walker2d", "ant", "humanoid"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help=f"of {list(SETTINGS)}")
    parser.add_argument("--episodes", type=int, default=10, help="paired episodes per setting (MJX vmaps them)")
    parser.add_argument("--length", type=int, default=None, help="steps per episode (default: the time limit, 1000)")
    parser.add_argument("--expert", default=None,
                        help="a trained expert's run directory: its returns (deterministic) in both simulators too")
    parser.add_argument("--expert-only", action="store_true", help="measure only --expert's returns")
    parser.add_argument("--x64", action="store_true",
                        help="MJX in float64 (jax_enable_x64; results stored as SETTING_x64): what float32 costs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    for name in args.settings:
        if name not in SETTINGS:
            raise InvalidConfigError(f"--settings: unknown setting {name!r}; choose from {list(SETTINGS)}")
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    results = {}
    if os.path.exists(args.out):  # accumulate across sittings
        results = json.loads(open(args.out).read()).get("results", {})
    for task in args.tasks:
        for name in args.settings:
            config = LocomotionConfig(robot=task, version=2, **SETTINGS[name])
            started = time.perf_counter()
            entry, line = {"settings": SETTINGS[name]}, ""
            if not args.expert_only:
                rollouts = paired_rollouts(config, args.episodes, length=args.length)
                entry.update(throughput=throughput(rollouts, config.frame_skip), k_steps=k_step_errors(rollouts),
                             random_policy_returns=returns(rollouts))
                r = entry["random_policy_returns"]
                line = (f"{entry['throughput']['env_steps_per_s']:7.0f} env-steps/s ({args.episodes} envs)  obs error "
                        f"k=1,2,5,10,20: {', '.join(f'{e:.2g}' for e in entry['k_steps']['obs_error_median'])}  "
                        f"random returns mjx {r['mjx_return_mean']:.1f} gym {r['gym_return_mean']:.1f} "
                        f"(paired difference {r['paired_difference_mean']:.1f} +- {r['paired_difference_sem']:.1f} s.e.)")
            if args.expert:
                entry["expert_returns"] = r = expert_returns(config, args.expert, args.episodes)
                line += f"  expert {args.expert}: mjx {r['mjx_return_mean']:.1f} gym {r['gym_return_mean']:.1f}"
            entry["seconds"] = time.perf_counter() - started
            entry["command"] = "python -m trirl.continuous.envs.equivalence " + " ".join(
                argv if argv is not None else sys.argv[1:])
            key = f"{name}_x64" if args.x64 else name
            entry["float64"] = bool(args.x64)
            results.setdefault(task, {})[key] = dict(results.get(task, {}).get(key, {}), **entry)
            print(f"{task:18s} {key:16s} {line}", flush=True)
            payload = {"machine": machine(accelerator=True, command=False), "command": "python -m trirl.continuous.envs.equivalence "
                       + " ".join(argv if argv is not None else sys.argv[1:]), "results": results}
            tmp = args.out + ".tmp"
            with open(tmp, "w") as file:
                json.dump(payload, file, indent=1)
            os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
