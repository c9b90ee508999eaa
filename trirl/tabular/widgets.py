"""Interactive grid worlds for notebooks and Voila: edit a world, step TRIRL, watch every quantity.

Three widgets, each a plain object whose ``.widget`` is the ipywidgets tree to display:

- :class:`GridEditor`: click cells to paint walls, goals, lava, ice or the start with a brush;
  sliders for slip, wind and the discount ``gamma``; ``.world`` is the edited
  :class:`~trirl.tabular.gridworld.GridWorld`, built by :func:`gridworld.from_cells`.
- :class:`TRIRLStepper`: TRIRL (Algorithm 1) on the editor's world with sliders for ``beta``,
  ``eps`` and the ``eta`` schedule, Step / Run / Reset buttons and live panels: learned reward,
  policy arrows, occupancy, reverse KL and dual curves, and the Theorem 3.2 check.
- :class:`SoftVIExplorer`: the soft-optimal values, policy and entropy for a temperature and
  a discount.

The panels are PNG images drawn with :mod:`trirl.tabular.plots` (``ipywidgets.Image``), so they
show the same in a live kernel, in Voila and in a headless test; ``.figure_data`` keeps the
numbers each panel last drew. Everything is computed by the library; the widgets only wire it.
"""

from __future__ import annotations

import functools
import html
import io
import time
from dataclasses import replace
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogFormatter

from trirl import core
from trirl.errors import InvalidConfigError, TrirlError
from trirl.tabular import gridworld
from trirl.tabular.algorithms.trirl import TRIRLConfig, TRIRLState, make_trirl
from trirl.tabular.driver import dual_increased
from trirl.tabular.gridworld import GridSpec, GridWorld, Wind, from_cells
from trirl.tabular.objectives import log_ratio, safe_log
from trirl.tabular.occupancies import occupancy
from trirl.tabular.plots import normalise, plot_curves, plot_policy, plot_values, set_policy, state_reward
from trirl.tabular.soft import solve

BRUSHES = {"wall": "#", "floor": ".", "start": "S", "goal": "G", "lava": "L", "ice": "~"}
BUTTON_COLOURS = {"#": "#3b3b3b", ".": "#eeeeee", "S": "#ffd92f", "G": "#7fc97f", "L": "#f0746e", "~": "#cfe8f7"}
DEFAULT_CONFIG = TRIRLConfig()  # the recommended eps, beta, eta: alpha = eps * beta / (1 + eta) = 0.1
PANEL_DPI = 60
TRUTH_SIZE, MAPS_SIZE, CURVES_SIZE, EXPLORER_SIZE = (8.7, 4.1), (13.0, 4.1), (13.0, 3.2), (15.0, 4.5)
CONTROLS_WIDTH = "580px"  # fixed, so a long message wraps instead of squeezing the map editor
LOG_STEP = 0.05  # the eta and beta sliders move in steps of 10**0.05 (12%)


def _on_log_grid(value: float) -> float:
    """The nearest value a log slider can show (the browser would snap it there anyway)."""
    return float(10 ** (round(np.log10(value) / LOG_STEP) * LOG_STEP))


def _image(figsize: tuple[float, float]) -> W.Image:
    """An image widget at the figure's pixel width (a flex box would stretch it otherwise)."""
    return W.Image(format="png", layout=W.Layout(width=f"{int(figsize[0] * PANEL_DPI)}px"))


def one_blas_thread(method):
    """Run ``method`` with one BLAS thread when ``threadpoolctl`` is installed.

    The linear solves of a grid world are small (``S`` ~ 100): BLAS threads only contend, and
    a step on a 10x10 world took 0.8 s with two OpenBLAS threads against 0.18 s with one.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return method

    @functools.wraps(method)
    def wrapped(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return method(*args, **kwargs)

    return wrapped


def render_png(fig, close: bool = True) -> bytes:
    """A figure as PNG bytes; ``close`` drops it from pyplot afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PANEL_DPI)
    if close:
        plt.close(fig)
    return buffer.getvalue()


def _set_heatmap(ax, world, values) -> None:
    """Replace the data of a :func:`plot_values` panel (its last image; the colour bar follows)."""
    image = ax.images[-1]
    image.set_data(world.to_grid(values))
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    image.set_clim(low, high if high > low else low + 1e-12)


def _set_curve(ax, history, metric) -> None:
    """Replace the line of a one-run :func:`plot_curves` panel."""
    rows = [row for row in history if metric in row]
    ax.lines[0].set_data([row["iteration"] for row in rows], [row[metric] for row in rows])
    ax.relim()
    ax.autoscale_view()


