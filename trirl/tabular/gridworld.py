"""Grid worlds as data: a text map plus a TOML file become a validated :class:`MDP`.

A world ``NAME`` lives in ``gridworlds/NAME.toml`` (settings and perturbed variants) next to
``gridworlds/NAME.txt`` (the map); ``gridworlds/README.md`` documents both formats. Legend:

====  =======  ====================================================================
char  type     meaning
====  =======  ====================================================================
``#`` wall     not a state; moving into it (or off the grid) keeps the agent in place
``.`` floor    ordinary cell
``S`` floor    a floor cell marked as start (support of ``mu0`` when ``start = "marked"``)
``G`` goal     absorbing by default, positive reward
``L`` lava     absorbing by default, negative reward
``~`` ice      floor with its own (usually high) slip probability
====  =======  ====================================================================

Actions (``A = 5``): ``up, down, left, right, stay`` with deltas ``(-1, 0), (1, 0), (0, -1),
(0, 1), (0, 0)`` in (row, col). Dynamics of a step from a non-absorbing state ``s``:

1. slip: the executed action is the chosen one with probability ``1 - p``, otherwise one of
   the other ``A - 1`` actions uniformly (``p / 4`` each, ``stay`` included); ``p`` is the
   slip probability of the cell type of ``s``;
2. the executed move is applied; walls and the grid's edge block it;
3. wind: if the cell reached is not absorbing, with probability ``w`` it is pushed one more
   cell in the wind direction (again blocked by walls and edges).

Absorbing states (paper Appendix C.4) loop to themselves under every action. The true reward
is state-only, broadcast to ``[S, A]``: ``r(s) = rewards[type(s)] + step_cost`` on
non-absorbing cells and ``rewards[type(s)]`` on absorbing ones, so a positive goal reward is
collected for every step spent in the goal and the expert wants to get there quickly.

States are the non-wall cells in row-major order; ``state_index[row, col]`` gives the state of
a cell (``-1`` for walls) and ``coords[s]`` its (row, col). A mirrored variant has the same
cells in mirrored places, so its state numbering differs from the base world's; move a table
between worlds with :func:`correspondence`, which undoes the mirror (cells and action names).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from trirl.errors import InvalidConfigError
from trirl.resources import data_dir
from trirl.tabular.mdp import MDP

#: the shipped worlds: ``gridworlds/`` of a checkout, or the copy an installed wheel carries
GRIDWORLDS_DIR = data_dir("gridworlds")
DEFAULT_WORLD = "icy_goal"
ACTION_NAMES = ("up", "down", "left", "right", "stay")
ACTION_DELTAS = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]])
LEGEND = MappingProxyType({"#": "wall", ".": "floor", "S": "floor", "G": "goal", "L": "lava", "~": "ice"})
CELL_TYPES = ("floor", "goal", "lava", "ice")
FEATURE_NAMES = (*(f"is_{t}" for t in CELL_TYPES), "row", "col")
MIRRORS = {"horizontal": {"left": "right", "right": "left"}, "vertical": {"up": "down", "down": "up"}}
STARTS = ("marked", "uniform")
SPEC_KEYS = ("discount", "step_cost", "rewards", "slip", "wind", "absorbing", "start", "mirror", "map")
TOP_KEYS = ("name", "description", "variants", *SPEC_KEYS)
VARIANT_KEYS = ("description", *SPEC_KEYS)


class _FieldError(InvalidConfigError):
    """A bad :class:`GridSpec` field; ``key`` lets the TOML loader find the line to blame."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _number(key: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(key, f"{name} is {value!r}, expected a number")
    return float(value)


def _probability(key: str, name: str, value) -> float:
    value = _number(key, name, value)
    if not 0.0 <= value <= 1.0:
        raise _FieldError(key, f"{name} is {value}, expected a probability in [0, 1]")
    return value


