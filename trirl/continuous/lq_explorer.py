"""A widget that sets the exact feature-space TRIRL iteration on soft LQ control beside a sampled run.

:class:`LQExplorer` has sliders for the instance (dimensions, seed, noise) and the step (``eps``,
``beta``, ``eta``); its left panels draw the exact iterates of :func:`trirl.continuous.lq.exact_trace`
(the dual ``G_beta`` and the expert's KL to each policy), its right panel the ``trirl train`` run
that ``python -m trirl.continuous.lq_oracle track`` measured against the same closed forms
(``continuous/results/lqr/*.json``: reward residual up to shaping and scale, acting-policy KL).
``.figure_data`` keeps every number drawn; panels are PNGs (:mod:`trirl.tabular.widgets.panels`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from trirl.continuous import lq
from trirl.continuous.envs.lqr import LQRConfig
from trirl.tabular.widgets.panels import image_widget, render_png

SIZE = (13.0, 3.6)


def load_track(path: str | Path) -> dict[str, np.ndarray]:
    """``iteration``, ``reward_residual``, ``policy_kl``, ``dual`` (seed 0) of a ``track`` JSON ("inf" -> inf)."""
    rows = json.loads(Path(path).read_text())["rows"]
    names = ("reward_residual", "policy_kl", "dual")
    out = {"iteration": np.array([row["iteration"] for row in rows])}
    out.update({name: np.array([float(row["seeds"][0][name]) for row in rows]) for name in names})
    return out


class LQExplorer:
    """Exact TRIRL iterates on a random LQ instance (sliders) beside a measured ``trirl train`` run."""

    def __init__(self, track: str | Path | None = None, iterations: int = 12):
        self.iterations = iterations
        self.track = None if track is None else load_track(track)
        self.track_name = None if track is None else Path(track).name
        self.state_dim = W.IntSlider(value=2, min=1, max=4, description="states")
        self.action_dim = W.IntSlider(value=2, min=1, max=4, description="actions")
        self.instance = W.IntSlider(value=0, min=0, max=20, description="instance")
        self.noise = W.FloatLogSlider(value=0.1, base=10, min=-2, max=0, step=0.1, description="noise")
        self.eps = W.FloatLogSlider(value=0.05, base=10, min=-3, max=0, step=0.1, description="eps")
        self.beta = W.FloatLogSlider(value=10.0, base=10, min=0, max=3, step=0.1, description="beta")
        self.eta = W.FloatSlider(value=1.0, min=0.0, max=10.0, step=0.5, description="eta")
        self.image = image_widget(SIZE)
        self.summary = W.HTML()
        controls = (self.state_dim, self.action_dim, self.instance, self.noise, self.eps, self.beta, self.eta)
        for control in controls:
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox(list(controls[:4])), W.HBox(list(controls[4:])), self.summary, self.image])
        self.refresh()

    @property
    def config(self) -> LQRConfig:
        return LQRConfig(state_dim=self.state_dim.value, action_dim=self.action_dim.value,
                         instance=self.instance.value, noise=self.noise.value)

    def refresh(self) -> None:
        """Recompute the exact trace for the sliders and redraw; numbers go to ``figure_data``."""
        config = self.config
        problem = config.problem
        expert = lq.soft_optimal(problem, config.reward).policy
        start = lq.cost_reward(problem.n, problem.m, 0.0, 0.5)
        trace = lq.exact_trace(problem, expert, start, self.eps.value, self.beta.value, self.eta.value, self.iterations)
        alpha = self.eps.value * self.beta.value / (1.0 + self.eta.value)
        self.figure_data = {"dual": trace.dual, "expert_kl": trace.expert_kl, "alpha": alpha,
                            "left_domain": trace.left_domain}
        panels = 3 if self.track is not None else 2
        fig, axes = plt.subplots(1, panels, figsize=SIZE)
        steps = np.arange(len(trace.dual))
        finite = np.isfinite(trace.dual)
        axes[0].plot(steps[finite], trace.dual[finite], "o-")
        axes[0].set(title=f"exact dual G_beta (alpha = {alpha:.3g})", xlabel="iteration")
        axes[1].semilogy(steps[finite], np.maximum(trace.expert_kl[finite], 1e-12), "o-")
        axes[1].set(title="KL(pi_E || pi_i) per state, exact", xlabel="iteration")
        if trace.left_domain:
            for ax in axes[:2]:
                ax.axvline(steps[-1], color="red", linestyle="--", label="no finite soft value")
            axes[0].legend()
        if self.track is not None:
            t = self.track
            axes[2].plot(t["iteration"], t["reward_residual"], "o-", label="reward residual")
            axes[2].plot(t["iteration"], t["policy_kl"], "s-", label="acting-policy KL")
            axes[2].set(title=f"trirl train, sampled ({self.track_name})", xlabel="iteration", ylim=(0, 1.5))
            axes[2].legend()
            self.figure_data["track"] = t
        fig.tight_layout()
        self.image.value = render_png(fig)
        status = "left the soft-solvable rewards" if trace.left_domain else "stayed soft-solvable"
        self.summary.value = (f"n = {problem.n}, m = {problem.m}, gamma {problem.gamma}: the exact iterates {status}; "
                              f"G from {trace.dual[0]:.3g} to {trace.dual[-1]:.3g}, "
                              f"KL(pi_E || pi) to {trace.expert_kl[-1]:.3g}"
                              + ("" if math.isfinite(trace.dual[-1]) else " (inf: no finite soft value)"))

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """Display the explorer as its live widget, with the current panel as the static fallback
        of the same output (:func:`~trirl.tabular.widgets.panels.live_bundle`)."""
        from trirl.tabular.widgets.panels import live_bundle

        return live_bundle(self.widget, self.summary.value, [self.image.value], **kwargs)