def entropy(policy: np.ndarray) -> np.ndarray:
    """``H(pi(.|s)) = -sum_a pi log pi`` per state ``[S]``, with ``0 log 0 = 0``."""
    policy = np.asarray(policy, dtype=float)
    return -np.sum(np.where(policy > 0, policy * safe_log(np.where(policy > 0, policy, 1.0)), 0.0), axis=1)


# ---------------------------------------------------------------------------------------------
# the grid editor


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
        button.description = char if char in "SGL" else ""

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


# ---------------------------------------------------------------------------------------------
# TRIRL, one step at a time


class TRIRLStepper:
    """TRIRL on an editable grid world, one :meth:`step` at a time, with live panels.

    The expert is the soft-optimal policy of the world's true reward and ``rho_expert`` its
    exact occupancy. Changing ``beta``, ``eps`` or the ``eta`` schedule keeps the current
    ``(r, pi)`` pair and continues with the new settings; editing the world starts over.

    Attributes:
        editor: the :class:`GridEditor`; ``world`` its current world.
        state: the learner's :class:`TRIRLState` (``reward`` is ``r^(i)``, ``log_policy`` its MCE policy).
        history: one metrics row per iteration, iteration 0 included (the driver's names).
        checks: the Theorem 3.2 check of the last step (:meth:`theorem_check`).
        figure_data: the numbers the panels last drew.
        widget: the ipywidgets tree; display it in a notebook.
    """

    def __init__(self, world: GridWorld | None = None, config: TRIRLConfig = DEFAULT_CONFIG):
        self.editor = GridEditor(world)
        eta = float(config.eta) if isinstance(config.eta, (int, float)) else float(config.eta(0))
        eta = _on_log_grid(max(eta, 0.1))  # the default 49999 becomes 50119: alpha = 0.0998
        self.beta = W.FloatLogSlider(value=_on_log_grid(config.beta), base=10, min=-1, max=5, step=LOG_STEP,
                                     description="beta", readout_format=".4g")
        self.eps = W.FloatSlider(value=config.eps, min=0.05, max=1.0, step=0.05, description="eps")
        self.eta_mode = W.ToggleButtons(options=["constant", "decay"], value="constant", description="eta",
                                        style={"button_width": "80px"})
        self.eta = W.FloatLogSlider(value=eta, base=10, min=-1, max=6, step=LOG_STEP, description="eta (start)",
                                    readout_format=".4g")
        self.eta_decay = W.FloatSlider(value=0.9, min=0.5, max=1.0, step=0.01, description="decay", disabled=True)
        self.eta_end = W.FloatLogSlider(value=_on_log_grid(eta / 2), base=10, min=-1, max=6, step=LOG_STEP,
                                        description="eta (end)",
                                        readout_format=".4g", disabled=True)
        self.alpha = W.HTML(layout=W.Layout(width=CONTROLS_WIDTH))
        self.step_button = W.Button(description="Step", button_style="primary", icon="step-forward")
        self.run_button = W.Button(description="Run", icon="play")
        self.run_steps = W.BoundedIntText(value=20, min=1, max=1000, description="steps", layout=W.Layout(width="150px"))
        self.reset_button = W.Button(description="Reset", icon="undo")
        self.status = W.HTML(layout=W.Layout(width=CONTROLS_WIDTH))
        self.iteration_label = W.HTML()
        self.truth = _image(TRUTH_SIZE)
        self.maps = _image(MAPS_SIZE)
        self.curves = _image(CURVES_SIZE)
        self.check_panel = W.HTML()
        self.step_button.on_click(lambda _: self.step())
        self.run_button.on_click(lambda _: self.run(self.run_steps.value))
        self.reset_button.on_click(lambda _: self.reset())
        self.eta_mode.observe(self._eta_mode_changed, names="value")
        for control in (self.beta, self.eps, self.eta, self.eta_decay, self.eta_end):
            control.observe(lambda change: self._config_changed(), names="value")
        self.editor.on_change(lambda world: self.reset())
        controls = W.VBox([self.beta, self.eps, self.eta_mode, self.eta, self.eta_decay, self.eta_end, self.alpha,
                           W.HBox([self.step_button, self.run_button, self.run_steps, self.reset_button]),
                           self.iteration_label, self.status, self.check_panel],
                          layout=W.Layout(width=CONTROLS_WIDTH, flex="0 0 auto"))
        self.editor.widget.layout.flex = "0 0 auto"  # never squeezed: the map and the readouts stay whole
        self.widget = W.VBox([W.HBox([self.editor.widget, controls], layout=W.Layout(flex_flow="row wrap")),
                              self.truth, self.maps, self.curves])
        self.figure_data: dict[str, Any] = {}
        self._panels = None
        self._applied = config  # the last valid settings (a refused slider combination keeps them)
        self.config_error = ""
        self.reset()

    # -- configuration ---------------------------------------------------------------------------
    @property
    def world(self) -> GridWorld:
        return self.editor.world

    @property
    def config(self) -> TRIRLConfig:
        """The sliders as a :class:`TRIRLConfig` (``eta`` a constant or ``core.ExponentialEta``)."""
        if self.eta_mode.value == "constant":
            eta = float(self.eta.value)
        else:
            start, end = float(self.eta.value), float(self.eta_end.value)
            if end > start:
                raise InvalidConfigError(
                    f"eta (end) = {end:.4g} is above eta (start) = {start:.4g}: decay mode lowers eta from start "
                    f"towards end; lower eta (end) or raise eta (start)")
            eta = core.ExponentialEta(start, float(self.eta_decay.value), end)
        return TRIRLConfig(eps=float(self.eps.value), beta=float(self.beta.value), eta=eta)

    def _eta_mode_changed(self, change) -> None:
        self.eta_decay.disabled = self.eta_end.disabled = change["new"] == "constant"
        self._config_changed()

    def _config_changed(self) -> None:
        try:
            config = self.config
        except InvalidConfigError as error:
            self.config_error = str(error)
            self.step_button.disabled = self.run_button.disabled = True
            self.alpha.value = (f"<div style='white-space: normal; color: #b00'>not applied: {html.escape(str(error))}"
                                f" (Step and Run wait for valid settings)</div>")
            return
        self.config_error = ""
        self.step_button.disabled = self.run_button.disabled = False
        self._applied = config
        self.learner = make_trirl(self.world.mdp, self.rho_expert, config)
        eta = config.eta_schedule(self.state.iteration)
        alpha = config.eps * config.beta / (1 + eta)
        hint = "" if alpha <= 0.1 + 1e-12 else " &mdash; above 0.1 TRIRL may stop improving monotonically"
        self.alpha.value = (f"<div style='white-space: normal'>next step: eta = {eta:.5g}, eps_tr = eps/(1+eta) = "
                            f"{config.eps / (1 + eta):.3g}, alpha = eps&middot;beta/(1+eta) = <b>{alpha:.3g}</b>{hint}</div>")

    # -- the algorithm ---------------------------------------------------------------------------
    @property
    def iteration(self) -> int:
        return self.state.iteration

    @one_blas_thread
    def reset(self) -> None:
        """Start over on the editor's current world: new expert, ``r^(0) = 0``, uniform policy."""
        world = self.world
        self.expert = solve(world.mdp, world.reward)
        self.rho_expert = occupancy(world.mdp, self.expert.policy)
        self.learner = make_trirl(world.mdp, self.rho_expert, self._applied)
        self.state = self.learner.init()
        self.history = [{"iteration": 0, **self.learner.metrics(self.state)}]
        self.checks: dict[str, float] = {}
        self.status.value = ""
        self._panels = None
        self._config_changed()
        fig, axes = plt.subplots(1, 2, figsize=TRUTH_SIZE)
        plot_values(axes[0], world, normalise(state_reward(world.reward, self.expert.policy)), "true reward (normalised)")
        plot_policy(axes[1], world, self.expert.policy, "expert policy (soft-optimal)", legend=True)
        fig.subplots_adjust(left=0.01, right=0.97, top=0.92, bottom=0.1, wspace=0.12)
        self.truth.value = render_png(fig)
        self.refresh()

    @one_blas_thread
    def step(self, render: bool = True) -> dict[str, Any]:
        """One TRIRL iteration (Algorithm 1) with the current sliders; returns its metrics row.

        A step that fails (a diverging reward, a solver that does not converge) leaves the state
        as it was and shows the error in ``status``.
        """
        if self.config_error:
            self.status.value = f"<span style='color:#b00'>not stepped: {html.escape(self.config_error)}</span>"
            return {}
        previous = self.state
        try:
            state, metrics = self.learner.step(previous)
            if not all(np.isfinite(v) for v in metrics.values() if isinstance(v, float)):
                raise FloatingPointError(f"a metric became non-finite: {metrics}")
        except (TrirlError, FloatingPointError, np.linalg.LinAlgError) as error:
            self.status.value = f"<span style='color:#b00'>step failed, state kept: {html.escape(str(error))}</span>"
            return {}
        self.state = state
        row = {"iteration": state.iteration, **metrics}
        self.history.append(row)
        self.checks = self.theorem_check(previous, state, row)
        self.status.value = ""
        before = self.history[-2].get("dual") if len(self.history) > 1 else None
        if before is not None and "dual" in row and dual_increased(before, row["dual"]):
            # the same cause and remedy as the driver's DualIncreaseWarning
            advice = self.learner.dual_advice or "lower the step size."
            self.status.value = (f"<span style='color:#b35900'>the dual G(r) got worse, from {before:.6g} to "
                                 f"{row['dual']:.6g}. {html.escape(advice)}</span>")
        if render:
            self._config_changed()
            self.refresh()
        return row

    @one_blas_thread
    def run(self, n: int) -> list[dict[str, Any]]:
        """``n`` steps, drawn once at the end; stops at the first failed step."""
        rows = []
        for _ in range(int(n)):
            row = self.step(render=False)
            if not row:
                break
            rows.append(row)
        self._config_changed()
        self.refresh()
        return rows

    def theorem_check(self, previous: TRIRLState, state: TRIRLState, row: dict) -> dict[str, float]:
        """Theorem 3.2, recomputed from scratch for the step ``previous -> state``.

        - ``reward_gap``: ``max |r^(i+1) - U_{eps_tr} r^(i)|`` with ``eps_tr = eps / (1 + eta)``
          and ``log(rho_E / rho_pi^(i))`` recomputed here (Algorithm 1, line 8);
        - ``policy_gap``: ``max |log pi^(i+1) - log pi_MCE(r^(i+1))|``, a fresh soft-optimal
          solve of the corrected reward: zero means the trust-region policy *is* the MCE policy
          of the corrected reward;
        - ``correction_gap``: the learner's own metric of the same identity.
        """
        config = self.config
        ratio = log_ratio(safe_log(self.rho_expert), previous.log_rho)
        corrected = core.corrected_reward(previous.reward, ratio, config.eps, config.beta, row["eta"])
        fresh = solve(self.world.mdp, state.reward)
        return {
            "eta": float(row["eta"]),
            "eps_tr": float(row["eps_tr"]),
            "reward_gap": float(np.max(np.abs(state.reward - corrected))),
            "policy_gap": float(np.max(np.abs(state.log_policy - fresh.log_policy))),
            "correction_gap": float(row["correction_gap"]),
        }

    # -- the panels ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw the panels from the current state and history.

        The panels are drawn once per world with :mod:`trirl.tabular.plots`; later refreshes only
        replace their artists' data and re-render, which takes a fraction of a full redraw.
        """
        world, state = self.world, self.state
        policy = np.exp(state.log_policy)
        reward = normalise(state_reward(state.reward, self.expert.policy))
        occupancy_s = np.exp(state.log_rho).sum(axis=1)
        log_occupancy_s = np.log10(np.where(occupancy_s > 0, occupancy_s, np.nan))  # unreachable: blank
        gaps = [{**row, "gap": row["correction_gap"]} for row in self.history if row["iteration"] > 0]
        if self._panels is None:
            self._panels = self._draw_panels(reward, policy, log_occupancy_s, gaps)
        else:
            maps, curves = self._panels
            _set_heatmap(maps.axes[0], world, reward)
            set_policy(maps.axes[1], world, policy)
            _set_heatmap(maps.axes[2], world, log_occupancy_s)
            for ax, rows, key in zip(curves.axes, (self.history, self.history, gaps), ("reverse_kl", "dual", "gap")):
                _set_curve(ax, rows, key)
        maps, curves = self._panels
        maps.axes[0].set_title(f"learned reward r^({state.iteration}) (normalised)")
        maps.axes[1].set_title(f"policy pi^({state.iteration})")
        self.maps.value = render_png(maps, close=False)
        self.curves.value = render_png(curves, close=False)
        self.figure_data = {
            "iteration": state.iteration,
            "reward": reward,
            "policy": policy,
            "occupancy": occupancy_s,
            "reverse_kl": [row["reverse_kl"] for row in self.history],
            "dual": [row["dual"] for row in self.history],
            "curves": {ax.get_title(): np.asarray(ax.lines[0].get_ydata()) for ax in curves.axes},
        }
        last = self.history[-1]
        self.iteration_label.value = (f"<b>iteration {state.iteration}</b> &nbsp; reverse KL = {last['reverse_kl']:.4g}"
                                      f" &nbsp; dual G(r) = {last['dual']:.8g}")
        self.check_panel.value = self._check_html()

    def _draw_panels(self, reward, policy, occupancy_s, gaps):
        world = self.world
        maps, axes = plt.subplots(1, 3, figsize=MAPS_SIZE)
        plot_values(axes[0], world, reward, "learned reward")
        plot_policy(axes[1], world, policy, legend=True)
        plot_values(axes[2], world, occupancy_s, "log10 state occupancy d_pi(s)", cmap="magma")
        maps.subplots_adjust(left=0.01, right=0.95, top=0.92, bottom=0.1, wspace=0.12)
        curves, axes = plt.subplots(1, 3, figsize=CURVES_SIZE)
        histories = {"trirl": self.history}
        plot_curves(axes[0], histories, "reverse_kl", log=True, title="reverse KL(rho_pi || rho_E)", ylabel="nats")
        plot_curves(axes[1], histories, "dual", title="dual G(r) (lower is better)", ylabel="G(r)")
        plot_curves(axes[2], {"correction_gap": gaps}, "gap", title="Theorem 3.2: correction_gap",
                    ylabel="max |log pi - log pi_MCE|")
        axes[0].yaxis.set_major_formatter(LogFormatter())  # plain labels: mathtext tick labels are slow
        # below two decades (the first steps) the minor ticks get labels too, so the axis is never
        # left with a single label
        axes[0].yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
        axes[2].ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
        axes[1].ticklabel_format(axis="y", useOffset=False)
        curves.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.16, wspace=0.25)
        # out of pyplot's registry (a notebook would show them again below the widget); they
        # stay drawable, and refresh() re-renders them itself
        plt.close(maps)
        plt.close(curves)
        return maps, curves

    def static_panels(self) -> list:
        """The current panels as static IPython ``HTML`` and ``Image`` objects: ``display(*stepper.static_panels())``.

        A notebook executed without a live widget frontend (nbconvert, the book, a viewer of the
        saved file) shows a widget only as its text, ``VBox(children=...)``; these images show
        what the panels drew.
        """
        from IPython.display import HTML, Image

        return [HTML(self.iteration_label.value), Image(self.truth.value), Image(self.maps.value), Image(self.curves.value)]

    def _check_html(self) -> str:
        if not self.checks:
            return "<i>Theorem 3.2 check: take a step.</i>"
        c = self.checks
        ok = max(c["reward_gap"], c["policy_gap"]) < 1e-6
        verdict = "holds" if ok else "does NOT hold"
        return (
            f"<b>Theorem 3.2 {verdict}</b> (last step, eta = {c['eta']:.5g}, eps_tr = {c['eps_tr']:.3g})<br>"
            f"max |r<sup>(i+1)</sup> &minus; U<sub>eps_tr</sub> r<sup>(i)</sup>| = {c['reward_gap']:.2e}<br>"
            f"max |log &pi;<sup>(i+1)</sup> &minus; log &pi;<sub>MCE</sub>(r<sup>(i+1)</sup>)| = {c['policy_gap']:.2e}"
            f" (fresh solve)<br>correction_gap metric = {c['correction_gap']:.2e}"
        )


# ---------------------------------------------------------------------------------------------
# soft value iteration


class SoftVIExplorer:
    """Soft-optimal values ``V``, policy arrows and per-state entropy for a temperature and discount.

    ``solve(mdp, reward, temperature)``: a high temperature spreads the policy (entropy near
    ``log A``), a low one makes it nearly greedy; a lower ``gamma`` shortens the horizon.
    """

    def __init__(self, world: GridWorld | None = None):
        self.base = gridworld.load() if world is None else world
        self.temperature = W.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.1, description="temperature")
        self.discount = W.FloatSlider(value=self.base.spec.discount, min=0.5, max=0.99, step=0.01, description="gamma")
        self.image = _image(EXPLORER_SIZE)
        self.summary = W.HTML()
        for control in (self.temperature, self.discount):
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox([self.temperature, self.discount]), self.summary, self.image])
        self.refresh()

    def static_panels(self) -> list:
        """The summary and panels as static IPython objects (see :meth:`TRIRLStepper.static_panels`)."""
        from IPython.display import HTML, Image

        return [HTML(self.summary.value), Image(self.image.value)]

    @property
    def world(self) -> GridWorld:
        return from_cells(self.base.cells, replace(self.base.spec, discount=self.discount.value), name=self.base.name)

    @one_blas_thread
    def refresh(self) -> None:
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


__all__ = ["GridEditor", "SoftVIExplorer", "TRIRLStepper", "entropy", "render_png"]
