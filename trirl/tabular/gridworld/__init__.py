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

The package, one responsibility per module:

- :mod:`~trirl.tabular.gridworld.spec`: the legend, the actions and the validated settings
  (:class:`GridSpec`, :class:`Wind`);
- :mod:`~trirl.tabular.gridworld.world`: the :class:`GridWorld` a run works on, and
  :func:`correspondence` between two worlds;
- :mod:`~trirl.tabular.gridworld.build`: a map and settings into the MDP (:func:`from_cells`,
  :func:`open_grid`);
- :mod:`~trirl.tabular.gridworld.files`: the shipped worlds and TOML files (:func:`load`,
  :func:`names`, :func:`variants`), with errors that name the file and line.
"""

from trirl.tabular.gridworld.build import from_cells, open_grid
from trirl.tabular.gridworld.files import DEFAULT_WORLD, GRIDWORLDS_DIR, load, names, portable, variants
from trirl.tabular.gridworld.spec import (
    ACTION_DELTAS,
    ACTION_NAMES,
    CELL_TYPES,
    FEATURE_NAMES,
    LEGEND,
    MIRRORS,
    SPEC_KEYS,
    STARTS,
    TOP_KEYS,
    VARIANT_KEYS,
    GridSpec,
    Wind,
)
from trirl.tabular.gridworld.world import GridWorld, correspondence

__all__ = [
    "ACTION_DELTAS",
    "ACTION_NAMES",
    "CELL_TYPES",
    "DEFAULT_WORLD",
    "FEATURE_NAMES",
    "GRIDWORLDS_DIR",
    "GridSpec",
    "GridWorld",
    "LEGEND",
    "MIRRORS",
    "SPEC_KEYS",
    "STARTS",
    "TOP_KEYS",
    "VARIANT_KEYS",
    "Wind",
    "correspondence",
    "from_cells",
    "load",
    "names",
    "portable",
    "open_grid",
    "variants",
]
