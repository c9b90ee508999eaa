"""The MuJoCo locomotion suite on MJX: Gymnasium v5's tasks, and trirl's first Ant and Humanoid.

Tasks (``make(name)`` in ``envs/__init__.py``; ``version`` is the :class:`EnvSpec` version)::

    name                 version 2 (Gymnasium v5's model)        version 1 (trirl's own MJCF, the old physics)
    half_cheetah         HalfCheetah-v5                          -
    half_cheetah_windy   HalfCheetah-v5, 5 m/s head wind         -
    half_cheetah_mars    HalfCheetah-v5, gravity 3.73 m/s^2      -
    hopper               Hopper-v5                               -
    walker2d             Walker2d-v5                             -
    ant                  Ant-v5                                  default (the committed expert's physics)
    ant_disabled         Ant-v5, front legs short and unpowered  default
    humanoid             Humanoid-v5                             default

**Version 2 is Gymnasium v5's task.** The model is Gymnasium's own XML, read at run time from the
installed ``gymnasium`` package (MIT; ``gymnasium`` is a dependency of the ``continuous`` extra, so
nothing is copied; :data:`GYMNASIUM_SHA256` pins the files, identical in gymnasium 1.0 to 1.4, and
a changed file warns). Observation, reward, termination, reset noise and dt are v5's, with
``exclude_current_positions_from_observation=True`` and, by default, without the contact forces
``cfrc_ext`` in the observation (``include_cfrc_ext_in_observation``; v5's default includes them)::

    HalfCheetah (17)  qpos[1:] ++ qvel;                       r = v_x - 0.1 |a|^2;         no termination
    Hopper (11)       qpos[1:] ++ clip(qvel, -10, 10);        r = v_x + 1 - 1e-3 |a|^2;    dt 0.008
    Walker2d (17)     qpos[1:] ++ clip(qvel, -10, 10);        r = v_x + 1 - 1e-3 |a|^2;    dt 0.008
    Ant (27 | 105)    qpos[2:] ++ qvel [++ clip(cfrc_ext[1:], -1, 1)];
                      r = v_x(torso) + 1 - 0.5 |a|^2 - 5e-4 |clip(cfrc_ext, -1, 1)|^2
    Humanoid (270 | 348)  qpos[2:] ++ qvel ++ cinert[1:] ++ cvel[1:] ++ qfrc_actuator[6:] [++ cfrc_ext[1:]];
                      r = 1.25 v_x(centre of mass) + 5 - 0.1 |ctrl|^2 - min(5e-7 |cfrc_ext|^2, 10)

Healthy (else the episode terminates, and the transition is absorbing, paper C.4): Hopper
``z > 0.7``, ``|angle| < 0.2``, ``|qpos[2:], qvel| < 100``; Walker2d ``0.8 < z < 2``,
``|angle| < 1``; Ant ``0.2 <= z <= 1`` and finite; Humanoid ``1 < z < 2``. Reset: ``qpos0 +
U(-s, s)`` and ``qvel`` noise ``U(-s, s)`` (Hopper, Walker2d, Humanoid) or ``s N(0, 1)``
(HalfCheetah, Ant), ``s`` = ``reset_noise_scale``. One step is ``frame_skip`` physics steps of
``ctrl = action_scale * clip(a, -1, 1)``; velocities are ``(x' - x) / dt`` of ``qpos[0]``
(planar robots), of the torso's ``xpos`` (Ant) or of the centre of mass (Humanoid), read after the
step as Gymnasium reads them.

The transfer variants (paper Section 5.2, Table 1): ``half_cheetah_windy`` blows a constant
``wind`` of 5 m/s against the direction of travel (MuJoCo's ``opt.wind = (-5, 0, 0)``) through
air of density ``air_density`` 1.2 kg/m^3 (the paper gives the speed only; MuJoCo applies no wind
force at its default density 0; so set, the wind lowers uniform random actions' return from
-234 to -311 per 1,000 steps in Gymnasium's HalfCheetah); ``half_cheetah_mars`` has ``gravity`` 3.73 m/s^2;
``ant_disabled`` (AIRL, Fu et al. 2018) shortens the thigh and shin of Ant-v5's two legs that point
forward (+x: legs 1 and 4, whose hip and ankle are actions 2, 3 and 0, 1 in v5's actuator order
``hip_4, ankle_4, hip_1, ankle_1, hip_2, ...``) to a quarter and sets their motors' gear to 0;
their actions are still charged the control cost.

**MJX settings.** MJX runs MuJoCo in float32 and has no PGS solver (Gymnasium's Humanoid model
asks for PGS; trirl solves it with Newton, as every task); what it is asked to do costs
throughput on a CPU. The config fields ``integrator`` (the model's, or ``"euler"``),
``solver_iterations``, ``ls_iterations`` and ``contacts`` (``"model"``: every pair the model
collides; ``"floor"``: only geoms with the floor) choose it. The defaults (Newton, 4 iterations,
4 line-search iterations, the model's integrator and contacts) are the cheapest settings that
keep the agreement with Gymnasium's C MuJoCo environment that any setting keeps, measured per task
by ``python -m trirl.continuous.envs.equivalence`` on paired rollouts (same start, same random
actions) into ``continuous/results/suite_equivalence_cpu.json``; ``continuous/README.md`` shows
the table (the error after k steps, the returns, the throughput of each setting), and
``tests/continuous/test_suite_equivalence.py`` tests the k-step agreement. In short: Hopper,
Walker2d and Humanoid agree over 20 steps; HalfCheetah parts after about 10 steps through MJX's
float32 (float64 agrees), so its random-action returns differ by a measured amount; Ant's states
part after a few contact steps whatever the precision or the solver iterations, and its returns
agree statistically. Contact forces ``cfrc_ext`` are computed with MJX's ``rne_postconstraint``
only where the task needs them (the contact cost of Ant and Humanoid, or
``include_cfrc_ext_in_observation``); from the same state they equal C MuJoCo's.

**Version 1** (the old physics, kept so the committed Ant expert and its results reproduce): the
models are trirl's own MJCF files in ``trirl/continuous/assets/`` (actuators in another order,
Euler integrator, contacts only feet-floor, ``solver_iterations=1``, ``ls_iterations=4``),
``cfrc_ext`` is not computed, so the contact cost is 0 and not observed, and the Humanoid's
qvel reset noise is normal (v5: uniform). Its numbers are not the literature's: an expert trained
there scores far less in Gymnasium's Ant-v5. Made in version 1, and valid for it only: the
committed experts ``continuous/experts/ant`` and ``ant_disabled``, the Ant IRL results
``continuous/results/ant_cpu*`` and the old models' timings; ``continuous/README.md`` ("What
depends on version 1") lists every file.

Non-finite physics ends the episode (absorbing, reward 0, counted in ``metrics["non_finite"]``)
even with ``terminate_when_unhealthy=False`` (see ``envs/base.py``). So does physics that has
blown up without turning non-finite: any ``|qvel| > max_qvel`` (default 1,000 rad/s or m/s), also
counted in ``metrics["diverged"]``. MJX can do that where C MuJoCo would not: HalfCheetah's
expert with ``solver_iterations = 1``, started from one of Gymnasium's reset states, jams at
``|qvel|`` about 46 for 500 steps and then reaches 1.9e14 within 20 steps, a return of -2e13
(``continuous/results/suite_equivalence_cpu.json``, ``newton_1_4``). The bound is far from every
real state (the largest ``|qvel|`` under uniform random actions in Gymnasium's v5 tasks, 5 x 1,000
steps: 5 to 38; under the HalfCheetah expert: 54) and far below C MuJoCo's own check (1e10,
``mjMAXVAL``), so it changes no finite result; ``max_qvel = inf`` turns it off.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import mujoco

from trirl.continuous.envs.base import Env, EnvSpec, EnvState, initial_state, transition_state
from trirl.continuous.envs.mjx import mjx
from trirl.continuous.envs.mujoco_models import (
    ASSETS, GYMNASIUM_SHA256, GymnasiumModelWarning, compile_model, disable_front_legs, gymnasium_asset,
)
from trirl.errors import InvalidConfigError

LATEST = 2  #: the version of Gymnasium's models


class Task(NamedTuple):
    """What defines one task: its model and Gymnasium v5's constants for it."""

    gym_id: str  #: the Gymnasium environment it is equivalent to (version 2)
    xml: str  #: Gymnasium's model file (under gymnasium/envs/mujoco/assets/)
    v1_xml: str | None  #: trirl's own model (version 1), or None where there is none
    frame_skip: int
    forward_reward_weight: float
    ctrl_cost_weight: float
    contact_cost_weight: float  #: 0: no contact cost
    healthy_reward: float
    healthy_z_range: tuple[float, float] | None  #: None: never unhealthy (HalfCheetah)
    healthy_angle_range: tuple[float, float] | None  #: planar robots: qpos[2]
    reset_noise_scale: float
    qvel_noise: str  #: "normal" (s N(0, 1)) or "uniform" (U(-s, s))
    action_scale: float  #: ctrl = action_scale * clip(a, -1, 1) (the model's ctrlrange)
    skipped_qpos: int  #: leading qpos entries left out of the observation (x; x, y)
    progress: str  #: "qpos" (qpos[0]), "torso" (xpos of body 1), "com" (centre of mass x)


