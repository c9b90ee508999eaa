"""The grid editor: a clickable map and sliders for the world's dynamics.

Each edit rebuilds the world with :func:`trirl.tabular.gridworld.from_cells`; an edit that makes
no valid world (no start cell, say) is shown as a message and keeps the last valid world.
"""

from __future__ import annotations

import html
from dataclasses import replace

import ipywidgets as W

from trirl.errors import TrirlError
from trirl.tabular import gridworld
from trirl.tabular.gridworld import GridSpec, GridWorld, Wind, from_cells

#: the brushes and the map character each paints (legend in :mod:`trirl.tabular.gridworld`)
BRUSHES = {"wall": "#", "floor": ".", "start": "S", "goal": "G", "lava": "L", "ice": "~"}
BUTTON_COLOURS = {"#": "#3b3b3b", ".": "#eeeeee", "S": "#ffd92f", "G": "#7fc97f", "L": "#f0746e", "~": "#cfe8f7"}
#: the label each cell type shows; unlabelled cells show a no-break space, because the browser's
#: button view keeps its old text when the description becomes empty (an erased lava cell would
#: still read "L")
CELL_LABELS = {"S": "S", "G": "G", "L": "L"}
BLANK_LABEL = "\u00a0"


class GridEditor:
    """A clickable map and the world's dynamics settings.

    Args:
        world: the world to start from (default: the shipped ``icy_goal``); its rewards, step
            cost, absorbing types and start rule are kept, slip, wind and discount get sliders.

    Attributes:
        cells: the current map rows (legend in :mod:`trirl.tabular.gridworld`).
        world: the last valid world built from ``cells`` and the sliders.
        brush, buttons, floor_slip, ice_slip, wind_direction, wind, discount: the controls.
        widget: the ipywidgets tree.
    """

    def __init__(self, world: GridWorld | None = None):
        world = gridworld.load() if world is None else world
        self.base_spec = world.spec
        self.name = world.name
        self.cells = [list(row) for row in world.cells]
        self.world = world
        self._listeners: list = []
        spec = world.spec
        self.brush = W.ToggleButtons(options=list(BRUSHES), value="wall", description="brush",
                                     style={"button_width": "52px"})
        self.floor_slip = W.FloatSlider(value=spec.slip.get("floor", 0.0), min=0, max=1, step=0.05, description="floor slip")
        self.ice_slip = W.FloatSlider(value=spec.slip.get("ice", 0.0), min=0, max=1, step=0.05, description="ice slip")
        self.wind_direction = W.Dropdown(options=list(gridworld.ACTION_NAMES[:4]), value=spec.wind.direction,
                                         description="wind to")
        self.wind = W.FloatSlider(value=spec.wind.probability, min=0, max=1, step=0.05, description="wind p")
        self.discount = W.FloatSlider(value=spec.discount, min=0.5, max=0.99, step=0.01, description="gamma")
        self.message = W.HTML()
        rows, cols = len(self.cells), len(self.cells[0])
        self.buttons = [[self._button(r, c) for c in range(cols)] for r in range(rows)]
        grid = W.GridBox([b for row in self.buttons for b in row],
                         layout=W.Layout(grid_template_columns=f"repeat({cols}, 26px)", grid_gap="1px"))
        for control in (self.floor_slip, self.ice_slip, self.wind_direction, self.wind, self.discount):
            control.observe(lambda change: self._rebuild(), names="value")
        settings = W.VBox([self.floor_slip, self.ice_slip, self.wind_direction, self.wind, self.discount])
        self.widget = W.VBox([self.brush, W.HBox([grid, settings]), self.message])

    def _button(self, r: int, c: int) -> W.Button:
        button = W.Button(description="", tooltip=f"({r}, {c})", layout=W.Layout(width="26px", height="26px", padding="0"))
        self._paint(button, self.cells[r][c])
        button.on_click(lambda _, r=r, c=c: self.toggle(r, c))
        return button

    @staticmethod
    def _paint(button: W.Button, char: str) -> None:
        button.style.button_color = BUTTON_COLOURS[char]
        button.description = CELL_LABELS.get(char, BLANK_LABEL)

    @property
    def spec(self) -> GridSpec:
        """The base world's settings with the sliders' slip, wind and discount."""
        slip = dict(self.base_spec.slip, floor=self.floor_slip.value, ice=self.ice_slip.value)
        return replace(self.base_spec, slip=slip, discount=self.discount.value,
                       wind=Wind(self.wind_direction.value, self.wind.value))

    def toggle(self, r: int, c: int) -> None:
        """Paint cell ``(r, c)`` with the brush, or back to floor if it already has the brush's type."""
        char = BRUSHES[self.brush.value]
        self.cells[r][c] = "." if self.cells[r][c] == char else char
        self._paint(self.buttons[r][c], self.cells[r][c])
        self._rebuild()

    def on_change(self, callback) -> None:
        """Call ``callback(world)`` after every edit that gives a valid world."""
        self._listeners.append(callback)

    def _rebuild(self) -> None:
        try:
            world = from_cells(["".join(row) for row in self.cells], self.spec, name=f"{self.name} (edited)")
        except TrirlError as error:
            self.message.value = f"<span style='color:#b00'>not applied: {html.escape(str(error))}</span>"
            return
        self.message.value = ""
        self.world = world
        for callback in self._listeners:
            callback(world)

