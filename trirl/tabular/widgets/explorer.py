"""Soft value iteration to look at: values, policy and per-state entropy for a temperature and a discount."""

from __future__ import annotations

import time
from dataclasses import replace

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from trirl.tabular import gridworld
from trirl.tabular.gridworld import GridWorld, from_cells
from trirl.tabular.objectives import safe_log
from trirl.tabular.plots import plot_policy, plot_values
from trirl.tabular.soft import solve
from trirl.tabular.threads import blas_threads
from trirl.tabular.widgets.panels import EXPLORER_SIZE, image_widget, live_bundle, render_png


def entropy(policy: np.ndarray) -> np.ndarray:
    """Per-state policy entropy ``H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s)``, with ``0 log 0 = 0``.

    Args:
        policy: ``[S, A]``, rows summing to one.

    Returns:
        ``[S]`` in nats, between 0 (deterministic) and ``log A`` (uniform).
    """
    policy = np.asarray(policy, dtype=float)
    return -np.sum(np.where(policy > 0, policy * safe_log(np.where(policy > 0, policy, 1.0)), 0.0), axis=1)


class SoftVIExplorer:
    """Soft-optimal values ``V``, policy arrows and per-state entropy for a temperature and discount.

    ``solve(mdp, reward, temperature)``: a high temperature spreads the policy (entropy near
    ``log A``), a low one makes it nearly greedy; a lower ``gamma`` shortens the horizon.
    """

    def __init__(self, world: GridWorld | None = None):
        self.base = gridworld.load() if world is None else world
        self.temperature = W.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.1, description="temperature",
                                            style={"description_width": "initial"})  # the label whole, not "temperat..."
        self.discount = W.FloatSlider(value=self.base.spec.discount, min=0.5, max=0.99, step=0.01, description="gamma")
        self.image = image_widget(EXPLORER_SIZE)
        self.summary = W.HTML()
        for control in (self.temperature, self.discount):
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox([self.temperature, self.discount]), self.summary, self.image])
        self.refresh()

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """Display the explorer as its live widget, with the current panels as the static fallback
        of the same output (:func:`~trirl.tabular.widgets.panels.live_bundle`)."""
        return live_bundle(self.widget, self.summary.value, [self.image.value], **kwargs)

    @property
    def world(self) -> GridWorld:
        """The base world with the slider's discount."""
        return from_cells(self.base.cells, replace(self.base.spec, discount=self.discount.value), name=self.base.name)

    def refresh(self) -> None:
        """Solve at the sliders' temperature and discount, redraw ``V`` ``[S]``, the policy and the
        entropy ``[S]`` (nats), and keep them in ``solution`` and ``entropy``."""
        with blas_threads(self.base.mdp.n_states):  # one BLAS thread for small worlds
            tick = time.perf_counter()
            world = self.world
            self.solution = solve(world.mdp, world.reward, temperature=self.temperature.value)
            h = entropy(self.solution.policy)
            fig, axes = plt.subplots(1, 3, figsize=EXPLORER_SIZE)
            plot_values(axes[0], world, self.solution.v, "soft value V(s)")
            plot_policy(axes[1], world, self.solution.policy, "soft-optimal policy", legend=True)
            plot_values(axes[2], world, h, "entropy H(pi(.|s))", cmap="cividis")
            fig.subplots_adjust(left=0.01, right=0.96, top=0.92, bottom=0.1, wspace=0.12)
            self.image.value = render_png(fig)
            self.entropy = h
            self.summary.value = (f"temperature {self.temperature.value:.3g}, gamma {self.discount.value:.2f}: "
                                  f"V(start) = {world.mdp.initial @ self.solution.v:.4g}, mean entropy "
                                  f"{h[~world.mdp.absorbing].mean():.3f} (max log A = {np.log(world.mdp.n_actions):.3f}); "
                                  f"{(time.perf_counter() - tick) * 1e3:.0f} ms")

