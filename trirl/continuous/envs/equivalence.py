"""trirl's MJX tasks against Gymnasium v5's C MuJoCo environments: states over k steps, returns, throughput.

The reference is Gymnasium's own environment (``gymnasium.make(task.gym_id)``, C MuJoCo in float64,
its model and solver as shipped: RK4, Newton with 100 iterations, PGS for Humanoid), with the
transfer variant's change applied (wind, gravity, the disabled legs' model) and
``include_cfrc_ext_in_observation`` as in trirl's config. Three measurements per task and MJX
setting:

- :func:`k_step_errors`: from the same state (a Gymnasium reset, copied into MJX), the same random
  action sequence; the largest absolute difference of the observations after ``k`` env steps
  (median and maximum over starts) and of the rewards. Contacts make the dynamics chaotic and
  MJX computes in float32, so the error grows with ``k``: agreement is to a tolerance over a few
  steps, and statistical beyond.
- :func:`returns`: mean and std of the returns of one policy (uniform random actions, or an
  act function such as a trained expert's) over ``episodes`` full episodes in each simulator.
- :func:`throughput`: env steps per second of the jitted, vmapped MJX step (``num_envs`` envs).

``python -m trirl.continuous.envs.equivalence --out FILE`` runs them over the tasks and the MJX
settings of :data:`SETTINGS` and writes JSON with the machine and the command
(``continuous/results/suite_equivalence_cpu.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from trirl.continuous import envs
from trirl.continuous.envs.base import Env, EnvState
from trirl.continuous.envs.locomotion import LocomotionConfig, load_model, model_xml
from trirl.errors import InvalidConfigError

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
    from mujoco import mjx

    data = mjx.forward(model, reset_state.physics.replace(qpos=jnp.asarray(qpos, jnp.float32),
                                                          qvel=jnp.asarray(qvel, jnp.float32)))
    return reset_state._replace(physics=data)


def k_step_errors(config: LocomotionConfig, ks=(1, 2, 5, 10, 20), starts: int = 8, seed: int = 0) -> dict:
    """Observation and reward differences after ``k`` steps from a common state (module docstring).

    Returns ``{"k": [...], "obs_error_median": [...], "obs_error_max": [...], "reward_error_max":
    [...], "obs_scale": ...}`` (errors in observation units, the largest over coordinates; the
    scale is the median absolute observation, for reading them).
    """
    from mujoco import mjx

    env = envs.make(config.robot, _options(config))
    model = mjx.put_model(load_model(config))
    reference = reference_env(config)
    horizon = max(ks)
    rng = np.random.default_rng(seed)
    step = jax.jit(env.step)
    reset_state = jax.jit(env.reset)(jax.random.PRNGKey(seed))
    obs_errors, reward_errors, scales = [], [], []
    for start in range(starts):
        obs, _ = reference.reset(seed=seed + start)
        data = reference.unwrapped.data
        state = jax.jit(_mjx_state, static_argnums=0)(env, reset_state, data.qpos.copy(), data.qvel.copy(), model)
        errors, r_errors = [], []
        for _ in range(horizon):
            action = rng.uniform(-1.0, 1.0, env.action_size)
            obs, reward, _, _, _ = reference.step(config.action_scale * action)
            state = step(state, jnp.asarray(action, jnp.float32))
            errors.append(float(np.max(np.abs(np.asarray(state.obs) - obs))))
            r_errors.append(abs(float(state.reward) - float(reward)))
        obs_errors.append(errors)
        reward_errors.append(r_errors)
        scales.append(float(np.median(np.abs(obs))))
    obs_errors, reward_errors = np.asarray(obs_errors), np.asarray(reward_errors)
    index = [k - 1 for k in ks]
    return {
        "k": list(ks),
        "obs_error_median": np.median(obs_errors[:, index], axis=0).tolist(),
        "obs_error_max": np.max(obs_errors[:, index], axis=0).tolist(),
        "reward_error_max": np.max(reward_errors[:, index], axis=0).tolist(),
        "obs_scale": float(np.median(scales)),
        "starts": starts,
    }


def _options(config: LocomotionConfig) -> dict:
    fields = ("version", "episode_length", "integrator", "solver_iterations", "ls_iterations", "contacts",
              "include_cfrc_ext_in_observation")
    return {name: getattr(config, name) for name in fields}


def returns(config: LocomotionConfig, episodes: int = 10, seed: int = 0, act: Callable | None = None,
            np_act: NpAct | None = None) -> dict:
    """Returns of one policy in trirl's MJX task and in Gymnasium's (uniform random without ``act``).

    ``act`` is a jax act function ``(obs, key) -> action`` for MJX, ``np_act`` the same policy on
    numpy for Gymnasium. Returns means, stds, mean episode lengths and the relative difference of
    the means ``|mjx - gym| / |gym|``.
    """
    from trirl.continuous.evaluation import episode_returns, random_act_fn, run_episode

    env = envs.make(config.robot, _options(config))
    act = act or random_act_fn(env.action_size)
    if np_act is None:
        def np_act(obs, rng):
            return rng.uniform(-1.0, 1.0, env.action_size)

    @jax.jit
    def mjx_returns(key):
        def one(episode_key):
            states, _, _, alive = run_episode(env, act, episode_key, env.spec.episode_length)
            return jnp.sum(jnp.where(alive, states.reward, 0.0)), jnp.sum(alive)

        return jax.vmap(one)(jax.random.split(key, episodes))

    del episode_returns
    mjx_return, mjx_length = (np.asarray(x) for x in mjx_returns(jax.random.PRNGKey(seed)))
    reference = reference_env(config)
    rng = np.random.default_rng(seed)
    gym_return, gym_length = [], []
    for episode in range(episodes):
        obs, _ = reference.reset(seed=seed + episode)
        total, steps, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = reference.step(config.action_scale * np_act(obs, rng))
            total, steps, done = total + float(reward), steps + 1, terminated or truncated
        gym_return.append(total)
        gym_length.append(steps)
    gym_return = np.asarray(gym_return)
    return {
        "episodes": episodes,
        "mjx_return_mean": float(mjx_return.mean()), "mjx_return_std": float(mjx_return.std()),
        "gym_return_mean": float(gym_return.mean()), "gym_return_std": float(gym_return.std()),
        "mjx_length_mean": float(mjx_length.mean()), "gym_length_mean": float(np.mean(gym_length)),
        "relative_difference": float(abs(mjx_return.mean() - gym_return.mean()) / max(abs(gym_return.mean()), 1e-9)),
    }


def throughput(config: LocomotionConfig, num_envs: int = 64, steps: int = 50, seed: int = 0) -> dict:
    """Env steps per second of the jitted, vmapped MJX step (random actions, auto-reset)."""
    env = envs.auto_reset(envs.make(config.robot, _options(config)))

    @jax.jit
    def run(state, key):
        def body(state, step_key):
            action = jax.random.uniform(step_key, (num_envs, env.action_size), minval=-1.0, maxval=1.0)
            return jax.vmap(env.step)(state, action), None

        return jax.lax.scan(body, state, jax.random.split(key, steps))[0]

    key = jax.random.PRNGKey(seed)
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(key, num_envs))
    started = time.perf_counter()
    state = jax.block_until_ready(run(state, key))
    compile_and_run = time.perf_counter() - started
    started = time.perf_counter()
    jax.block_until_ready(run(state, jax.random.fold_in(key, 1)))
    seconds = time.perf_counter() - started
    return {"num_envs": num_envs, "steps": steps, "env_steps_per_s": num_envs * steps / seconds,
            "physics_steps_per_s": num_envs * steps * config.frame_skip / seconds,
            "first_call_s": compile_and_run}


def machine() -> str:
    return (f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPU cores, jax {jax.__version__} "
            f"on {jax.default_backend()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trirl.continuous.envs.equivalence", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["half_cheetah", "hopper", "walker2d", "ant", "humanoid"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help=f"of {list(SETTINGS)}")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    for name in args.settings:
        if name not in SETTINGS:
            raise InvalidConfigError(f"--settings: unknown setting {name!r}; choose from {list(SETTINGS)}")
    results = {}
    if os.path.exists(args.out):  # accumulate across sittings
        results = json.loads(open(args.out).read()).get("results", {})
    for task in args.tasks:
        for name in args.settings:
            config = LocomotionConfig(robot=task, version=2, **SETTINGS[name])
            started = time.perf_counter()
            entry = {"settings": SETTINGS[name], "throughput": throughput(config, args.num_envs),
                     "k_steps": k_step_errors(config, starts=args.starts),
                     "random_policy_returns": returns(config, args.episodes)}
            entry["seconds"] = time.perf_counter() - started
            results.setdefault(task, {})[name] = entry
            print(f"{task:14s} {name:12s} {entry['throughput']['env_steps_per_s']:9.0f} env-steps/s  "
                  f"obs error k=1,2,5,10,20: {', '.join(f'{e:.2g}' for e in entry['k_steps']['obs_error_median'])}  "
                  f"random returns mjx {entry['random_policy_returns']['mjx_return_mean']:.1f} "
                  f"gym {entry['random_policy_returns']['gym_return_mean']:.1f}", flush=True)
            payload = {"machine": machine(), "command": "python -m trirl.continuous.envs.equivalence "
                       + " ".join(argv if argv is not None else sys.argv[1:]), "results": results}
            tmp = args.out + ".tmp"
            with open(tmp, "w") as file:
                json.dump(payload, file, indent=1)
            os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