def _per_type(name: str, value) -> dict[str, float]:
    """A number (the same for every cell type) or a table keyed by cell type."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {t: float(value) for t in CELL_TYPES}
    if not isinstance(value, Mapping):
        raise _FieldError(name, f"{name} must be a number or a table keyed by cell type {list(CELL_TYPES)}")
    for t, v in value.items():
        if t not in CELL_TYPES:
            raise _FieldError(t, f"{name} has unknown cell type {t!r}; expected one of {list(CELL_TYPES)}")
    return {t: _number(t, f"{name}.{t}", v) for t, v in value.items()}


@dataclass(frozen=True)
class Wind:
    """After each move, with ``probability`` push the agent one cell towards ``direction``."""

    direction: str = "up"
    probability: float = 0.0

    def __post_init__(self):
        if self.direction not in ACTION_NAMES[:4]:
            directions = list(ACTION_NAMES[:4])
            raise _FieldError("direction", f"wind.direction is {self.direction!r}, expected one of {directions}")
        object.__setattr__(self, "probability", _probability("probability", "wind.probability", self.probability))


@dataclass(frozen=True)
class GridSpec:
    """The settings of one world after a variant's overrides, validated on construction.

    Attributes:
        discount: ``gamma`` in ``[0, 1)``.
        step_cost: added to the reward of every non-absorbing cell (usually ``<= 0``).
        rewards: reward per cell type (``floor, goal, lava, ice``); missing types get 0.
        slip: slip probability ``p`` per cell type; missing types get 0.
        wind: the wind (probability 0 means none).
        absorbing: cell types whose cells are absorbing.
        start: ``"marked"`` (uniform over ``S`` cells) or ``"uniform"`` (over non-absorbing cells).
        mirror: ``None``, ``"horizontal"`` (flip columns) or ``"vertical"`` (flip rows); mirrors
            the map and the wind direction.

    Raises:
        InvalidConfigError: naming the field.
    """

    discount: float = 0.95
    step_cost: float = 0.0
    rewards: Mapping[str, float] = field(default_factory=lambda: {"goal": 3.0, "lava": -3.0})
    slip: Mapping[str, float] = field(default_factory=dict)
    wind: Wind = Wind()
    absorbing: tuple[str, ...] = ("goal", "lava")
    start: str = "marked"
    mirror: str | None = None

    def __post_init__(self):
        discount = _number("discount", "discount", self.discount)
        if not 0.0 <= discount < 1.0:
            raise _FieldError("discount", f"discount is {discount}, expected a number in [0, 1)")
        rewards = _per_type("rewards", self.rewards)
        slip = {t: _probability(t, f"slip.{t}", p) for t, p in _per_type("slip", self.slip).items()}
        if not isinstance(self.wind, Wind):
            raise _FieldError("wind", f"wind is {self.wind!r}, expected a Wind(direction, probability)")
        absorbing = self.absorbing
        listed = isinstance(absorbing, Sequence) and not isinstance(absorbing, str)
        if not listed or any(t not in CELL_TYPES for t in absorbing):
            types = list(CELL_TYPES)
            raise _FieldError("absorbing", f"absorbing is {absorbing!r}, expected a list of cell types from {types}")
        if self.start not in STARTS:
            raise _FieldError("start", f"start is {self.start!r}, expected one of {list(STARTS)}")
        if self.mirror is not None and self.mirror not in MIRRORS:
            raise _FieldError("mirror", f"mirror is {self.mirror!r}, expected one of {list(MIRRORS)}")
        for name, value in [("discount", discount), ("step_cost", _number("step_cost", "step_cost", self.step_cost)),
                            ("rewards", MappingProxyType(rewards)), ("slip", MappingProxyType(slip)),
                            ("absorbing", tuple(absorbing))]:
            object.__setattr__(self, name, value)


@dataclass(frozen=True, eq=False)
class GridWorld:
    """A grid world: its MDP, true reward, features and what a plot needs to draw the map.

    Attributes:
        name, variant: where it came from (``variant`` is ``None`` for the base world).
        mdp: the validated MDP (sparse ``[S * A, S]`` transitions).
        reward: true reward ``[S, A]`` (state-only, broadcast over actions).
        features: ``[S, F]`` state features: one-hot cell type (``CELL_TYPES``) then row and
            column scaled to ``[0, 1]``; named by ``feature_names``.
        coords: ``[S, 2]`` (row, col) of each state.
        cells: the map, one string per row, after mirroring.
        state_index: ``[rows, cols]`` state of each cell, ``-1`` at walls.
        cell_type: ``[S]`` cell type name of each state.
        spec: the settings as they apply to ``cells``: a mirror is already applied (``mirror``
            is ``None``, the wind mirrored), so ``from_cells(world.cells, world.spec)`` rebuilds
            the same world.
        mirror: the mirror applied to the map file's cells (``None``, ``"horizontal"`` or
            ``"vertical"``); :func:`correspondence` undoes it.
    """

    name: str
    variant: str | None
    mdp: MDP
    reward: np.ndarray
    features: np.ndarray
    coords: np.ndarray
    cells: tuple[str, ...]
    state_index: np.ndarray
    cell_type: np.ndarray
    spec: GridSpec
    mirror: str | None = None
    feature_names: tuple[str, ...] = FEATURE_NAMES
    action_names: tuple[str, ...] = ACTION_NAMES
    action_deltas: np.ndarray = field(default_factory=lambda: ACTION_DELTAS.copy())

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the map, walls included."""
        return self.state_index.shape

    def to_grid(self, values) -> np.ndarray:
        """Lay a per-state array ``[S, ...]`` out as an image ``[rows, cols, ...]``, NaN at walls."""
        values = np.asarray(values, dtype=float)
        if values.ndim == 0 or values.shape[0] != self.mdp.n_states:
            raise InvalidConfigError(f"values has shape {values.shape}, expected [S, ...] = [{self.mdp.n_states}, ...]")
        image = np.full(self.shape + values.shape[1:], np.nan)
        walls = self.state_index < 0
        image[~walls] = values[self.state_index[~walls]]
        return image

    def settings(self) -> dict:
        """Every setting the world was built with, defaults included, as plain JSON data: what a
        run records in its ``config.json`` (a key left out of the TOML file shows its default).
        ``cells`` (the map) and ``wind.direction`` are as applied, i.e. after ``mirror``."""
        spec = self.spec
        return {"name": self.name, "variant": self.variant, "discount": float(spec.discount),
                "step_cost": float(spec.step_cost), "rewards": {t: float(spec.rewards.get(t, 0.0)) for t in CELL_TYPES},
                "slip": {t: float(spec.slip.get(t, 0.0)) for t in CELL_TYPES},
                "wind": {"direction": spec.wind.direction, "probability": float(spec.wind.probability)},
                "absorbing": list(spec.absorbing), "start": spec.start, "mirror": self.mirror,
                "cells": list(self.cells)}

    def __repr__(self) -> str:
        variant = f", variant={self.variant!r}" if self.variant else ""
        return f"GridWorld({self.name!r}{variant}, shape={self.shape}, {self.mdp!r})"


