"""Expert-training experiment configs, read from TOML files under ``continuous/``.

A file looks like ``continuous/point_maze_expert.toml``::

    env = "point_maze"          # a name from trirl.continuous.envs.ENV_NAMES
    seed = 0
    total_steps = 200_000       # environment steps (rounded up to whole iterations)
    eval_every = 10             # iterations between evaluations
    eval_episodes = 32
    checkpoint_every = 10       # iterations between checkpoints (and always at the end)

    [env_options]               # fields of the env's config dataclass
    [ppo]                       # fields of PPOConfig
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from trirl import configflags
from trirl.continuous.envs import ENV_NAMES, make_config
from trirl.continuous.ppo import PPOConfig
from trirl.errors import InvalidConfigError
from trirl.resources import data_dir

#: the shipped configs and experts: ``continuous/`` of a checkout, or the wheel's copy
CONFIG_DIR = data_dir("continuous")


@dataclass(frozen=True)
class ExpertConfig:
    """Training a PPO expert on the true reward."""

    env: str  #: environment name
    seed: int = 0  #: seed of parameters, environments and sampling
    total_steps: int = 200_000  #: environment steps to train for
    eval_every: int = 10  #: iterations between deterministic evaluations
    eval_episodes: int = 32  #: episodes per evaluation
    checkpoint_every: int = 10  #: iterations between checkpoints
    env_options: dict[str, Any] = field(default_factory=dict)  #: env config overrides
    ppo: PPOConfig = PPOConfig()  #: PPO hyperparameters

    def __post_init__(self):
        if self.env not in ENV_NAMES:
            raise InvalidConfigError(f"ExpertConfig.env: unknown environment {self.env!r}; choose one of {ENV_NAMES}")
        for name in ("total_steps", "eval_every", "eval_episodes", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"ExpertConfig.{name} must be >= 1, got {getattr(self, name)}")
        make_config(self.env, self.env_options)  # validates the env options now

    @property
    def iterations(self) -> int:
        return math.ceil(self.total_steps / self.ppo.batch_size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_dict(data: dict[str, Any]) -> ExpertConfig:
    data = dict(data)
    known = {f.name for f in fields(ExpertConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidConfigError(f"expert config: unknown keys {unknown}; known keys are {sorted(known)}")
    ppo = dict(data.pop("ppo", {}))
    ppo_fields = {f.name for f in fields(PPOConfig)}
    if set(ppo) - ppo_fields:
        raise InvalidConfigError(f"expert config: unknown [ppo] keys {sorted(set(ppo) - ppo_fields)}")
    return ExpertConfig(ppo=PPOConfig(**ppo), **data)


def resolve_config(path: str | Path) -> Path:
    """A config file by path, or a shipped config by name (``trirl_point_maze`` or
    ``trirl_point_maze.toml`` under ``continuous/``).

    Raises:
        InvalidConfigError: naming ``--config`` and the shipped names when neither exists.
    """
    path = Path(path)
    if path.exists():
        return path
    shipped = CONFIG_DIR / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
    if path.parent in (Path("."), Path("continuous")) and shipped.is_file():
        return shipped
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
    raise InvalidConfigError(f"--config: {path} does not exist and is not a shipped config; shipped: {names}")


def load(path: str | Path, **overrides) -> ExpertConfig:
    """Read an :class:`ExpertConfig` from TOML (a path or a shipped name, :func:`resolve_config`);
    ``overrides`` (e.g. ``total_steps``, or ``ppo={...}`` merged key by key) win."""
    path = resolve_config(path)
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    return from_dict(configflags.merge(data, overrides))


def default_path(env: str) -> Path:
    """The shipped ``continuous/<env>_expert.toml`` (it may not exist for every env)."""
    return CONFIG_DIR / f"{env}_expert.toml"
