"""Environments: the pure ``reset``/``step`` interface, the point maze and MJX locomotion.

``make(name, **options)`` builds a registered environment (not yet auto-reset)::

    point_maze, point_maze_mirrored       pure JAX (envs/point_maze.py)
    half_cheetah, half_cheetah_windy, half_cheetah_mars, hopper, walker2d,
    ant, ant_disabled, humanoid           MuJoCo MJX, Gymnasium v5's tasks (envs/locomotion.py)
    lqr                                   soft LQ control, exact closed forms (envs/lqr.py)
"""

from __future__ import annotations

from typing import Any

from trirl.continuous.envs.base import Env, EnvSpec, EnvState, auto_reset
from trirl.errors import InvalidConfigError

LOCOMOTION_NAMES = ("half_cheetah", "half_cheetah_windy", "half_cheetah_mars", "hopper", "walker2d",
                    "ant", "ant_disabled", "humanoid")  # envs/locomotion.py TASK_NAMES, kept equal by a test
ENV_NAMES = ("point_maze", "point_maze_mirrored", *LOCOMOTION_NAMES, "lqr")


def make_config(name: str, options: dict[str, Any] | None = None):
    """The frozen config dataclass of environment ``name`` with ``options`` overriding defaults."""
    options = dict(options or {})
    if name in ("point_maze", "point_maze_mirrored"):
        from trirl.continuous.envs.point_maze import PointMazeConfig

        options.setdefault("mirrored", name == "point_maze_mirrored")
        return PointMazeConfig(**options)
    if name in LOCOMOTION_NAMES:
        from trirl.continuous.envs.locomotion import LocomotionConfig

        return LocomotionConfig(robot=name, **options)
    if name == "lqr":
        from trirl.continuous.envs.lqr import LQRConfig

        return LQRConfig(**options)
    raise InvalidConfigError(f"env: unknown environment {name!r}; choose one of {', '.join(ENV_NAMES)}")


def make(name: str, options: dict[str, Any] | None = None) -> Env:
    """Build environment ``name`` (see ``ENV_NAMES``) with config ``options``."""
    config = make_config(name, options)
    if name.startswith("point_maze"):
        from trirl.continuous.envs import point_maze

        return point_maze.make(config)
    if name == "lqr":
        from trirl.continuous.envs import lqr

        return lqr.make(config)
    from trirl.continuous.envs import locomotion

    return locomotion.make(config)


__all__ = ["ENV_NAMES", "Env", "EnvSpec", "EnvState", "auto_reset", "make", "make_config"]
