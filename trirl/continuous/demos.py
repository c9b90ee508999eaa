"""Demonstration files: a documented, versioned ``.npz`` schema, written and validated here.

Schema version 1 (``N`` episodes padded to ``T`` steps, ``O`` = observation size, ``A`` = action size)::

    schema_version     int64 []          1
    env_spec           uint8 [bytes]     UTF-8 JSON of EnvSpec.to_dict() (name, version, sizes, episode_length)
    observations       float32 [N, T, O] s_t
    actions            float32 [N, T, A] a_t as executed, in [-1, 1]
    next_observations  float32 [N, T, O] s'_t, the true next observation
    absorbing          bool    [N, T]    s'_t is absorbing (terminated, paper C.4); False on truncation
    rewards            float32 [N, T]    true environment reward (diagnostics only; IRL never reads it)
    lengths            int32   [N]       steps of each episode; entries at t >= lengths[i] are padding (zeros)
    returns            float32 [N]       undiscounted return of each episode

Only the last step of an episode may be absorbing. ``load_demonstrations`` raises
:class:`~trirl.errors.InvalidDemonstrationError` naming the field for any violation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from trirl.continuous.envs.base import EnvSpec
from trirl.errors import InvalidDemonstrationError
from trirl.files import read_npz, write_failure

SCHEMA_VERSION = 1

#: what :func:`trirl.rundir.read_npz` checks when reading (the version must be one integer, the
#: spec bytes); :func:`validate` then checks every array's shape and dtype against the others
SCHEMA = {"schema_version": ((), "iu"), "env_spec": ((None,), "u")}


class Demonstrations(NamedTuple):
    observations: np.ndarray  #: [N, T, O]
    actions: np.ndarray  #: [N, T, A]
    next_observations: np.ndarray  #: [N, T, O]
    absorbing: np.ndarray  #: [N, T] bool
    rewards: np.ndarray  #: [N, T]
    lengths: np.ndarray  #: [N] int32
    returns: np.ndarray  #: [N]
    env_spec: dict[str, Any]  #: EnvSpec.to_dict() of the environment that produced them

    @property
    def mask(self) -> np.ndarray:
        """``[N, T]`` True on real (non-padding) steps."""
        return np.arange(self.observations.shape[1])[None, :] < self.lengths[:, None]

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The real steps as flat arrays ``(obs [M, O], actions [M, A], next_obs [M, O], absorbing [M])``."""
        m = self.mask
        return self.observations[m], self.actions[m], self.next_observations[m], self.absorbing[m]


def save_demonstrations(path: str | os.PathLike, demos: Demonstrations) -> Path:
    """Validate ``demos`` and write them to ``path`` (``.npz``) atomically."""
    validate(demos)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    try:
        np.savez_compressed(
            tmp,
            schema_version=np.int64(SCHEMA_VERSION),
            env_spec=np.frombuffer(json.dumps(demos.env_spec, sort_keys=True).encode(), dtype=np.uint8),
            **{name: getattr(demos, name) for name in Demonstrations._fields if name != "env_spec"},
        )
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise write_failure(path, err, f"{path} was not changed", "run the command again") from None
    return path


def load_demonstrations(path: str | os.PathLike, env_spec: EnvSpec | dict | None = None) -> Demonstrations:
    """Read and validate a demonstration file; with ``env_spec``, also check it matches."""
    path = Path(path)
    if not path.exists():
        raise InvalidDemonstrationError(f"demonstrations: {path} does not exist")
    arrays = read_npz(path, f"demonstrations (schema version {SCHEMA_VERSION}, see trirl.continuous.demos)",
                      schema=SCHEMA, error=InvalidDemonstrationError)
    for name in ("schema_version", "env_spec", *Demonstrations._fields):
        if name not in arrays:
            raise InvalidDemonstrationError(f"demonstrations {path}: the field {name!r} is missing")
    version = int(arrays["schema_version"])
    if version != SCHEMA_VERSION:
        raise InvalidDemonstrationError(
            f"demonstrations {path}: schema_version is {version}, this trirl reads version {SCHEMA_VERSION}"
        )
    try:
        spec = json.loads(arrays["env_spec"].tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidDemonstrationError(f"demonstrations {path}: env_spec is not UTF-8 JSON") from None
    if not isinstance(spec, dict):
        raise InvalidDemonstrationError(f"demonstrations {path}: env_spec is a JSON {type(spec).__name__}, "
                                        "expected an object (EnvSpec.to_dict())")
    demos = Demonstrations(**{name: arrays[name] for name in Demonstrations._fields if name != "env_spec"}, env_spec=spec)
    validate(demos, where=str(path))
    if env_spec is not None:
        expected = env_spec.to_dict() if isinstance(env_spec, EnvSpec) else dict(env_spec)
        for key in ("name", "version", "observation_size", "action_size"):
            if spec.get(key) != expected.get(key):
                raise InvalidDemonstrationError(
                    f"demonstrations {path}: env_spec.{key} is {spec.get(key)!r} but the environment has {expected.get(key)!r}"
                )
    return demos


def _fail(where: str, message: str):
    raise InvalidDemonstrationError(f"demonstrations {where}: {message}")


def validate(demos: Demonstrations, where: str = "") -> None:
    """Check shapes, dtypes, finiteness and consistency of every field."""
    where = where or "(in memory)"
    spec = demos.env_spec
    for key in ("name", "version", "observation_size", "action_size"):
        if key not in spec:
            _fail(where, f"env_spec has no {key!r}")
    if demos.observations.ndim != 3:
        _fail(where, f"observations must be [N, T, O], got shape {demos.observations.shape}")
    n, t, o = demos.observations.shape
    a = spec["action_size"]
    if n == 0 or t == 0:
        _fail(where, f"observations hold no steps (shape {demos.observations.shape})")
    if o != spec["observation_size"]:
        _fail(where, f"observations have {o} features but env_spec.observation_size is {spec['observation_size']}")
    expected = {
        "observations": ((n, t, o), np.floating),
        "actions": ((n, t, a), np.floating),
        "next_observations": ((n, t, o), np.floating),
        "absorbing": ((n, t), np.bool_),
        "rewards": ((n, t), np.floating),
        "lengths": ((n,), np.integer),
        "returns": ((n,), np.floating),
    }
    for name, (shape, kind) in expected.items():
        value = getattr(demos, name)
        if not isinstance(value, np.ndarray) or value.shape != shape:
            _fail(where, f"{name} must have shape {shape}, got {getattr(value, 'shape', type(value).__name__)}")
        if not np.issubdtype(value.dtype, kind):
            _fail(where, f"{name} must have a {kind.__name__} dtype, got {value.dtype}")
        if kind is np.floating and not np.all(np.isfinite(value)):
            _fail(where, f"{name} contains NaN or infinite values")
    if np.any(demos.lengths < 1) or np.any(demos.lengths > t):
        _fail(where, f"lengths must lie in [1, {t}], got values in [{demos.lengths.min()}, {demos.lengths.max()}]")
    last = np.arange(t)[None, :] == (demos.lengths[:, None] - 1)
    if np.any(demos.absorbing & ~last):
        _fail(where, "absorbing is True on a step that is not the last of its episode")
    if np.any(np.abs(demos.actions) > 1.0 + 1e-6):
        _fail(where, "actions must lie in [-1, 1] (the executed, clipped actions)")