TASKS: dict[str, Task] = {
    "half_cheetah": Task("HalfCheetah-v5", "half_cheetah.xml", None, 5, 1.0, 0.1, 0.0, 0.0, None, None,
                         0.1, "normal", 1.0, 1, "qpos"),
    "hopper": Task("Hopper-v5", "hopper.xml", None, 4, 1.0, 1e-3, 0.0, 1.0, (0.7, float("inf")), (-0.2, 0.2),
                   5e-3, "uniform", 1.0, 1, "qpos"),
    "walker2d": Task("Walker2d-v5", "walker2d_v5.xml", None, 4, 1.0, 1e-3, 0.0, 1.0, (0.8, 2.0), (-1.0, 1.0),
                     5e-3, "uniform", 1.0, 1, "qpos"),
    "ant": Task("Ant-v5", "ant.xml", "ant.xml", 5, 1.0, 0.5, 5e-4, 1.0, (0.2, 1.0), None,
                0.1, "normal", 1.0, 2, "torso"),
    "humanoid": Task("Humanoid-v5", "humanoid.xml", "humanoid.xml", 5, 1.25, 0.1, 5e-7, 5.0, (1.0, 2.0), None,
                     0.01, "uniform", 0.4, 2, "com"),
}
#: the transfer variants: (base task, what changes)
VARIANTS = {
    "half_cheetah_windy": "half_cheetah",
    "half_cheetah_mars": "half_cheetah",
    "ant_disabled": "ant",
}
TASK_NAMES = (*TASKS, *VARIANTS)
#: tasks whose default is still version 1 (their committed experts were trained there)
V1_DEFAULT = ("ant", "ant_disabled", "humanoid")
PAPER_WIND = (-5.0, 0.0, 0.0)  #: m/s, against the direction of travel (paper Section 5.2)
MARS_GRAVITY = 3.73  #: m/s^2 (paper Section 5.2)
INTEGRATORS = {"model": None, "euler": mujoco.mjtIntegrator.mjINT_EULER, "rk4": mujoco.mjtIntegrator.mjINT_RK4,
               "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST}


@dataclass(frozen=True)
class LocomotionConfig:
    """Options of an MJX locomotion task; ``None`` means the default of ``robot`` and ``version``."""

    robot: str = "ant"  #: a name of ``TASK_NAMES`` (the registry name of the task)
    version: int | None = None  #: 2: Gymnasium v5's model; 1: trirl's own (ant, ant_disabled, humanoid); None: the task's default
    episode_length: int = 1000  #: time limit in steps (truncation, not absorbing)
    frame_skip: int | None = None  #: physics steps per env step (v5: 5; Hopper, Walker2d 4)
    forward_reward_weight: float | None = None  #: weight of the x velocity
    ctrl_cost_weight: float | None = None  #: weight of sum(ctrl^2)
    contact_cost_weight: float | None = None  #: weight of the contact cost (version 1: 0, MJX had no cfrc_ext)
    healthy_reward: float | None = None  #: reward per healthy step
    healthy_z_range: tuple[float, float] | None = None  #: allowed torso height
    terminate_when_unhealthy: bool = True  #: end (absorbing) when unhealthy
    reset_noise_scale: float | None = None  #: qpos / qvel reset noise scale
    action_scale: float | None = None  #: ctrl = action_scale * action (Humanoid: 0.4, the v5 ctrl range)
    include_cfrc_ext_in_observation: bool = False  #: append clipped contact forces (v5's default: True)
    integrator: str = "model"  #: "model" (Gymnasium: RK4, HalfCheetah Euler), "euler", "rk4" or "implicitfast"
    solver_iterations: int | None = None  #: MJX Newton iterations (None: the measured default of the task)
    ls_iterations: int | None = None  #: MJX line-search iterations (None: the measured default)
    contacts: str = "model"  #: "model": the model's colliding pairs; "floor": only geoms against the floor
    disable_eulerdamp: bool = True  #: skip implicit joint damping in the Euler integrator (version 1 only)
    wind: tuple[float, float, float] | None = None  #: m/s (half_cheetah_windy: (-5, 0, 0); else 0)
    air_density: float | None = None  #: kg/m^3, needed for wind to act (half_cheetah_windy: 1.2; else 0)
    gravity: float | None = None  #: m/s^2, downwards (half_cheetah_mars: 3.73; else 9.81)
    max_qvel: float = 1000.0  #: |qvel| above this ends the episode as diverged physics (module docstring); inf: off

    def __post_init__(self):
        if self.robot not in TASK_NAMES:
            raise InvalidConfigError(f"LocomotionConfig.robot must be one of {list(TASK_NAMES)}, got {self.robot!r}")
        version = self.version if self.version is not None else (1 if self.robot in V1_DEFAULT else LATEST)
        object.__setattr__(self, "version", version)
        if version not in (1, 2) or (version == 1 and self.robot not in V1_DEFAULT):
            allowed = "1 or 2" if self.robot in V1_DEFAULT else "2"
            raise InvalidConfigError(f"LocomotionConfig.version of {self.robot!r} must be {allowed}, got {self.version!r}")
        if self.episode_length < 1:
            raise InvalidConfigError(f"LocomotionConfig.episode_length must be >= 1, got {self.episode_length}")
        if self.integrator not in INTEGRATORS:
            raise InvalidConfigError(f"LocomotionConfig.integrator must be one of {list(INTEGRATORS)}, got {self.integrator!r}")
        if self.contacts not in ("model", "floor"):
            raise InvalidConfigError(f"LocomotionConfig.contacts must be 'model' or 'floor', got {self.contacts!r}")
        task = self.task
        v1 = version == 1
        defaults = {
            "frame_skip": task.frame_skip, "forward_reward_weight": task.forward_reward_weight,
            "ctrl_cost_weight": task.ctrl_cost_weight, "contact_cost_weight": 0.0 if v1 else task.contact_cost_weight,
            "healthy_reward": task.healthy_reward, "healthy_z_range": task.healthy_z_range,
            "reset_noise_scale": task.reset_noise_scale, "action_scale": task.action_scale,
            "solver_iterations": 1 if v1 else DEFAULT_SOLVER[self.base][0],
            "ls_iterations": 4 if v1 else DEFAULT_SOLVER[self.base][1],
            "wind": PAPER_WIND if self.robot == "half_cheetah_windy" else (0.0, 0.0, 0.0),
            "air_density": 1.2 if self.robot == "half_cheetah_windy" else 0.0,
            "gravity": MARS_GRAVITY if self.robot == "half_cheetah_mars" else 9.81,
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.healthy_z_range is not None:
            object.__setattr__(self, "healthy_z_range", tuple(float(z) for z in self.healthy_z_range))
            low, high = self.healthy_z_range
            if not low < high:
                raise InvalidConfigError(
                    f"LocomotionConfig.healthy_z_range must be (low, high) with low < high, got {self.healthy_z_range}")
        object.__setattr__(self, "wind", tuple(float(w) for w in self.wind))
        if len(self.wind) != 3:
            raise InvalidConfigError(f"LocomotionConfig.wind must be 3 numbers (m/s), got {self.wind}")
        for name in ("frame_skip", "solver_iterations", "ls_iterations"):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"LocomotionConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.max_qvel > 0:
            raise InvalidConfigError(f"LocomotionConfig.max_qvel must be > 0 (inf: no bound), got {self.max_qvel}")
        for name in ("ctrl_cost_weight", "contact_cost_weight", "reset_noise_scale", "action_scale", "air_density",
                     "gravity"):
            if not getattr(self, name) >= 0:
                raise InvalidConfigError(f"LocomotionConfig.{name} must be >= 0, got {getattr(self, name)}")
        if v1 and (self.include_cfrc_ext_in_observation or self.contact_cost_weight):
            raise InvalidConfigError("LocomotionConfig: version 1 computes no contact forces; "
                                     "include_cfrc_ext_in_observation and contact_cost_weight need version = 2")

    @property
    def base(self) -> str:
        """The task a transfer variant modifies (``half_cheetah_mars`` -> ``half_cheetah``)."""
        return VARIANTS.get(self.robot, self.robot)

    @property
    def task(self) -> Task:
        return TASKS[self.base]

    @property
    def needs_contact_forces(self) -> bool:
        return self.include_cfrc_ext_in_observation or self.contact_cost_weight > 0


#: (solver_iterations, ls_iterations) of version 2, the cheapest that keep the returns'
#: agreement with Gymnasium (measured: continuous/results/suite_equivalence_cpu.json)
DEFAULT_SOLVER = {"half_cheetah": (4, 4), "hopper": (4, 4), "walker2d": (4, 4), "ant": (4, 4), "humanoid": (4, 4)}


def model_xml(config: LocomotionConfig) -> str:
    """The task's MJCF text: Gymnasium's file (version 2, edited for ``ant_disabled``) or trirl's."""
    if config.version == 1:
        name = "ant_disabled.xml" if config.robot == "ant_disabled" else config.task.v1_xml
        return (ASSETS / name).read_text()
    path = gymnasium_asset(config.task.xml)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != GYMNASIUM_SHA256[config.task.xml]:
        warnings.warn(f"{path} differs from the file trirl's equivalence was measured on (gymnasium 1.0-1.4); "
                      "its dynamics may differ", GymnasiumModelWarning, stacklevel=3)
    text = data.decode()
    if config.robot == "ant_disabled":
        text = disable_front_legs(text)
    return text


def load_model(config: LocomotionConfig) -> mujoco.MjModel:
    """The MuJoCo model of ``config`` with its MJX settings applied (the C reference uses it too)."""
    model = compile_model(model_xml(config))
    model.opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
    model.opt.iterations = config.solver_iterations
    model.opt.ls_iterations = config.ls_iterations
    if INTEGRATORS[config.integrator] is not None:
        model.opt.integrator = INTEGRATORS[config.integrator]
    if config.version == 1 and config.disable_eulerdamp:
        model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    if config.contacts == "floor":
        floor = model.geom_bodyid == 0
        model.geom_contype[:] = 1
        model.geom_conaffinity[:] = floor.astype(model.geom_conaffinity.dtype)
    model.opt.wind[:] = config.wind
    model.opt.density = config.air_density
    model.opt.gravity[:] = (0.0, 0.0, -config.gravity)
    return model


def _cinert(data: mjx.Data) -> jax.Array:
    # newer MJX keeps backend-specific fields such as cinert under ``data._impl``
    impl = getattr(data, "_impl", None)
    return impl.cinert if impl is not None and hasattr(impl, "cinert") else data.cinert


def _cfrc_ext(data: mjx.Data) -> jax.Array:
    impl = getattr(data, "_impl", None)
    return impl.cfrc_ext if impl is not None and hasattr(impl, "cfrc_ext") else data.cfrc_ext


def contact_forces(config: LocomotionConfig, data: mjx.Data) -> jax.Array:
    """``[nbody, 6]`` external contact forces as the task uses them (Ant: clipped to [-1, 1])."""
    forces = _cfrc_ext(data)
    return jnp.clip(forces, -1.0, 1.0) if config.base == "ant" else forces


def observation(config: LocomotionConfig, data: mjx.Data) -> jax.Array:
    """The documented observation layout of ``config.robot`` (module docstring)."""
    qvel = data.qvel
    if config.base in ("hopper", "walker2d"):
        qvel = jnp.clip(qvel, -10.0, 10.0)
    parts = [data.qpos[config.task.skipped_qpos:], qvel]
    if config.base == "humanoid":
        parts += [_cinert(data)[1:].ravel(), data.cvel[1:].ravel(), data.qfrc_actuator[6:]]
    if config.include_cfrc_ext_in_observation:
        parts.append(contact_forces(config, data)[1:].ravel())
    return jnp.concatenate(parts)


def observation_structure(config: LocomotionConfig, model: mujoco.MjModel) -> dict[str, int]:
    """The observation's named blocks and their sizes, in order, as Gymnasium v5's ``observation_structure``.

    ``{"qpos": 13, "qvel": 14}`` for Ant (``qpos`` without the ``skipped_qpos`` leading entries);
    the demonstration importer (``trirl.continuous.demo_formats``) matches a dataset's blocks to
    these by name.
    """
    blocks = {"qpos": model.nq - config.task.skipped_qpos, "qvel": model.nv}
    if config.base == "humanoid":
        blocks.update(cinert=(model.nbody - 1) * 10, cvel=(model.nbody - 1) * 6, qfrc_actuator=model.nv - 6)
    if config.include_cfrc_ext_in_observation:
        blocks["cfrc_ext"] = (model.nbody - 1) * 6
    return blocks


def observation_size(config: LocomotionConfig, model: mujoco.MjModel) -> int:
    return sum(observation_structure(config, model).values())


def forward_position(config: LocomotionConfig, model: mjx.Model, data: mjx.Data) -> jax.Array:
    """The x that Gymnasium v5 measures progress by (module docstring)."""
    if config.task.progress == "com":
        mass = model.body_mass
        return jnp.sum(mass * data.xipos[:, 0]) / jnp.sum(mass)
    if config.task.progress == "torso":
        return data.xpos[1, 0]
    return data.qpos[0]


def is_healthy(config: LocomotionConfig, data: mjx.Data) -> jax.Array:
    """Gymnasium v5's healthy condition of the task (module docstring); True for HalfCheetah."""
    finite = jnp.all(jnp.isfinite(data.qpos)) & jnp.all(jnp.isfinite(data.qvel))
    if config.healthy_z_range is None:
        return finite
    low, high = config.healthy_z_range
    if config.base in ("hopper", "walker2d"):
        z, angle = data.qpos[1], data.qpos[2]
        a_low, a_high = config.task.healthy_angle_range
        healthy = (low < z) & (z < high) & (a_low < angle) & (angle < a_high)
        if config.base == "hopper":
            state = jnp.concatenate([data.qpos[2:], data.qvel])
            healthy &= jnp.all((-100.0 < state) & (state < 100.0))
        return finite & healthy
    z = data.qpos[2]
    if config.base == "humanoid":
        return finite & (low < z) & (z < high)
    return finite & (low <= z) & (z <= high)


def make(config: LocomotionConfig = LocomotionConfig()) -> Env:
    """The task as an :class:`Env` (wrap it with ``auto_reset`` for training)."""
    mj_model = load_model(config)
    model = mjx.put_model(mj_model)
    dt = mj_model.opt.timestep * config.frame_skip
    spec = EnvSpec(config.robot, config.version, observation_size(config, mj_model), mj_model.nu,
                   config.episode_length)
    init_qpos = jnp.asarray(mj_model.qpos0)
    metric_names = ("forward_reward", "healthy_reward", "ctrl_cost", "contact_cost", "x_velocity", "z", "diverged")
    zero_metrics = {name: jnp.zeros(()) for name in metric_names}
    z_index = 1 if config.task.skipped_qpos == 1 else 2
    contact_forces_needed = config.needs_contact_forces

    def with_contact_forces(data: mjx.Data) -> mjx.Data:
        return mjx.rne_postconstraint(model, data) if contact_forces_needed else data

    def reset(key: jax.Array) -> EnvState:
        key, pos_key, vel_key = jax.random.split(key, 3)
        noise = config.reset_noise_scale
        qpos = init_qpos + jax.random.uniform(pos_key, (mj_model.nq,), minval=-noise, maxval=noise)
        if config.task.qvel_noise == "uniform" and config.version == 2:
            qvel = jax.random.uniform(vel_key, (mj_model.nv,), minval=-noise, maxval=noise)
        else:
            qvel = noise * jax.random.normal(vel_key, (mj_model.nv,))
        data = with_contact_forces(mjx.forward(model, mjx.make_data(model).replace(qpos=qpos, qvel=qvel)))
        return initial_state(data, observation(config, data), key, dict(zero_metrics, z=qpos[z_index]))

    def step(state: EnvState, action: jax.Array) -> EnvState:
        data = state.physics
        ctrl = (config.action_scale * jnp.clip(action, -1.0, 1.0)).astype(data.ctrl.dtype)
        x_before = forward_position(config, model, data)

        def physics_step(d, _):
            return mjx.step(model, d.replace(ctrl=ctrl)), None

        data, _ = jax.lax.scan(physics_step, data, None, length=config.frame_skip)
        data = with_contact_forces(data)
        x_velocity = (forward_position(config, model, data) - x_before) / dt
        healthy = is_healthy(config, data)
        forward_reward = config.forward_reward_weight * x_velocity
        healthy_reward = config.healthy_reward * healthy
        ctrl_cost = config.ctrl_cost_weight * jnp.sum(ctrl**2)
        if config.contact_cost_weight > 0:
            contact_cost = config.contact_cost_weight * jnp.sum(jnp.square(contact_forces(config, data)))
            if config.base == "humanoid":
                contact_cost = jnp.minimum(contact_cost, 10.0)
        else:
            contact_cost = jnp.zeros(())
        reward = forward_reward + healthy_reward - ctrl_cost - contact_cost
        absorbing = jnp.logical_not(healthy) & config.terminate_when_unhealthy
        metrics = {"forward_reward": forward_reward, "healthy_reward": healthy_reward.astype(jnp.float32),
                   "ctrl_cost": ctrl_cost, "contact_cost": contact_cost, "x_velocity": x_velocity,
                   "z": data.qpos[z_index]}
        physics_finite = jnp.all(jnp.isfinite(data.qpos)) & jnp.all(jnp.isfinite(data.qvel))
        diverged = physics_finite & jnp.any(jnp.abs(data.qvel) > config.max_qvel)
        metrics["diverged"] = diverged.astype(jnp.float32)
        return transition_state(state, data, observation(config, data), reward, absorbing, metrics,
                                config.episode_length, physics_finite & jnp.logical_not(diverged))

    return Env(spec=spec, reset=reset, step=step)
