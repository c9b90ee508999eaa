"""A grid world's vocabulary and settings: the map legend, the five actions, and :class:`GridSpec`.

:class:`GridSpec` and :class:`Wind` validate every field on construction and raise an
:class:`~trirl.errors.InvalidConfigError` naming it; the TOML loader
(:mod:`trirl.tabular.gridworld.files`) adds the file and line. The dynamics these settings
describe are in the package docstring (:mod:`trirl.tabular.gridworld`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from trirl.errors import InvalidConfigError

ACTION_NAMES = ("up", "down", "left", "right", "stay")
#: ``[A, 2]`` (row, col) move of each action
ACTION_DELTAS = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]])
LEGEND = MappingProxyType({"#": "wall", ".": "floor", "S": "floor", "G": "goal", "L": "lava", "~": "ice"})
CELL_TYPES = ("floor", "goal", "lava", "ice")
FEATURE_NAMES = (*(f"is_{t}" for t in CELL_TYPES), "row", "col")
#: the action names a mirror swaps
MIRRORS = {"horizontal": {"left": "right", "right": "left"}, "vertical": {"up": "down", "down": "up"}}
STARTS = ("marked", "uniform")
SPEC_KEYS = ("discount", "step_cost", "rewards", "slip", "wind", "absorbing", "start", "mirror", "map")
TOP_KEYS = ("name", "description", "variants", *SPEC_KEYS)
VARIANT_KEYS = ("description", *SPEC_KEYS)


class FieldError(InvalidConfigError):
    """A bad :class:`GridSpec` field; ``key`` lets the TOML loader find the line to blame."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _number(key: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(key, f"{name} is {value!r}, expected a number")
    return float(value)


def _probability(key: str, name: str, value) -> float:
    value = _number(key, name, value)
    if not 0.0 <= value <= 1.0:
        raise FieldError(key, f"{name} is {value}, expected a probability in [0, 1]")
    return value


def _per_type(name: str, value) -> dict[str, float]:
    """A number (the same for every cell type) or a table keyed by cell type."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {t: float(value) for t in CELL_TYPES}
    if not isinstance(value, Mapping):
        raise FieldError(name, f"{name} must be a number or a table keyed by cell type {list(CELL_TYPES)}")
    for t, v in value.items():
        if t not in CELL_TYPES:
            raise FieldError(t, f"{name} has unknown cell type {t!r}; expected one of {list(CELL_TYPES)}")
    return {t: _number(t, f"{name}.{t}", v) for t, v in value.items()}


@dataclass(frozen=True)
class Wind:
    """After each move, with ``probability`` push the agent one cell towards ``direction``.

    Attributes:
        direction: ``"up"``, ``"down"``, ``"left"`` or ``"right"``.
        probability: the push's probability, in ``[0, 1]`` (0: no wind).

    Raises:
        InvalidConfigError: naming ``wind.direction`` or ``wind.probability``.
    """

    direction: str = "up"
    probability: float = 0.0

    def __post_init__(self):
        if self.direction not in ACTION_NAMES[:4]:
            directions = list(ACTION_NAMES[:4])
            raise FieldError("direction", f"wind.direction is {self.direction!r}, expected one of {directions}")
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
            raise FieldError("discount", f"discount is {discount}, expected a number in [0, 1)")
        rewards = _per_type("rewards", self.rewards)
        if isinstance(self.slip, int | float) and not isinstance(self.slip, bool):
            # one number for every cell type: checked, and blamed, as the key the file holds
            slip = dict.fromkeys(CELL_TYPES, _probability("slip", "slip", self.slip))
        else:
            slip = {t: _probability(t, f"slip.{t}", p) for t, p in _per_type("slip", self.slip).items()}
        if not isinstance(self.wind, Wind):
            raise FieldError("wind", f"wind is {self.wind!r}, expected a Wind(direction, probability)")
        absorbing = self.absorbing
        listed = isinstance(absorbing, Sequence) and not isinstance(absorbing, str)
        if not listed or any(t not in CELL_TYPES for t in absorbing):
            types = list(CELL_TYPES)
            raise FieldError("absorbing", f"absorbing is {absorbing!r}, expected a list of cell types from {types}")
        if self.start not in STARTS:
            raise FieldError("start", f"start is {self.start!r}, expected one of {list(STARTS)}")
        if self.mirror is not None and self.mirror not in MIRRORS:
            raise FieldError("mirror", f"mirror is {self.mirror!r}, expected one of {list(MIRRORS)}")
        for name, value in [("discount", discount), ("step_cost", _number("step_cost", "step_cost", self.step_cost)),
                            ("rewards", MappingProxyType(rewards)), ("slip", MappingProxyType(slip)),
                            ("absorbing", tuple(absorbing))]:
            object.__setattr__(self, name, value)