# ---------------------------------------------------------------------------------------------
# building a world from a map


def from_cells(cells: Sequence[str], spec: GridSpec = GridSpec(), name: str = "custom", variant=None) -> GridWorld:
    """Build a world from map rows (legend above) and settings; the map is checked first.

    Raises:
        InvalidConfigError: an unknown character, ragged rows or no start cell.
    """
    cells = _check_map(list(cells), "map")
    mirror = spec.mirror
    if spec.mirror is not None:
        cells = [row[::-1] for row in cells] if spec.mirror == "horizontal" else cells[::-1]
        swap = MIRRORS[spec.mirror]
        wind = replace(spec.wind, direction=swap.get(spec.wind.direction, spec.wind.direction))
        spec = replace(spec, mirror=None, wind=wind)  # the settings as they apply to the mirrored cells
    chars = np.array([list(row) for row in cells])
    walls = chars == "#"
    state_index = np.full(chars.shape, -1)
    state_index[~walls] = np.arange(int((~walls).sum()))
    coords = np.argwhere(~walls)
    cell_type = np.array([LEGEND[c] for c in chars[~walls]], dtype=object)
    absorbing = np.isin(cell_type, spec.absorbing)

    if spec.start == "marked":
        start = chars[~walls] == "S"
        if not start.any():
            raise InvalidConfigError(f"{name}: the map has no start cell 'S' (or set start = \"uniform\")")
    else:
        start = ~absorbing
        if not start.any():
            raise InvalidConfigError(f"{name}: start = \"uniform\" but every cell is absorbing")
    initial = start / start.sum()

    transitions = _transitions(coords, state_index, cell_type, absorbing, spec)
    mdp = MDP(transitions, initial, spec.discount, absorbing=absorbing, n_actions=len(ACTION_NAMES))
    state_reward = np.array([spec.rewards.get(t, 0.0) for t in cell_type]) + np.where(absorbing, 0.0, spec.step_cost)
    reward = np.repeat(state_reward[:, None], len(ACTION_NAMES), axis=1)
    scale = np.maximum(np.array(chars.shape) - 1, 1)
    onehot = (cell_type[:, None] == np.array(CELL_TYPES, dtype=object)[None, :]).astype(float)
    features = np.hstack([onehot, coords / scale])
    arrays = [reward, features, coords, state_index, cell_type]
    for array in arrays:
        array.flags.writeable = False
    return GridWorld(name, variant, mdp, reward, features, coords, tuple(cells), state_index, cell_type, spec, mirror)


