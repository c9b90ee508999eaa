"""Demonstrations in the formats users have, imported into trirl's schema (``trirl.continuous.demos``).

Three formats (``trirl demos import FILE --env NAME [--format F] --out OUT.npz``):

- ``minari``: a Minari dataset (HDF5; ``pip install 'trirl[minari]'``), given as its dataset id in
  the local Minari root (``MINARI_DATASETS_PATH``) or as the path of its folder (the one holding
  ``data/``). Its recorded Gymnasium environment spec is checked: the id must be the task's
  Gymnasium id (``Ant-v5`` for trirl's ``ant`` version 2), dt must agree, and its
  ``observation_structure`` (v5's named blocks ``qpos``, ``qvel``, ``cfrc_ext``, ...) is mapped onto
  trirl's by name, so contact forces (``cfrc_ext``) and the x, y positions a dataset observes are
  sliced off.
- ``trirl-authors``: the TRIRL authors' ``.npz``: flat arrays ``states [M, O]``, ``actions
  [M, A]``, ``next_states [M, O]``, ``absorbing [M]`` (bool), optionally ``rewards [M]``,
  ``dones [M]`` (episode ends, absorbing or not) and ``dt``. Without ``dones``, an episode ends
  where it is absorbing or where ``next_states[t] != states[t + 1]``.
- ``imitation``: imitation's trajectories ``.npz``: ``obs`` (every trajectory's ``T + 1``
  observations, concatenated), ``acts`` (``T`` actions each), ``indices`` (where each trajectory
  starts in ``acts``, the first left out), ``terminal [n]`` (the last transition ends in a terminal,
  i.e. absorbing, state) and optionally ``rews``; ``infos`` is not read (it is pickled).

Every importer checks the observation layout (an ``O``-vector of the task, or one with the
contact forces ``cfrc_ext`` appended, or the x(, y) positions prepended, sliced off by name), the
action bounds (``|a| <= action_scale``; actions are stored divided by it, in ``[-1, 1]``), finite
values and absorbing ends (only an episode's last step); errors name the field and the file.
Rewards absent from a file are stored as 0 with a :class:`~trirl.errors.DemonstrationWarning`
(IRL never reads them; ``inspect`` then shows returns of 0).

``trirl demos inspect FILE`` (:func:`describe`) prints the episodes, their lengths and returns,
the absorbing ends (falls) and the observation ranges of any of these files or of trirl's own.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from trirl.continuous.demos import Demonstrations, load_demonstrations, save_demonstrations, validate
from trirl.errors import DemonstrationWarning, InvalidConfigError, InvalidDemonstrationError
from trirl.text import plain

FORMATS = ("minari", "trirl-authors", "imitation", "trirl")
ACTION_TOLERANCE = 1e-6  #: relative slack on the action bounds (float32 rounding)


class Episode:
    """One episode as a format reader finds it (observations ``[T, O_file]`` of the file's layout)."""

    def __init__(self, observations, actions, next_observations, absorbing: bool, rewards=None):
        self.observations = np.asarray(observations, np.float64)
        self.actions = np.asarray(actions, np.float64)
        self.next_observations = np.asarray(next_observations, np.float64)
        self.absorbing = bool(absorbing)
        self.rewards = None if rewards is None else np.asarray(rewards, np.float64)


def _fail(where: str, message: str):
    raise InvalidDemonstrationError(f"{where}: {message}")


def _task(env: str, options: dict | None):
    """The trirl locomotion config and MuJoCo model of ``env`` (the importer's target)."""
    from trirl.continuous import envs
    from trirl.continuous.envs.locomotion import LocomotionConfig, load_model

    config = envs.make_config(env, options)
    if not isinstance(config, LocomotionConfig):
        raise InvalidConfigError(f"--env: demonstrations can be imported for the MuJoCo tasks, not {env!r}")
    return config, load_model(config)


def layout_slices(config, model, sizes: dict[str, int], where: str) -> np.ndarray:
    """Indices into a file's observation (named blocks ``sizes``, Gymnasium's order) giving trirl's.

    ``sizes`` is Gymnasium v5's ``observation_structure`` of the recording environment: ``qpos``
    may hold leading positions trirl skips (then ``skipped_qpos`` is smaller than trirl's), and
    blocks trirl does not observe (``cfrc_ext``, ``ten_length``, ...) are dropped by name.
    """
    from trirl.continuous.envs.locomotion import observation_structure

    wanted = observation_structure(config, model)
    offsets, start = {}, 0
    for name, size in sizes.items():
        if name == "skipped_qpos":
            continue
        offsets[name] = (start, int(size))
        start += int(size)
    index = []
    for name, size in wanted.items():
        if name not in offsets:
            _fail(where, f"observations have no {name!r} block (the file's blocks: {dict(sizes)}); "
                         f"{config.robot} observes {dict(wanted)}")
        first, have = offsets[name]
        if name == "qpos" and have > size:  # the file observes positions trirl skips: drop the leading ones
            first += have - size
        elif have != size:
            _fail(where, f"observation block {name!r} has {have} entries, {config.robot} has {size}")
        index.extend(range(first, first + size))
    return np.asarray(index)


def _layout_by_size(config, model, size: int, field: str, where: str) -> np.ndarray:
    """The layout of a file that records none: trirl's, with cfrc_ext appended or positions prepended."""
    from trirl.continuous.envs.locomotion import observation_structure

    wanted = observation_structure(config, model)
    ours = sum(wanted.values())
    contact = (model.nbody - 1) * 6
    skipped = config.task.skipped_qpos
    candidates = {ours: {**wanted}, ours + skipped: {"qpos": wanted["qpos"] + skipped,
                                                     **{k: v for k, v in wanted.items() if k != "qpos"}}}
    if "cfrc_ext" not in wanted:
        candidates[ours + contact] = {**wanted, "cfrc_ext": contact}
    if size not in candidates:
        _fail(where, f"{field} have {size} entries per step; {config.robot} observes {ours} ({dict(wanted)}), "
                     f"or {ours + contact} with the contact forces cfrc_ext, or {ours + skipped} with the positions")
    return layout_slices(config, model, candidates[size], where)


def _check_dt(config, model, dt: float | None, where: str):
    if dt is None:
        return
    ours = model.opt.timestep * config.frame_skip
    if not np.isclose(float(dt), ours, rtol=1e-6):
        _fail(where, f"dt is {float(dt):g} s but {config.robot} steps {ours:g} s (timestep x frame_skip)")


def to_demonstrations(episodes: list[Episode], config, model, index: np.ndarray, where: str,
                      spec: dict) -> Demonstrations:
    """Pad ``episodes`` (sliced to trirl's layout by ``index``) into the schema, checking every field."""
    if not episodes:
        _fail(where, "holds no episodes")
    scale = config.action_scale
    n, horizon = len(episodes), max(len(e.actions) for e in episodes)
    if horizon > config.episode_length:
        _fail(where, f"an episode has {horizon} steps, more than the environment's episode_length "
                     f"{config.episode_length} (pass it with --env-option episode_length=N)")
    o, a = len(index), spec["action_size"]
    arrays = {"observations": np.zeros((n, horizon, o), np.float32), "actions": np.zeros((n, horizon, a), np.float32),
              "next_observations": np.zeros((n, horizon, o), np.float32), "absorbing": np.zeros((n, horizon), bool),
              "rewards": np.zeros((n, horizon), np.float32)}
    lengths = np.zeros(n, np.int32)
    missing_rewards = False
    for i, episode in enumerate(episodes):
        t = len(episode.actions)
        if t == 0:
            _fail(where, f"episode {i} has no steps")
        if episode.actions.ndim != 2 or episode.actions.shape[1] != a:
            _fail(where, f"actions of episode {i} have shape {episode.actions.shape}, expected [T, {a}]")
        for field in ("observations", "actions", "next_observations"):
            if not np.all(np.isfinite(getattr(episode, field))):
                _fail(where, f"{field} of episode {i} contain NaN or infinite values")
        if np.any(np.abs(episode.actions) > scale * (1 + ACTION_TOLERANCE)):
            _fail(where, f"actions of episode {i} reach {np.abs(episode.actions).max():.4g}, outside the action "
                         f"bounds [-{scale:g}, {scale:g}] of {config.robot}")
        arrays["observations"][i, :t] = episode.observations[:, index]
        arrays["next_observations"][i, :t] = episode.next_observations[:, index]
        arrays["actions"][i, :t] = np.clip(episode.actions / scale, -1.0, 1.0)
        arrays["absorbing"][i, t - 1] = episode.absorbing
        if episode.rewards is None:
            missing_rewards = True
        else:
            if not np.all(np.isfinite(episode.rewards)):
                _fail(where, f"rewards of episode {i} contain NaN or infinite values")
            arrays["rewards"][i, :t] = episode.rewards
        lengths[i] = t
    if missing_rewards:
        warnings.warn(f"{where}: the file records no rewards; they are stored as 0 (IRL never reads them)",
                      DemonstrationWarning, stacklevel=3)
    demos = Demonstrations(**arrays, lengths=lengths, returns=arrays["rewards"].sum(1), env_spec=spec)
    validate(demos, where=where)
    return demos


def read_minari(source: str, config, model, where: str | None = None) -> Demonstrations:
    """A Minari dataset (id in the local root, or its folder) as trirl demonstrations (module docstring)."""
    try:
        import minari
    except ImportError:
        raise InvalidConfigError("--format minari needs minari: pip install 'trirl[minari]'") from None
    import gymnasium

    where = where or f"Minari dataset {source}"
    path = Path(source)
    try:
        if path.exists():
            dataset = minari.MinariDataset(path / "data" if (path / "data").is_dir() else path)
        else:
            dataset = minari.load_dataset(source)
    except (FileNotFoundError, ValueError, OSError, KeyError) as err:
        _fail(where, f"cannot be read as a Minari dataset ({err})")
    gym_spec = dataset.env_spec
    expected_id = config.task.gym_id if config.version == 2 and config.robot == config.base else None
    if gym_spec is None:
        _fail(where, "records no environment spec (env_spec); trirl needs it to check the environment")
    if gym_spec.id != expected_id:
        if expected_id:
            target = f"{config.robot} (version {config.version}) is {expected_id}"
        elif config.version == 1:
            target = (f"{config.robot} version 1 is trirl's old physics, not {config.task.gym_id}: "
                      f"pass --env-option version=2")
        else:
            target = f"{config.robot} has no Gymnasium equivalent to record it in"
        _fail(where, f"env_spec.id is {gym_spec.id!r}, but {target}")
    recorder = gymnasium.make(gym_spec).unwrapped
    _check_dt(config, model, recorder.dt, where + " (env_spec)")
    index = layout_slices(config, model, recorder.observation_structure, where)
    recorder.close()
    episodes = []
    for episode in dataset.iterate_episodes():
        obs = np.asarray(episode.observations)
        if obs.ndim != 2:
            _fail(where, f"observations of episode {episode.id} are not flat vectors (shape {obs.shape})")
        episodes.append(Episode(obs[:-1], episode.actions, obs[1:], bool(np.asarray(episode.terminations)[-1]),
                                episode.rewards))
        if np.any(np.asarray(episode.terminations)[:-1]):
            _fail(where, f"terminations of episode {episode.id} is True before its last step")
    return to_demonstrations(episodes, config, model, index, where, _spec(config, model))


def _spec(config, model) -> dict:
    from trirl.continuous.envs.base import EnvSpec
    from trirl.continuous.envs.locomotion import observation_size

    return EnvSpec(config.robot, config.version, observation_size(config, model), model.nu,
                   config.episode_length).to_dict()


def _npz(path: Path, where: str) -> dict:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        _fail(where, f"is not a readable .npz file ({err})")
    return data


def _field(data, name: str, where: str, required=True):
    if name not in data.files:
        if required:
            _fail(where, f"the field {name!r} is missing (the file has {sorted(data.files)})")
        return None
    try:
        return data[name]
    except ValueError:
        _fail(where, f"the field {name!r} holds Python objects (pickled); trirl reads numeric arrays only")


def read_authors_npz(path: str | os.PathLike, config, model) -> Demonstrations:
    """The TRIRL authors' flat ``.npz`` layout (module docstring)."""
    path = Path(path)
    where = f"demonstrations {path}"
    data = _npz(path, where)
    states, actions = _field(data, "states", where), _field(data, "actions", where)
    next_states, absorbing = _field(data, "next_states", where), _field(data, "absorbing", where)
    rewards, dones, dt = _field(data, "rewards", where, False), _field(data, "dones", where, False), _field(data, "dt", where, False)
    if states.ndim != 2 or next_states.shape != states.shape:
        _fail(where, f"states and next_states must both be [M, O], got {states.shape} and {next_states.shape}")
    m = len(states)
    for name, value in (("actions", actions), ("absorbing", absorbing), ("rewards", rewards), ("dones", dones)):
        if value is not None and len(value) != m:
            _fail(where, f"{name} has {len(value)} steps but states has {m}")
    _check_dt(config, model, None if dt is None else float(dt), where)
    index = _layout_by_size(config, model, states.shape[1], "states", where)
    absorbing = np.asarray(absorbing).astype(bool).reshape(m)
    if dones is None:
        breaks = np.ones(m, bool)
        breaks[:-1] = np.any(next_states[:-1] != states[1:], axis=1)
        ends = breaks | absorbing
    else:
        ends = np.asarray(dones).astype(bool).reshape(m) | absorbing
        if np.any(absorbing & ~ends):
            _fail(where, "absorbing is True on a step that does not end its episode")
    ends[-1] = True
    bounds = np.flatnonzero(ends) + 1
    episodes, start = [], 0
    for stop in bounds:
        episodes.append(Episode(states[start:stop], actions[start:stop], next_states[start:stop], absorbing[stop - 1],
                                None if rewards is None else rewards[start:stop]))
        start = stop
    return to_demonstrations(episodes, config, model, index, where, _spec(config, model))


def read_imitation(path: str | os.PathLike, config, model) -> Demonstrations:
    """imitation's trajectories ``.npz`` (module docstring)."""
    path = Path(path)
    where = f"demonstrations {path}"
    data = _npz(path, where)
    obs, acts, indices = _field(data, "obs", where), _field(data, "acts", where), _field(data, "indices", where)
    terminal, rews = _field(data, "terminal", where), _field(data, "rews", where, False)
    n = len(indices) + 1
    if len(terminal) != n:
        _fail(where, f"terminal has {len(terminal)} entries but indices describe {n} trajectories")
    if len(obs) != len(acts) + n:
        _fail(where, f"obs has {len(obs)} rows; with {len(acts)} acts in {n} trajectories it needs {len(acts) + n} "
                     "(each trajectory has one observation more than actions)")
    if obs.ndim != 2:
        _fail(where, f"obs must be [M, O] vectors, got shape {obs.shape}")
    index = _layout_by_size(config, model, obs.shape[1], "obs", where)
    act_splits = np.split(np.arange(len(acts)), np.asarray(indices, int))
    episodes = []
    for i, steps in enumerate(act_splits):
        first_obs = (steps[0] if len(steps) else 0) + i
        o = obs[first_obs:first_obs + len(steps) + 1]
        episodes.append(Episode(o[:-1], acts[steps], o[1:], bool(terminal[i]), None if rews is None else rews[steps]))
    return to_demonstrations(episodes, config, model, index, where, _spec(config, model))


def detect_format(source: str) -> str:
    """The format of ``source`` from its fields (a folder or an unknown path: a Minari dataset)."""
    path = Path(source)
    if path.is_dir() or not path.exists():
        return "minari"
    with _npz(path, f"demonstrations {path}") as data:
        fields = set(data.files)
    if "schema_version" in fields:
        return "trirl"
    if {"states", "next_states", "absorbing"} <= fields:
        return "trirl-authors"
    if {"obs", "acts", "indices", "terminal"} <= fields:
        return "imitation"
    _fail(f"demonstrations {path}", f"the format is not recognised from its fields {sorted(fields)}; "
          f"pass --format (one of {', '.join(FORMATS)})")


def import_demonstrations(source: str, env: str, env_options: dict | None = None, fmt: str = "auto") -> Demonstrations:
    """Read ``source`` in format ``fmt`` ("auto" detects it) into trirl's schema for task ``env``."""
    if fmt != "auto" and fmt not in FORMATS:
        raise InvalidConfigError(f"--format must be 'auto' or one of {', '.join(FORMATS)}, got {fmt!r}")
    fmt = detect_format(source) if fmt == "auto" else fmt
    config, model = _task(env, env_options)
    if fmt == "minari":
        return read_minari(source, config, model)
    if fmt == "trirl-authors":
        return read_authors_npz(source, config, model)
    if fmt == "imitation":
        return read_imitation(source, config, model)
    demos = load_demonstrations(source)
    spec = _spec(config, model)
    if (demos.env_spec.get("name"), demos.env_spec.get("version")) != (spec["name"], spec["version"]):
        _fail(f"demonstrations {source}", f"env_spec is {demos.env_spec.get('name')!r} version "
              f"{demos.env_spec.get('version')}, not {spec['name']!r} version {spec['version']}")
    return demos


def describe(demos: Demonstrations, where: str = "") -> str:
    """What ``trirl demos inspect`` prints: episodes, lengths, returns, absorbing ends, observation ranges."""
    spec = demos.env_spec
    lengths, returns = demos.lengths, demos.returns
    falls = np.flatnonzero(demos.absorbing.any(axis=1))
    obs = demos.observations[demos.mask]
    lines = [
        f"{where or 'demonstrations'}: env {spec.get('name')} version {spec.get('version')}, "
        f"observation {spec.get('observation_size')}, action {spec.get('action_size')}",
        f"  episodes {len(lengths)}, steps {int(lengths.sum())}; length min {lengths.min()} / mean "
        f"{lengths.mean():.1f} / max {lengths.max()}",
        f"  return mean {returns.mean():.2f} +- {returns.std():.2f} (min {returns.min():.2f}, max {returns.max():.2f})",
        f"  absorbing ends (falls): {len(falls)} of {len(lengths)}"
        + (f", episodes {', '.join(str(i) for i in falls[:20])}{' ...' if len(falls) > 20 else ''}" if len(falls) else ""),
        "  observation ranges (index: min .. max):",
    ]
    low, high = obs.min(axis=0), obs.max(axis=0)
    for start in range(0, len(low), 4):
        lines.append("    " + "   ".join(f"{i:3d}: {low[i]:9.3g} .. {high[i]:9.3g}"
                                          for i in range(start, min(start + 4, len(low)))))
    return "\n".join(lines)


def _env_option(text: str) -> tuple[str, object]:
    import tomllib

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (a TOML value), got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key.strip(), tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        raise argparse.ArgumentTypeError(f"{key}: {value!r} is not a TOML value") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trirl demos", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("import", help="read Minari, the TRIRL authors' npz or imitation's npz into trirl's schema")
    p.add_argument("source", help="a Minari dataset id or folder, or an .npz file")
    p.add_argument("--env", required=True, help="the trirl task the demonstrations are for (e.g. ant, hopper)")
    p.add_argument("--env-option", type=_env_option, action="append", default=[], metavar="KEY=VALUE",
                   help="an environment option (e.g. version=2, include_cfrc_ext_in_observation=true)")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    p.add_argument("--out", type=Path, required=True, help="the trirl demonstrations file to write (.npz)")
    q = sub.add_parser("inspect", help="print episodes, lengths, returns, falls and observation ranges")
    q.add_argument("file", help="a trirl demonstrations file (or, with --env, any importable source)")
    q.add_argument("--env", default=None, help="read FILE through the importer for this task")
    q.add_argument("--env-option", type=_env_option, action="append", default=[], metavar="KEY=VALUE")
    q.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    args = parser.parse_args(argv)
    options = dict(args.env_option)
    if args.action == "import":
        demos = import_demonstrations(args.source, args.env, options, args.format)
        save_demonstrations(args.out, demos)
        print(describe(demos, str(args.out)))
        return 0
    if args.env is None:
        demos = load_demonstrations(args.file)
    else:
        demos = import_demonstrations(args.file, args.env, options, args.format)
    print(describe(demos, args.file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
