"""The :class:`GridWorld` a run works on, and :func:`correspondence` between two worlds.

A world is built by :func:`trirl.tabular.gridworld.from_cells` (a map in memory) or
:func:`trirl.tabular.gridworld.load` (a shipped or user TOML file); this module holds what it
is once built: the MDP, the true reward, features, and the map a plot draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trirl.errors import InvalidConfigError
from trirl.tabular.gridworld.spec import ACTION_DELTAS, ACTION_NAMES, CELL_TYPES, FEATURE_NAMES, MIRRORS, GridSpec
from trirl.tabular.mdp import MDP


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
        """Lay a per-state array out as an image.

        Args:
            values: ``[S, ...]``, one entry per state.

        Returns:
            ``[rows, cols, ...]`` float image, NaN at walls.

        Raises:
            InvalidConfigError: ``values`` does not have ``S`` rows.
        """
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
