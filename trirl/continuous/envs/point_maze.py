"""Point Maze: a 2-D point mass that walks around a wall to a goal, in pure JAX.

The transfer task of AIRL (Fu et al., 2018) and of the paper's Table 2: the agent starts below
a horizontal wall and must reach a goal above it through a gap at one end of the wall. In the
**mirrored** variant the wall hangs from the other side, so the gap (and the expert's path) is
mirrored while start, goal and reward stay the same: a reward that encodes "reach the goal"
transfers, one that copies the expert's path does not.

Geometry (unit square ``[0, 1]^2``)::

    y=1 +-----------------+
        |        G        |     G = goal (0.5, 0.8)
    y=.5|=========== gap  |     wall: y = 0.5, x in [0, 0.65] (mirrored: x in [0.35, 1])
        |        S        |     S = start (0.5, 0.2) + uniform noise of +-``reset_noise``
    y=0 +-----------------+

Dynamics: ``p' = clip(p + max_speed * clip(a, -1, 1), 0, 1)``; a move that would cross the wall
keeps its x motion and cancels its y motion (the point slides along the wall).
Observation ``[x, y]``; reward ``-||p' - goal||`` (negative distance, AIRL's choice); no
termination unless ``terminate_at_goal`` (then reaching the goal is absorbing).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from trirl.continuous.envs.base import Env, EnvSpec, EnvState, initial_state, transition_state
from trirl.errors import InvalidConfigError

VERSION = 1
WALL_Y = 0.5
START = (0.5, 0.2)
GOAL = (0.5, 0.8)


@dataclass(frozen=True)
class PointMazeConfig:
    """Options of the point maze. Defaults reproduce the AIRL-style task."""

    mirrored: bool = False  #: wall on the right with the gap on the left (the transfer task)
    episode_length: int = 100  #: time limit in steps (truncation, not absorbing)
    max_speed: float = 0.04  #: distance covered per step by a full action
    wall_length: float = 0.65  #: length of the wall from its side of the maze
    reset_noise: float = 0.05  #: half-width of the uniform noise on the start position
    goal_radius: float = 0.05  #: distance counted as "at the goal" (``at_goal`` metric)
    terminate_at_goal: bool = False  #: end the episode (absorbing) when the goal is reached

    def __post_init__(self):
        if self.episode_length < 1:
            raise InvalidConfigError(f"PointMazeConfig.episode_length must be >= 1, got {self.episode_length}")
        if not 0.0 < self.max_speed <= 0.5:
            raise InvalidConfigError(f"PointMazeConfig.max_speed must be in (0, 0.5], got {self.max_speed}")
        if not 0.0 < self.wall_length < 1.0:
            raise InvalidConfigError(f"PointMazeConfig.wall_length must be in (0, 1), got {self.wall_length}")
        if not 0.0 <= self.reset_noise < 0.2:
            raise InvalidConfigError(f"PointMazeConfig.reset_noise must be in [0, 0.2), got {self.reset_noise}")
        if self.goal_radius <= 0.0:
            raise InvalidConfigError(f"PointMazeConfig.goal_radius must be > 0, got {self.goal_radius}")

    @property
    def name(self) -> str:
        return "point_maze_mirrored" if self.mirrored else "point_maze"


def wall_span(config: PointMazeConfig) -> tuple[float, float]:
    """The x interval covered by the wall."""
    if config.mirrored:
        return 1.0 - config.wall_length, 1.0
    return 0.0, config.wall_length


def move(config: PointMazeConfig, position: jax.Array, action: jax.Array) -> jax.Array:
    """One step of the point: bounded move, clipped to the square, blocked by the wall."""
    proposal = jnp.clip(position + config.max_speed * jnp.clip(action, -1.0, 1.0), 0.0, 1.0)
    low, high = wall_span(config)
    crosses = (position[1] - WALL_Y) * (proposal[1] - WALL_Y) <= 0.0
    x_mid = 0.5 * (position[0] + proposal[0])
    blocked = crosses & (x_mid >= low) & (x_mid <= high) & (position[1] != WALL_Y)
    return jnp.where(blocked, jnp.array([proposal[0], position[1]]), proposal)


def make(config: PointMazeConfig = PointMazeConfig()) -> Env:
    """The point maze as an :class:`Env` (wrap it with ``auto_reset`` for training)."""
    goal = jnp.array(GOAL)
    spec = EnvSpec(config.name, VERSION, observation_size=2, action_size=2, episode_length=config.episode_length)

    def metrics_of(position):
        distance = jnp.linalg.norm(position - goal)
        return {"distance": distance, "at_goal": (distance < config.goal_radius).astype(jnp.float32)}

    def reset(key: jax.Array) -> EnvState:
        key, noise_key = jax.random.split(key)
        noise = jax.random.uniform(noise_key, (2,), minval=-config.reset_noise, maxval=config.reset_noise)
        position = jnp.array(START) + noise
        return initial_state(position, position, key, metrics_of(position))

    def step(state: EnvState, action: jax.Array) -> EnvState:
        position = move(config, state.physics, action)
        metrics = metrics_of(position)
        absorbing = config.terminate_at_goal & (metrics["at_goal"] > 0)
        return transition_state(state, position, position, -metrics["distance"], absorbing, metrics,
                                config.episode_length, jnp.all(jnp.isfinite(position)))

    return Env(spec=spec, reset=reset, step=step)