def correspondence(source: GridWorld, target: GridWorld) -> tuple[np.ndarray, np.ndarray]:
    """Where each state and action of ``target`` lies in ``source``, mirrors undone.

    Both worlds are taken back to their map file's orientation (a mirrored variant's cell
    ``(row, cols - 1 - col)`` and its ``left`` are the base world's ``(row, col)`` and
    ``right``), so a reward moved this way means the same thing in both worlds: under a mirror
    the goal's reward goes where the goal went. Variants that change only dynamics (wind,
    slip) keep every cell and action in place.

    Returns:
        ``(states, actions)``: ``states[s]`` is the source state of target state ``s`` (``-1``
        where that cell is a wall or off the source's map), ``actions[a]`` the source action of
        target action ``a``. A ``[S, A]`` table moves as ``table[states[known]][:, actions]``
        on the target rows ``known = states >= 0``.

    Raises:
        InvalidConfigError: the two worlds have different action sets.
    """
    if tuple(source.action_names) != tuple(target.action_names):
        raise InvalidConfigError(
            f"target.action_names {target.action_names} differ from source.action_names {source.action_names}"
        )

    def unmirror(world: GridWorld, coords: np.ndarray) -> np.ndarray:
        rows, cols = world.shape
        coords = np.array(coords)
        if world.mirror == "horizontal":
            coords[:, 1] = cols - 1 - coords[:, 1]
        elif world.mirror == "vertical":
            coords[:, 0] = rows - 1 - coords[:, 0]
        return coords

    # target cell -> the map file's cell -> the source's cell (each mirror is its own inverse)
    cells = unmirror(source, unmirror(target, target.coords))
    inside = np.all((cells >= 0) & (cells < np.array(source.shape)), axis=1)
    states = np.full(target.mdp.n_states, -1)
    states[inside] = source.state_index[cells[inside, 0], cells[inside, 1]]

    def base_name(world: GridWorld, name: str) -> str:
        return MIRRORS[world.mirror].get(name, name) if world.mirror else name

    names = list(source.action_names)
    actions = np.array([names.index(base_name(source, base_name(target, a))) for a in target.action_names])
    return states, actions


def open_grid(
    rows: int, cols: int, *, slip: float = 0.0, discount: float = 0.95, step_cost: float = 0.0, goal: bool = True
) -> GridWorld:
    """A wall-less ``rows x cols`` floor, start in the top-left corner, absorbing goal
    (reward 3, as in the shipped worlds) in the bottom-right one if ``goal``; for benchmarks
    (32x32, 128x128, ...)."""
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise InvalidConfigError(f"open_grid needs at least 2 cells, got rows={rows}, cols={cols}")
    cells = [["."] * cols for _ in range(rows)]
    cells[0][0] = "S"
    if goal:
        cells[-1][-1] = "G"
    spec = GridSpec(discount=discount, step_cost=step_cost, slip=slip)
    return from_cells(["".join(row) for row in cells], spec, name=f"open_grid_{rows}x{cols}")


