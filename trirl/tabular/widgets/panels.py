"""The widgets' panels: matplotlib figures rendered to PNG for ``ipywidgets.Image``.

A PNG shows the same in a live kernel, in Voila and in a headless test. A panel is drawn once
with :mod:`trirl.tabular.plots`; later updates replace its artists' data (:func:`set_heatmap`,
:func:`set_curve`) and re-render, a fraction of a full redraw.
"""

from __future__ import annotations

import base64
import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

PANEL_DPI = 60
#: figure sizes in inches (pixels = inches * PANEL_DPI)
TRUTH_SIZE, MAPS_SIZE, CURVES_SIZE, EXPLORER_SIZE = (8.7, 4.1), (13.0, 4.1), (13.0, 3.2), (15.0, 4.5)


def image_widget(figsize: tuple[float, float]) -> W.Image:
    """An image widget at the figure's pixel width (a flex box would stretch it otherwise)."""
    return W.Image(format="png", layout=W.Layout(width=f"{int(figsize[0] * PANEL_DPI)}px"))


def live_bundle(widget: W.Widget, label_html: str, images: list[bytes], **kwargs) -> dict:
    """One output for a live panel: the widget's mime bundle plus a ``text/html`` rendering of
    what it shows now (``label_html`` and the PNG ``images``).

    A live front end (JupyterLab, Voila) renders the widget and ignores the HTML; a viewer without
    a kernel (nbconvert, a saved notebook) has no widget and renders the HTML instead. Either way
    the panels appear once, never as a live copy next to a static one that goes stale.
    """
    bundle = dict(widget._repr_mimebundle_(**kwargs))
    pictures = "".join(f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}' alt='panel'/><br>"
                       for png in images if png)
    bundle["text/html"] = f"<div class='trirl-panels'>{label_html}<br>{pictures}</div>"
    return bundle


def render_png(fig, close: bool = True) -> bytes:
    """A figure as PNG bytes at :data:`PANEL_DPI`; ``close`` drops it from pyplot afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PANEL_DPI)
    if close:
        plt.close(fig)
    return buffer.getvalue()


def set_heatmap(ax, world, values) -> None:
    """Replace the data of a :func:`~trirl.tabular.plots.plot_values` panel with ``values`` ``[S]``
    (its last image; the colour bar follows)."""
    image = ax.images[-1]
    image.set_data(world.to_grid(values))
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    image.set_clim(low, high if high > low else low + 1e-12)


def set_curve(ax, history, metric) -> None:
    """Replace the line of a one-run :func:`~trirl.tabular.plots.plot_curves` panel with
    ``metric`` against ``iteration`` from the rows of ``history`` that have it."""
    rows = [row for row in history if metric in row]
    ax.lines[0].set_data([row["iteration"] for row in rows], [row[metric] for row in rows])
    ax.relim()
    ax.autoscale_view()
