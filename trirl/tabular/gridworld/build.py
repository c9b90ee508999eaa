"""A map and its settings into a :class:`~trirl.tabular.gridworld.GridWorld`: states, the sparse
transition matrix, the true reward and the features.

The dynamics (slip, then the move, then the wind; absorbing cells loop) are those of the package
docstring (:mod:`trirl.tabular.gridworld`); :func:`transitions` builds them with array
operations, with no loop over states, so a 128x128 world takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from trirl.errors import InvalidConfigError
from trirl.tabular.gridworld.spec import ACTION_DELTAS, ACTION_NAMES, CELL_TYPES, LEGEND, MIRRORS, GridSpec
from trirl.tabular.gridworld.world import GridWorld
from trirl.tabular.mdp import MDP


def from_cells(cells: Sequence[str], spec: GridSpec = GridSpec(), name: str = "custom", variant=None) -> GridWorld:
    """Build a world from map rows and settings; the map is checked first.

    Args:
        cells: the map, one string per row, in the legend of :mod:`trirl.tabular.gridworld`;
            trailing whitespace and blank trailing rows are ignored.
        spec: the settings; a ``mirror`` is applied to ``cells`` here.
        name, variant: recorded in the world (and its run's ``config.json``).

    Returns:
        The :class:`GridWorld`: ``S`` = the non-wall cells, ``A = 5``, ``P`` sparse ``[S * A, S]``,
        reward ``[S, A]``, features ``[S, 6]``; its arrays are read-only.

    Raises:
        InvalidConfigError: an unknown character (row and column named), ragged rows, an empty
            map, or no start cell.
    """
    cells = check_map(list(cells), "map")
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

    mdp = MDP(transitions(coords, state_index, cell_type, absorbing, spec), initial, spec.discount,
              absorbing=absorbing, n_actions=len(ACTION_NAMES))
    state_reward = np.array([spec.rewards.get(t, 0.0) for t in cell_type]) + np.where(absorbing, 0.0, spec.step_cost)
    reward = np.repeat(state_reward[:, None], len(ACTION_NAMES), axis=1)
    scale = np.maximum(np.array(chars.shape) - 1, 1)
    onehot = (cell_type[:, None] == np.array(CELL_TYPES, dtype=object)[None, :]).astype(float)
    features = np.hstack([onehot, coords / scale])
    arrays = [reward, features, coords, state_index, cell_type]
    for array in arrays:
        array.flags.writeable = False
    return GridWorld(name, variant, mdp, reward, features, coords, tuple(cells), state_index, cell_type, spec, mirror)


def open_grid(
    rows: int, cols: int, *, slip: float = 0.0, discount: float = 0.95, step_cost: float = 0.0, goal: bool = True
) -> GridWorld:
    """A wall-less floor for benchmarks (32x32, 128x128, ...).

    Args:
        rows, cols: the size; ``S = rows * cols``.
        slip: the floor's slip probability, in ``[0, 1]``.
        discount, step_cost: as in :class:`GridSpec`.
        goal: an absorbing goal (reward 3, as in the shipped worlds) in the bottom-right corner;
            the start is the top-left corner.

    Raises:
        InvalidConfigError: fewer than 2 cells, or a setting out of range (naming it).
    """
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise InvalidConfigError(f"open_grid needs at least 2 cells, got rows={rows}, cols={cols}")
    cells = [["."] * cols for _ in range(rows)]
    cells[0][0] = "S"
    if goal:
        cells[-1][-1] = "G"
    spec = GridSpec(discount=discount, step_cost=step_cost, slip=slip)
    return from_cells(["".join(row) for row in cells], spec, name=f"open_grid_{rows}x{cols}")


def transitions(coords, state_index, cell_type, absorbing, spec: GridSpec) -> sp.csr_matrix:
    """``P`` as a sparse ``[S * A, S]`` matrix (row ``s * A + a``), built with array operations.

    Args:
        coords: ``[S, 2]`` (row, col) of each state; ``state_index``: ``[rows, cols]``, ``-1`` at
            walls; ``cell_type``: ``[S]`` names; ``absorbing``: ``[S]`` bool; ``spec``: the
            settings (slip per type, wind), with any mirror already applied.
    """
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


def check_map(lines: list[str], source: str) -> list[str]:
    """Strip trailing whitespace and blank trailing lines; check characters and raggedness.

    Raises:
        InvalidConfigError: naming ``source``, the line and column of a bad character.
    """
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
