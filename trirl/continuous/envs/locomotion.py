"""Ant, Ant-Disabled and Humanoid on MuJoCo MJX with Gymnasium-v5 reward semantics.

The models are trirl's own MJCF files in ``trirl/continuous/assets/``. One step is
``frame_skip`` MJX steps of the clipped, scaled action ``ctrl = action_scale * clip(a, -1, 1)``.

Reward (Gymnasium v5, ``dt = timestep * frame_skip``)::

    r = forward_reward_weight * (x' - x) / dt      Ant: torso x;  Humanoid: centre-of-mass x
      + healthy_reward * healthy
      - ctrl_cost_weight * sum(ctrl^2)
      - contact_cost                                 always 0 here, see below

``healthy`` = every ``qpos``/``qvel`` entry finite and ``healthy_z_range[0] <= qpos[2] <= [1]``;
an unhealthy step **terminates** the episode, and the transition is **absorbing** (paper C.4);
reaching ``episode_length`` truncates it (not absorbing). Non-finite physics ends the episode
(absorbing, reward 0, counted in ``metrics["non_finite"]``) even with
``terminate_when_unhealthy=False`` (see ``envs/base.py``).

Observation layouts (v5 with ``exclude_current_positions_from_observation=True``):

- Ant, Ant-Disabled (27): ``qpos[2:]`` (13: torso z, torso quaternion, 8 joint angles) ++ ``qvel`` (14).
- Humanoid (270): ``qpos[2:]`` (22) ++ ``qvel`` (23) ++ ``cinert[1:]`` (13 x 10) ++ ``cvel[1:]`` (13 x 6)
  ++ ``qfrc_actuator[6:]`` (17).

Deviation from v5: MJX does not compute the external contact forces ``cfrc_ext``, so the contact
cost (v5 weights: Ant 5e-4, Humanoid 5e-7) is zero and ``cfrc_ext`` is not observed, as in the
brax ports of these tasks. Contacts are limited to the ``<pair>``s in the XML (feet with the floor).

MJX settings (``LocomotionConfig`` fields, applied to the loaded model): Newton solver with
``solver_iterations=1`` and ``ls_iterations=4``, Euler damping disabled -- the cheap, GPU-friendly
settings MuJoCo Playground uses for locomotion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from trirl.continuous.envs.base import Env, EnvSpec, EnvState, initial_state, transition_state
from trirl.errors import InvalidConfigError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
VERSION = 1

#: Gymnasium v5 defaults per robot: (xml, frame_skip, forward weight, ctrl weight, healthy reward,
#: healthy z range, reset noise, action scale)
ROBOTS = {
    "ant": ("ant.xml", 5, 1.0, 0.5, 1.0, (0.2, 1.0), 0.1, 1.0),
    "ant_disabled": ("ant_disabled.xml", 5, 1.0, 0.5, 1.0, (0.2, 1.0), 0.1, 1.0),
    "humanoid": ("humanoid.xml", 5, 1.25, 0.1, 5.0, (1.0, 2.0), 0.01, 0.4),
}


@dataclass(frozen=True)
class LocomotionConfig:
    """Options of an MJX locomotion task; ``None`` means the Gymnasium-v5 default of ``robot``."""

    robot: str = "ant"  #: "ant", "ant_disabled" (shortened, disabled front legs) or "humanoid"
    episode_length: int = 1000  #: time limit in steps (truncation, not absorbing)
    frame_skip: int | None = None  #: physics steps per env step (v5: 5)
    forward_reward_weight: float | None = None  #: weight of the x velocity (v5: Ant 1, Humanoid 1.25)
    ctrl_cost_weight: float | None = None  #: weight of sum(ctrl^2) (v5: Ant 0.5, Humanoid 0.1)
    healthy_reward: float | None = None  #: reward per healthy step (v5: Ant 1, Humanoid 5)
    healthy_z_range: tuple[float, float] | None = None  #: allowed torso height (v5: Ant (0.2, 1), Humanoid (1, 2))
    terminate_when_unhealthy: bool = True  #: end (absorbing) when unhealthy
    reset_noise_scale: float | None = None  #: uniform qpos / normal qvel noise (v5: Ant 0.1, Humanoid 0.01)
    action_scale: float | None = None  #: ctrl = action_scale * action (Humanoid: 0.4, the v5 ctrl range)
    solver_iterations: int = 1  #: MJX Newton iterations (MuJoCo default 100; 1 suffices for locomotion)
    ls_iterations: int = 4  #: MJX line-search iterations
    disable_eulerdamp: bool = True  #: skip implicit joint damping in the Euler integrator (cheaper in MJX)

    def __post_init__(self):
        if self.robot not in ROBOTS:
            raise InvalidConfigError(f"LocomotionConfig.robot must be one of {sorted(ROBOTS)}, got {self.robot!r}")
        if self.episode_length < 1:
            raise InvalidConfigError(f"LocomotionConfig.episode_length must be >= 1, got {self.episode_length}")
        for name in ("solver_iterations", "ls_iterations"):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"LocomotionConfig.{name} must be >= 1, got {getattr(self, name)}")
        xml, skip, fwd, ctrl, healthy, z_range, noise, scale = ROBOTS[self.robot]
        defaults = {"frame_skip": skip, "forward_reward_weight": fwd, "ctrl_cost_weight": ctrl,
                    "healthy_reward": healthy, "healthy_z_range": z_range, "reset_noise_scale": noise,
                    "action_scale": scale}
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        object.__setattr__(self, "healthy_z_range", tuple(self.healthy_z_range))
        if self.frame_skip < 1:
            raise InvalidConfigError(f"LocomotionConfig.frame_skip must be >= 1, got {self.frame_skip}")
        low, high = self.healthy_z_range
        if not low < high:
            raise InvalidConfigError(f"LocomotionConfig.healthy_z_range must be (low, high) with low < high, got {self.healthy_z_range}")

    @property
    def xml_path(self) -> Path:
        return ASSETS / ROBOTS[self.robot][0]


def load_model(config: LocomotionConfig) -> mujoco.MjModel:
    """The MuJoCo model of ``config.robot`` with the MJX solver options applied."""
    model = mujoco.MjModel.from_xml_path(str(config.xml_path))
    model.opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
    model.opt.iterations = config.solver_iterations
    model.opt.ls_iterations = config.ls_iterations
    if config.disable_eulerdamp:
        model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    return model


def _cinert(data: mjx.Data) -> jax.Array:
    # newer MJX keeps backend-specific fields such as cinert under ``data._impl``
    impl = getattr(data, "_impl", None)
    return impl.cinert if impl is not None and hasattr(impl, "cinert") else data.cinert


def observation(robot: str, data: mjx.Data) -> jax.Array:
    """The documented observation layout of ``robot`` (module docstring)."""
    parts = [data.qpos[2:], data.qvel]
    if robot == "humanoid":
        parts += [_cinert(data)[1:].ravel(), data.cvel[1:].ravel(), data.qfrc_actuator[6:]]
    return jnp.concatenate(parts)


def forward_position(robot: str, model: mjx.Model, data: mjx.Data) -> jax.Array:
    """x of the torso (Ant) or of the centre of mass (Humanoid), as Gymnasium v5 measures progress."""
    if robot == "humanoid":
        mass = model.body_mass
        return jnp.sum(mass * data.xipos[:, 0]) / jnp.sum(mass)
    return data.xpos[1, 0]


def make(config: LocomotionConfig = LocomotionConfig()) -> Env:
    """The task as an :class:`Env` (wrap it with ``auto_reset`` for training)."""
    mj_model = load_model(config)
    model = mjx.put_model(mj_model)
    dt = mj_model.opt.timestep * config.frame_skip
    low, high = config.healthy_z_range
    obs_size = mj_model.nq - 2 + mj_model.nv
    if config.robot == "humanoid":
        obs_size += (mj_model.nbody - 1) * 16 + mj_model.nv - 6
    spec = EnvSpec(config.robot, VERSION, obs_size, mj_model.nu, config.episode_length)
    init_qpos = jnp.asarray(mj_model.qpos0)
    zero_metrics = {name: jnp.zeros(()) for name in ("forward_reward", "healthy_reward", "ctrl_cost", "x_velocity", "z")}

    def is_healthy(data: mjx.Data) -> jax.Array:
        finite = jnp.all(jnp.isfinite(data.qpos)) & jnp.all(jnp.isfinite(data.qvel))
        return finite & (data.qpos[2] >= low) & (data.qpos[2] <= high)

    def reset(key: jax.Array) -> EnvState:
        key, pos_key, vel_key = jax.random.split(key, 3)
        noise = config.reset_noise_scale
        qpos = init_qpos + jax.random.uniform(pos_key, (mj_model.nq,), minval=-noise, maxval=noise)
        qvel = noise * jax.random.normal(vel_key, (mj_model.nv,))
        data = mjx.forward(model, mjx.make_data(model).replace(qpos=qpos, qvel=qvel))
        return initial_state(data, observation(config.robot, data), key, dict(zero_metrics, z=qpos[2]))

    def step(state: EnvState, action: jax.Array) -> EnvState:
        data = state.physics
        ctrl = config.action_scale * jnp.clip(action, -1.0, 1.0)
        x_before = forward_position(config.robot, model, data)

        def physics_step(d, _):
            return mjx.step(model, d.replace(ctrl=ctrl)), None

        data, _ = jax.lax.scan(physics_step, data, None, length=config.frame_skip)
        x_velocity = (forward_position(config.robot, model, data) - x_before) / dt
        healthy = is_healthy(data)
        forward_reward = config.forward_reward_weight * x_velocity
        healthy_reward = config.healthy_reward * healthy
        ctrl_cost = config.ctrl_cost_weight * jnp.sum(ctrl**2)
        reward = forward_reward + healthy_reward - ctrl_cost
        absorbing = jnp.logical_not(healthy) & config.terminate_when_unhealthy
        metrics = {"forward_reward": forward_reward, "healthy_reward": healthy_reward.astype(jnp.float32),
                   "ctrl_cost": ctrl_cost, "x_velocity": x_velocity, "z": data.qpos[2]}
        physics_finite = jnp.all(jnp.isfinite(data.qpos)) & jnp.all(jnp.isfinite(data.qvel))
        return transition_state(state, data, observation(config.robot, data), reward, absorbing, metrics,
                                config.episode_length, physics_finite)

    return Env(spec=spec, reset=reset, step=step)