def _transitions(coords, state_index, cell_type, absorbing, spec) -> sp.csr_matrix:
    """``P`` as a sparse ``[S * A, S]`` matrix, built with array operations (no loop over states)."""
    n_states, n_actions = len(coords), len(ACTION_NAMES)
    rows, cols = state_index.shape
    # dest[b, s]: the state reached from s by executing action b (blocked moves stay put)
    r = coords[None, :, 0] + ACTION_DELTAS[:, None, 0]
    c = coords[None, :, 1] + ACTION_DELTAS[:, None, 1]
    inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
    target = np.full(inside.shape, -1)
    target[inside] = state_index[r[inside], c[inside]]
    here = np.arange(n_states)
    dest = np.where(target >= 0, target, here[None, :])
    # executed[s, a, b] = 1 - p_s if b == a else p_s / (A - 1)
    p = np.array([spec.slip.get(t, 0.0) for t in cell_type])
    eye = np.eye(n_actions)
    executed = (1 - p)[:, None, None] * eye + (p / (n_actions - 1))[:, None, None] * (1 - eye)
    row = np.broadcast_to((here[:, None] * n_actions + np.arange(n_actions))[:, :, None], executed.shape)
    moved = np.broadcast_to(dest.T[:, None, :], executed.shape)
    # wind pushes from the cell reached, unless that cell is absorbing
    w = np.where(absorbing, 0.0, spec.wind.probability)
    windward = dest[ACTION_NAMES.index(spec.wind.direction)]
    keep = ~absorbing[row // n_actions]
    rows_all = np.concatenate([row[keep], row[keep], here[absorbing].repeat(n_actions) * n_actions
                               + np.tile(np.arange(n_actions), int(absorbing.sum()))])
    cols_all = np.concatenate([moved[keep], windward[moved[keep]], here[absorbing].repeat(n_actions)])
    vals_all = np.concatenate([executed[keep] * (1 - w[moved[keep]]), executed[keep] * w[moved[keep]],
                               np.ones(int(absorbing.sum()) * n_actions)])
    matrix = sp.coo_matrix((vals_all, (rows_all, cols_all)), shape=(n_states * n_actions, n_states)).tocsr()
    matrix.eliminate_zeros()
    return matrix


def _check_map(lines: list[str], source: str) -> list[str]:
    """Strip trailing whitespace and blank trailing lines; check characters and raggedness."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise InvalidConfigError(f"{source}: the map is empty")
    for i, line in enumerate(lines, start=1):
        for j, char in enumerate(line, start=1):
            if char not in LEGEND:
                raise InvalidConfigError(
                    f"{source}, line {i}, column {j}: unknown map character {char!r}; "
                    f"expected one of {' '.join(LEGEND)}"
                )
        if len(line) != len(lines[0]):
            raise InvalidConfigError(
                f"{source}, line {i}: ragged map, the row has {len(line)} columns but line 1 has {len(lines[0])}"
            )
    return lines


# ---------------------------------------------------------------------------------------------
# loading worlds from gridworlds/


def names() -> list[str]:
    """The shipped worlds (stems of ``gridworlds/*.toml``)."""
    return sorted(path.stem for path in GRIDWORLDS_DIR.glob("*.toml"))


def variants(name_or_path) -> list[str]:
    """The variants a world defines (``[variants.NAME]`` tables), in file order."""
    path = _resolve(name_or_path)
    return list(_read_toml(path)[0].get("variants", {}))


def load(name_or_path: str | Path = DEFAULT_WORLD, variant: str | None = None) -> GridWorld:
    """Load a shipped world by name (default ``"icy_goal"``) or a ``.toml`` file by path.

    Args:
        name_or_path: a name from :func:`names` or a path to a world's TOML file.
        variant: ``None`` for the base world, or a name from :func:`variants`.

    Raises:
        InvalidConfigError: naming the file, and the line and column where they are known.
    """
    path = _resolve(name_or_path)
    data, text = _read_toml(path)
    _check_keys(data, TOP_KEYS, path, text, None)
    table = {k: v for k, v in data.items() if k in SPEC_KEYS}
    if variant is not None:
        known = data.get("variants", {})
        if not isinstance(known, dict) or variant not in known:
            raise InvalidConfigError(
                f"{path}: unknown variant {variant!r}; expected one of {list(known) if isinstance(known, dict) else []}"
            )
        overrides = known[variant]
        if not isinstance(overrides, dict):
            raise InvalidConfigError(f"{_where(path, text, variant, 'variants')}: variants.{variant} must be a table")
        _check_keys(overrides, VARIANT_KEYS, path, text, f"variants.{variant}")
        table = _merge(table, overrides)
    section = f"variants.{variant}" if variant is not None else None
    spec = _spec(table, path, text, section)
    map_path = path.parent / table.get("map", path.stem + ".txt")
    try:
        map_text = map_path.read_text()
    except OSError as error:
        raise InvalidConfigError(f"{_where(path, text, 'map', section)}: cannot read map {map_path}: {error}") from None
    cells = _check_map(map_text.splitlines(), str(map_path))
    try:
        return from_cells(cells, spec, name=str(data.get("name", path.stem)), variant=variant)
    except InvalidConfigError as error:
        raise InvalidConfigError(f"{map_path}: {error}") from None


def _resolve(name_or_path) -> Path:
    given = Path(name_or_path)
    if given.suffix == ".toml" or given.parent != Path("."):
        if not given.is_file():
            raise InvalidConfigError(f"grid world file {given} does not exist")
        return given
    path = GRIDWORLDS_DIR / f"{given}.toml"
    if not path.is_file():
        raise InvalidConfigError(f"unknown grid world {str(name_or_path)!r}; shipped worlds: {names()}")
    return path


def _read_toml(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        message = str(error).split(" (at line")[0]
        where = f", line {match[1]}, column {match[2]}" if match else ""
        raise InvalidConfigError(f"{path}{where}: TOML syntax error: {message}") from None


def _merge(base: dict, overrides: dict) -> dict:
    """Override ``base`` by ``overrides``, merging nested tables key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merge(merged[key], value)
        merged[key] = value
    return merged


def _line_of(text: str, key: str, section: str | None) -> int | None:
    """Best-effort line of ``key`` (tomllib keeps no positions): first match after ``[section]``."""
    lines = text.splitlines()
    start = 0
    if section is not None:
        header = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]")
        start = next((i for i, line in enumerate(lines) if header.match(line)), 0)
    pattern = re.compile(r"(^|[\s{,.\[\"'])" + re.escape(key) + r"[\"']?\s*[=.\]]")
    for i in [*range(start, len(lines)), *range(start)]:
        if pattern.search(lines[i].split("#")[0]):
            return i + 1
    return None


def _where(path, text, key, section) -> str:
    line = _line_of(text, key, section)
    return f"{path}, line {line}" if line else str(path)


def _check_keys(table: dict, allowed, path, text, section) -> None:
    for key in table:
        if key not in allowed:
            where = f"[{section}]" if section else "the top level"
            raise InvalidConfigError(
                f"{_where(path, text, key, section)}: unknown key {key!r} in {where}; expected one of {list(allowed)}"
            )


def _spec(table: dict, path: Path, text: str, section: str | None) -> GridSpec:
    """Turn one (merged) settings table into a :class:`GridSpec`, blaming the line of a bad key."""
    try:
        wind = table.get("wind", {})
        if not isinstance(wind, dict) or set(wind) - {"direction", "probability"}:
            raise _FieldError("wind", "wind must be a table with keys direction and probability")
        settings = {k: v for k, v in table.items() if k not in ("wind", "map", "description")}
        return GridSpec(**settings, wind=Wind(**wind))
    except _FieldError as error:
        raise InvalidConfigError(f"{_where(path, text, error.key, section)}: {error}") from None
