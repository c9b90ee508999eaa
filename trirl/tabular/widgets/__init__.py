"""Interactive grid worlds for notebooks and Voila: edit a world, step TRIRL, watch every quantity.

Three widgets, each a plain object whose ``.widget`` is the ipywidgets tree to display:

- :class:`GridEditor` (:mod:`~trirl.tabular.widgets.editor`): click cells to paint walls,
  goals, lava, ice or the start with a brush; sliders for slip, wind and the discount ``gamma``;
  ``.world`` is the edited :class:`~trirl.tabular.gridworld.GridWorld`, built by
  :func:`gridworld.from_cells`.
- :class:`TRIRLStepper` (:mod:`~trirl.tabular.widgets.stepper`): TRIRL (Algorithm 1) on the
  editor's world with sliders for ``beta``, ``eps`` and the ``eta`` schedule, a toggle between the
  safeguarded step (the default) and the paper's fixed step, Step / Run / Reset buttons and live
  panels: learned reward, policy arrows, occupancy, reverse KL and dual curves, and the Theorem 3.2
  check against the round-off of the numbers involved. A diverging fixed step is stopped before
  the reward outgrows float64, with its cause and the remedy.
- :class:`SoftVIExplorer` (:mod:`~trirl.tabular.widgets.explorer`): the soft-optimal values,
  policy and entropy for a temperature and a discount.

The panels are PNG images drawn with :mod:`trirl.tabular.plots` (``ipywidgets.Image``,
:mod:`~trirl.tabular.widgets.panels`), so they show the same in a live kernel, in Voila and in a
headless test; ``.figure_data`` keeps the numbers each panel last drew. Displayed in a notebook,
a widget is one output: the live widget, with its current panels as the fallback a viewer without
a kernel shows (:func:`~trirl.tabular.widgets.panels.live_bundle`).
:func:`~trirl.tabular.widgets.notes.warnings_as_notes` shows the library's warnings in notebooks
and the book as short notes (what happened, what to do) instead of stderr text with file paths. Everything is computed
by the library; the widgets only wire it. Their computations run inside
:func:`trirl.tabular.threads.blas_threads` (one BLAS thread for small worlds).
"""

from trirl.tabular.widgets.editor import BRUSHES, BUTTON_COLOURS, GridEditor
from trirl.tabular.widgets.explorer import SoftVIExplorer, entropy
from trirl.tabular.widgets.notes import warnings_as_notes
from trirl.tabular.widgets.panels import PANEL_DPI, render_png
from trirl.tabular.widgets.stepper import DEFAULT_CONFIG, TRIRLStepper

__all__ = ["BRUSHES", "BUTTON_COLOURS", "DEFAULT_CONFIG", "GridEditor", "PANEL_DPI", "SoftVIExplorer",
           "TRIRLStepper", "entropy", "render_png", "warnings_as_notes"]
