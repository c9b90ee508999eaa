"""TRIRL one step at a time on an editable grid world, with live panels and the Theorem 3.2 check.

The stepper runs the library's learner (:func:`trirl.tabular.algorithms.trirl.make_trirl`,
Algorithm 1) and redraws its panels (:mod:`~trirl.tabular.widgets.panels`); it computes nothing
itself but the from-scratch recomputation of Theorem 3.2 that it shows next to the learner's
own ``correction_gap``.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogFormatter

from trirl import core
from trirl.errors import InvalidConfigError, TrirlError
from trirl.tabular.algorithms.trirl import TRIRLConfig, TRIRLState, make_trirl
from trirl.tabular.driver import dual_increased
from trirl.tabular.gridworld import GridWorld
from trirl.tabular.objectives import log_ratio, safe_log
from trirl.tabular.occupancies import occupancy
from trirl.tabular.plots import normalise, plot_curves, plot_policy, plot_values, set_policy, state_reward
from trirl.tabular.soft import solve
from trirl.tabular.threads import blas_threads
from trirl.tabular.widgets.editor import GridEditor
from trirl.tabular.widgets.panels import (CURVES_SIZE, MAPS_SIZE, TRUTH_SIZE, image_widget, live_bundle, render_png,
                                         set_curve, set_heatmap)

#: the library's defaults (one source, TRIRLConfig): the recommended eps, beta, eta
#: (alpha = eps * beta / (1 + eta) = 0.1) and its default step, which the step toggle starts at
DEFAULT_CONFIG = TRIRLConfig()
#: ``ln(largest float64 / smallest normal float64)``, about 1418: no two positive float64 numbers are
#: further apart in log space. A saddle-point reward ``r* = beta log(rho_E / rho_pi*) + c`` spans at
#: most ``beta`` times this; a step past ``beta * FLOAT_LOG_RANGE`` is diverging (:meth:`TRIRLStepper.step`).
FLOAT_LOG_RANGE = float(np.log(np.finfo(float).max) - np.log(np.finfo(float).tiny))
#: the Theorem 3.2 check allows this many float64 ulps of the largest magnitude it computes with
ROUNDOFF_ULPS = 1e4  # measured: a diverging fixed step reaches ~300 ulps at |r| up to 1e76
GAP_TOLERANCE = 1e-6  # the soft solvers' own precision: below it the identity holds to solver accuracy
CONTROLS_WIDTH = "580px"  # fixed, so a long message wraps instead of squeezing the map editor
LOG_STEP = 0.05  # the eta and beta sliders move in steps of 10**0.05 (12%)


def _on_log_grid(value: float) -> float:
    """The nearest value a log slider can show (the browser would snap it there anyway)."""
    return float(10 ** (round(np.log10(value) / LOG_STEP) * LOG_STEP))


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
        self.safeguard = W.ToggleButtons(options=[("safeguarded", True), ("fixed (paper)", False)],
                                         value=bool(config.safeguard), description="step",
                                         tooltips=["halve eps until the exact dual does not increase",
                                                   "the paper's fixed step: the dual may get worse or diverge"],
                                         style={"button_width": "110px"})
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
        self.truth = image_widget(TRUTH_SIZE)
        self.maps = image_widget(MAPS_SIZE)
        self.curves = image_widget(CURVES_SIZE)
        self.check_panel = W.HTML()
        self.step_button.on_click(lambda _: self.step())
        self.run_button.on_click(lambda _: self.run(self.run_steps.value))
        self.reset_button.on_click(lambda _: self.reset())
        self.eta_mode.observe(self._eta_mode_changed, names="value")
        for control in (self.beta, self.eps, self.safeguard, self.eta, self.eta_decay, self.eta_end):
            control.observe(lambda change: self._config_changed(), names="value")
        self.editor.on_change(lambda world: self.reset())
        controls = W.VBox([self.beta, self.eps, self.safeguard, self.eta_mode, self.eta, self.eta_decay, self.eta_end,
                           self.alpha,
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
        """The editor's current world."""
        return self.editor.world

    @property
    def config(self) -> TRIRLConfig:
        """The controls as a :class:`TRIRLConfig` (``eta`` a constant or ``core.ExponentialEta``)."""
        if self.eta_mode.value == "constant":
            eta = float(self.eta.value)
        else:
            start, end = float(self.eta.value), float(self.eta_end.value)
            if end > start:
                raise InvalidConfigError(
                    f"eta (end) = {end:.4g} is above eta (start) = {start:.4g}: decay mode lowers eta from start "
                    f"towards end; lower eta (end) or raise eta (start)")
            eta = core.ExponentialEta(start, float(self.eta_decay.value), end)
        return TRIRLConfig(eps=float(self.eps.value), beta=float(self.beta.value), eta=eta,
                           safeguard=bool(self.safeguard.value))

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
        if alpha <= 0.1 + 1e-12:
            hint = ""
        elif config.safeguard:
            hint = " &mdash; above 0.1: the safeguard halves eps whenever the dual would get worse"
        else:
            hint = (" &mdash; above 0.1 the fixed step may stop improving monotonically or diverge "
                    "(the safeguarded step keeps the dual monotone)")
        self.alpha.value = (f"<div style='white-space: normal'>next step: eta = {eta:.5g}, eps_tr = eps/(1+eta) = "
                            f"{config.eps / (1 + eta):.3g}, alpha = eps&middot;beta/(1+eta) = <b>{alpha:.3g}</b>{hint}</div>")

    # -- the algorithm ---------------------------------------------------------------------------
    @property
    def iteration(self) -> int:
        """The iteration ``i`` of the current pair ``(r^(i), pi^(i))``."""
        return self.state.iteration

    def reset(self) -> None:
        """Start over on the editor's current world: new expert, ``r^(0) = 0``, uniform policy."""
        with blas_threads(self.world.mdp.n_states):  # one BLAS thread for small worlds
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

    def step(self, render: bool = True) -> dict[str, Any]:
        """One TRIRL iteration (Algorithm 1) with the current controls; returns its metrics row.

        A step that fails (a solver that does not converge) or diverges leaves the state as it was,
        returns ``{}`` and says why in ``status``. A step diverges when its reward reaches
        ``max |r| > beta * FLOAT_LOG_RANGE`` (about 1418 beta): a saddle-point reward
        ``r* = beta log(rho_E / rho_pi*) + c`` never needs occupancy ratios beyond float64's range,
        so such a reward only grows until the arithmetic breaks (round-off first, overflow later).
        """
        with blas_threads(self.world.mdp.n_states):  # one BLAS thread for small worlds
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
            size, bound = float(np.max(np.abs(state.reward))), self._applied.beta * FLOAT_LOG_RANGE
            if size > bound:
                self.status.value = (
                    f"<span style='color:#b00'><b>stopped: this step diverges</b>, state kept at iteration "
                    f"{previous.iteration}. It would take the reward to max |r| = {size:.3g}, beyond beta &times; "
                    f"{FLOAT_LOG_RANGE:.0f} = {bound:.3g}, larger than any saddle point r* = beta log(rho_E / rho_pi*) + c "
                    f"can be in float64: the reward only grows from here until the arithmetic breaks. "
                    f"{self._remedy()}</span>")
                return {}
            self.state = state
            row = {"iteration": state.iteration, **metrics}
            self.history.append(row)
            self.checks = self.theorem_check(previous, state, row)
            self.status.value = ""
            before = self.history[-2].get("dual") if len(self.history) > 1 else None
            if before is not None and "dual" in row and dual_increased(before, row["dual"]):
                self.status.value = (f"<span style='color:#b35900'>the dual G(r) got worse, from {before:.6g} to "
                                     f"{row['dual']:.6g}. {self._remedy()}</span>")
            elif row.get("backtracks") and row.get("eps") == 0.0:
                self.status.value = (f"the safeguard rejected this step: {row['backtracks']} halvings of eps all made "
                                     f"the dual worse, so r and pi are unchanged (lower alpha or change the world)")
            elif row.get("backtracks"):
                self.status.value = (f"the safeguard halved eps {row['backtracks']} time(s) (eps = {row['eps']:.3g}): "
                                     f"the full step would have made the dual worse")
            if render:
                self._config_changed()
                self.refresh()
            return row

    def _remedy(self) -> str:
        """Why the dual can get worse under the applied settings, and what to change in the app."""
        config = self._applied
        if config.safeguard:  # the same cause as the driver's DualIncreaseWarning for the safeguard
            return html.escape(self.learner.dual_advice)
        eta = config.eta_schedule(self.state.iteration)
        alpha = config.eps * config.beta / (1 + eta)
        return (f"Cause: the paper's fixed step with alpha = eps&middot;beta/(1+eta) = {alpha:.3g} is too large for "
                f"this world. Remedy: set <b>step</b> to <b>safeguarded</b> (it halves eps until the exact dual "
                f"does not increase), or lower alpha (smaller eps, larger eta; 0.1 is monotone on the shipped "
                f"worlds, not on every world), then Step again.")

    def run(self, n: int) -> list[dict[str, Any]]:
        """``n`` steps, drawn once at the end; stops at the first failed step."""
        with blas_threads(self.world.mdp.n_states):  # one BLAS thread for small worlds
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
          (``eps`` the step the safeguard accepted, if it halved it) and ``log(rho_E / rho_pi^(i))``
          recomputed here (Algorithm 1, line 8);
        - ``policy_gap``: ``max |log pi^(i+1) - log pi_MCE(r^(i+1))|``, a fresh soft-optimal
          solve of the corrected reward: zero means the trust-region policy *is* the MCE policy
          of the corrected reward;
        - ``correction_gap``: the learner's own metric of the same identity;
        - ``magnitude``: the largest ``|r|``, ``|V|`` or ``|log pi|`` the check computes with, and
          ``round_off = ROUNDOFF_ULPS * eps_float64 * magnitude``: float64 cannot resolve the
          gaps more finely, so a gap below ``max(GAP_TOLERANCE, round_off)`` is arithmetic, not a
          violation of the theorem.
        """
        config = self.config
        eps = float(row.get("eps", config.eps))  # the safeguard reports the eps it accepted
        ratio = log_ratio(safe_log(self.rho_expert), previous.log_rho)
        corrected = core.corrected_reward(previous.reward, ratio, eps, config.beta, row["eta"])
        fresh = solve(self.world.mdp, state.reward)
        finite = np.isfinite(fresh.log_policy)  # log 0 = -inf for an action a policy never takes
        magnitude = max(np.max(np.abs(state.reward)), np.max(np.abs(corrected)), np.max(np.abs(fresh.v)),
                        np.max(np.abs(fresh.log_policy[finite]), initial=0.0))
        return {
            "eta": float(row["eta"]),
            "eps_tr": float(row["eps_tr"]),
            "reward_gap": float(np.max(np.abs(state.reward - corrected))),
            "policy_gap": float(np.max(np.abs(state.log_policy - fresh.log_policy))),
            "correction_gap": float(row["correction_gap"]),
            "magnitude": float(magnitude),
            "round_off": float(ROUNDOFF_ULPS * np.finfo(float).eps * magnitude),
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
            set_heatmap(maps.axes[0], world, reward)
            set_policy(maps.axes[1], world, policy)
            set_heatmap(maps.axes[2], world, log_occupancy_s)
            for ax, rows, key in zip(curves.axes, (self.history, self.history, gaps), ("reverse_kl", "dual", "gap")):
                set_curve(ax, rows, key)
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

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """Display the stepper as its live widget, with what the panels show now as the static
        fallback of the same output (:func:`~trirl.tabular.widgets.panels.live_bundle`)."""
        label = f"{self.iteration_label.value}<br>{self.check_panel.value}"
        return live_bundle(self.widget, label, [self.truth.value, self.maps.value, self.curves.value], **kwargs)

    def _check_html(self) -> str:
        if not self.checks:
            return "<i>Theorem 3.2 check: take a step.</i>"
        c = self.checks
        gap = max(c["reward_gap"], c["policy_gap"])
        if gap < GAP_TOLERANCE:
            verdict = "<b>Theorem 3.2 holds</b>"
        elif gap <= c["round_off"]:
            verdict = (f"<b>Theorem 3.2 holds up to round-off</b>: the gap {gap:.2e} is below what float64 resolves "
                       f"at the magnitudes involved ({c['magnitude']:.2e} &times; {ROUNDOFF_ULPS:g} ulps = "
                       f"{c['round_off']:.2e})")
        else:
            verdict = (f"<b>Theorem 3.2 does NOT hold</b>: the gap {gap:.2e} exceeds both the solver precision "
                       f"{GAP_TOLERANCE:g} and the round-off {c['round_off']:.2e} of the magnitudes involved")
        return (
            f"{verdict} (last step, eta = {c['eta']:.5g}, eps_tr = {c['eps_tr']:.3g})<br>"
            f"max |r<sup>(i+1)</sup> &minus; U<sub>eps_tr</sub> r<sup>(i)</sup>| = {c['reward_gap']:.2e}<br>"
            f"max |log &pi;<sup>(i+1)</sup> &minus; log &pi;<sub>MCE</sub>(r<sup>(i+1)</sup>)| = {c['policy_gap']:.2e}"
            f" (fresh solve)<br>correction_gap metric = {c['correction_gap']:.2e}"
        )
