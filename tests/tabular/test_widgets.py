"""The notebook widgets, driven headless: sliders set, buttons clicked, state and panels checked."""

import time

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from trirl.tabular import gridworld, open_grid, solve  # noqa: E402
from trirl.tabular.widgets import GridEditor, SoftVIExplorer, TRIRLStepper  # noqa: E402

SMALL = ["S...", ".#..", "...G"]


@pytest.fixture
def stepper():
    return TRIRLStepper(gridworld.from_cells(SMALL, gridworld.GridSpec()))


def test_step_button_advances_the_state_and_redraws(stepper):
    maps, curves = stepper.maps.value, stepper.curves.value
    reward = stepper.state.reward.copy()
    assert stepper.iteration == 0 and len(stepper.history) == 1
    stepper.step_button.click()
    assert stepper.iteration == 1 and [row["iteration"] for row in stepper.history] == [0, 1]
    assert not np.array_equal(stepper.state.reward, reward)
    assert stepper.maps.value != maps and stepper.curves.value != curves
    assert stepper.figure_data["iteration"] == 1 and len(stepper.figure_data["reverse_kl"]) == 2
    assert "iteration 1" in stepper.iteration_label.value


def test_run_improves_reverse_kl_and_dual_and_checks_theorem_3_2(stepper):
    stepper.run_steps.value = 15
    stepper.run_button.click()
    assert stepper.iteration == 15
    kl = [row["reverse_kl"] for row in stepper.history]
    dual = [row["dual"] for row in stepper.history]
    assert kl[-1] < 0.5 * kl[0]
    assert np.all(np.diff(dual) <= 1e-9 * np.abs(dual[1:]))
    # the trust-region policy is the MCE policy of the corrected reward, recomputed from scratch
    assert stepper.checks["policy_gap"] < 1e-6 and stepper.checks["reward_gap"] < 1e-9
    np.testing.assert_allclose(solve(stepper.world.mdp, stepper.state.reward).log_policy, stepper.state.log_policy,
                               atol=1e-6)
    assert "holds" in stepper.check_panel.value


def test_sliders_change_the_config_and_the_next_step(stepper):
    stepper.eps.value = 1.0
    stepper.beta.value = 10.0
    stepper.eta.value = 99.0
    assert stepper.config.eps == 1.0 and stepper.config.beta == pytest.approx(10.0)
    assert "alpha" in stepper.alpha.value and "0.1" in stepper.alpha.value
    row = stepper.step()  # the default, safeguarded step: eps_tr from the eps it accepted
    assert row["eta"] == pytest.approx(99.0) and row["eps_tr"] == pytest.approx(row["eps"] / 100.0)
    assert row["eps"] in (1.0, 0.5, 0.25, 0.125) and stepper.config.safeguard
    stepper.safeguard.value = False  # the paper's fixed step takes eps as set
    assert not stepper.config.safeguard
    row = stepper.step()
    assert row["eps_tr"] == pytest.approx(1.0 / 100.0)
    stepper.eta_mode.value = "decay"
    stepper.eta_decay.value = 0.5
    stepper.eta_end.value = 10.0
    assert not stepper.eta_decay.disabled
    row = stepper.step()  # iteration 2 of ExponentialEta(99, 0.5, 10): 10 + 89 * 0.5^2
    assert row["eta"] == pytest.approx(10 + 89 * 0.5**2, rel=1e-6)


def test_reset_button_starts_over(stepper):
    stepper.run(3)
    stepper.reset_button.click()
    assert stepper.iteration == 0 and len(stepper.history) == 1
    assert np.all(stepper.state.reward == 0)


def test_a_diverging_fixed_step_stops_before_overflow_and_offers_the_safeguard():
    """The paper's fixed step with eps 1 and eta 100 (alpha ~ 99) on icy_goal: the reward grows
    ~100x per step. The stepper stops it long before overflow, names the cause, offers the
    safeguard toggle, and the safeguarded step goes on from the kept state with a monotone dual."""
    from trirl.tabular.widgets.stepper import FLOAT_LOG_RANGE

    from trirl.tabular import TRIRLConfig

    stepper = TRIRLStepper(gridworld.load("icy_goal"))
    assert stepper.config.safeguard == TRIRLConfig().safeguard  # the app starts at the library's default step
    stepper.safeguard.value = False
    stepper.eps.value, stepper.eta.value = 1.0, 100.0
    assert "may stop improving monotonically or diverge" in stepper.alpha.value
    stepper.step()
    assert "the dual G(r) got worse" in stepper.status.value and "safeguarded" in stepper.status.value
    rows = stepper.run(50)
    assert len(rows) < 10 and stepper.iteration == len(stepper.history) - 1
    status = stepper.status.value
    assert "stopped: this step diverges" in status and f"state kept at iteration {stepper.iteration}" in status
    assert "alpha = eps&middot;beta/(1+eta) = 99" in status and "set <b>step</b> to <b>safeguarded</b>" in status
    bound = stepper.config.beta * FLOAT_LOG_RANGE
    assert np.max(np.abs(stepper.state.reward)) <= bound < 1e300
    assert all(np.isfinite(row["dual"]) for row in stepper.history)
    assert "NOT" not in stepper.check_panel.value and "Theorem 3.2 holds" in stepper.check_panel.value
    assert stepper.step() == {} and "stopped" in stepper.status.value  # the same settings: stopped again

    stepper.safeguard.value = True  # the remedy offered, from the kept state
    kept = stepper.history[-1]["dual"]
    rows = stepper.run(5)
    assert len(rows) == 5 and "stopped" not in stepper.status.value
    dual = [kept] + [row["dual"] for row in rows]
    assert np.all(np.diff(dual) <= 1e-9 * np.abs(dual[1:]))
    assert all(row["backtracks"] > 0 for row in rows)


def test_the_theorem_panel_tells_round_off_from_a_violation():
    """At |r| ~ 1e40 (a fixed step driven past the stepper's stop by hand) the gap is ~1e26:
    round-off of the magnitudes, reported as such. A real violation (a reward moved by 1e-3) at
    ordinary magnitudes is reported as one."""
    stepper = TRIRLStepper(gridworld.load("icy_goal"))
    stepper.safeguard.value = False
    stepper.eps.value, stepper.eta.value = 1.0, 100.0
    state = stepper.state
    for _ in range(18):
        previous = state
        state, metrics = stepper.learner.step(previous)
    stepper.checks = stepper.theorem_check(previous, state, {"iteration": state.iteration, **metrics})
    assert stepper.checks["magnitude"] > 1e38 and stepper.checks["policy_gap"] > 1e20
    assert stepper.checks["policy_gap"] <= stepper.checks["round_off"]
    panel = stepper._check_html()
    assert "Theorem 3.2 holds up to round-off" in panel and "NOT" not in panel

    stepper.safeguard.value = True
    stepper.eps.value, stepper.eta.value = 0.5, 5e4
    stepper.reset()
    row = stepper.step()
    previous = stepper.learner.init()  # the state before the first step
    stepper.checks = stepper.theorem_check(previous, stepper.state._replace(reward=stepper.state.reward + 1e-3), row)
    assert stepper.checks["reward_gap"] == pytest.approx(1e-3) and stepper.checks["round_off"] < 1e-8
    assert "Theorem 3.2 does NOT hold" in stepper._check_html()


def test_grid_editor_toggles_change_the_world():
    editor = GridEditor(gridworld.from_cells(SMALL, gridworld.GridSpec()))
    seen = []
    editor.on_change(seen.append)
    n = editor.world.mdp.n_states
    editor.brush.value = "wall"
    editor.buttons[0][2].click()
    assert editor.world.mdp.n_states == n - 1 and editor.cells[0][2] == "#" and len(seen) == 1
    editor.buttons[0][2].click()  # the same brush again: back to floor
    assert editor.world.mdp.n_states == n and editor.cells[0][2] == "."
    editor.brush.value = "lava"
    editor.buttons[2][0].click()
    assert editor.world.cell_type[editor.world.state_index[2, 0]] == "lava"
    assert editor.world.mdp.absorbing[editor.world.state_index[2, 0]]
    editor.wind.value = 0.3
    editor.discount.value = 0.9
    assert editor.world.spec.wind.probability == pytest.approx(0.3) and editor.world.mdp.discount == pytest.approx(0.9)
    editor.ice_slip.value = 0.5
    assert editor.world.spec.slip["ice"] == pytest.approx(0.5)


def test_grid_editor_rejects_a_map_without_start_and_keeps_the_last_world():
    editor = GridEditor(gridworld.from_cells(SMALL, gridworld.GridSpec()))
    world = editor.world
    editor.brush.value = "start"
    editor.buttons[0][0].click()  # removes the only start cell
    assert editor.world is world and "not applied" in editor.message.value


def test_grid_editor_labels_follow_the_cells():
    """Every button shows its cell's letter (S, G, L) or a blank; a blank is a no-break space, since
    the browser keeps a button's old text when its description becomes empty (tests/tabular/test_browser.py
    checks the page itself)."""
    from trirl.tabular.widgets.editor import BLANK_LABEL

    editor = GridEditor(gridworld.load("icy_goal"))

    def labels():
        return [[b.description for b in row] for row in editor.buttons]

    def expected():
        return [[c if c in "SGL" else BLANK_LABEL for c in row] for row in editor.cells]

    assert labels() == expected() and editor.buttons[2][3].description == "L"
    editor.brush.value = "floor"
    editor.buttons[2][3].click()  # floor over lava
    assert editor.cells[2][3] == "." and editor.buttons[2][3].description == BLANK_LABEL
    editor.brush.value = "start"
    editor.buttons[0][0].click()  # a second start, then the first one erased
    editor.buttons[4][0].click()
    assert editor.cells[4][0] == "." and editor.buttons[4][0].description == BLANK_LABEL
    assert editor.buttons[0][0].description == "S" and labels() == expected()
    assert editor.world.mdp.initial[editor.world.state_index[0, 0]] == 1.0


def test_editing_the_world_resets_the_stepper(stepper):
    stepper.run(2)
    stepper.editor.brush.value = "wall"
    stepper.editor.buttons[0][3].click()
    assert stepper.iteration == 0 and stepper.world.mdp.n_states == stepper.state.reward.shape[0]
    stepper.step()
    assert stepper.iteration == 1


def test_soft_vi_explorer_reacts_to_temperature_and_discount():
    explorer = SoftVIExplorer(gridworld.from_cells(SMALL, gridworld.GridSpec()))
    image, h = explorer.image.value, explorer.entropy.copy()
    explorer.temperature.value = 10.0
    assert explorer.image.value != image
    assert explorer.entropy.mean() > h.mean()  # hotter: closer to uniform
    explorer.discount.value = 0.6
    assert explorer.world.mdp.discount == pytest.approx(0.6)


def test_a_step_on_a_10x10_world_responds_quickly():
    """Compute plus redraw, in this thread's CPU time (other jobs on a shared CI machine and BLAS
    helper threads do not count): about 0.17 s on an idle 2-core machine."""
    stepper = TRIRLStepper(open_grid(10, 10))
    stepper.step()
    tick = time.thread_time()
    stepper.step_button.click()
    assert time.thread_time() - tick < 1.0


def test_decay_mode_refuses_an_end_above_the_start(stepper):
    """eta (end) > eta (start) would raise eta in 'decay' mode: refused, named, Step disabled."""
    from trirl import core
    from trirl.errors import InvalidConfigError

    stepper.eta.value = 99.0
    stepper.eta_mode.value = "decay"
    stepper.eta_end.value = 1000.0
    with pytest.raises(InvalidConfigError, match=r"eta \(end\) = 1000 is above eta \(start\) = 99"):
        stepper.config
    assert "not applied" in stepper.alpha.value and "eta (end)" in stepper.alpha.value
    assert stepper.step_button.disabled and stepper.run_button.disabled
    assert stepper.step() == {} and stepper.iteration == 0 and "not stepped" in stepper.status.value
    stepper.eta_end.value = 10.0
    assert not stepper.step_button.disabled
    etas = [row["eta"] for row in stepper.run(3)]
    assert etas == sorted(etas, reverse=True) and etas[-1] >= 10.0
    with pytest.raises(InvalidConfigError, match=r"eta end \(2\) is above eta start \(1\)"):
        core.ExponentialEta(1.0, 0.5, 2.0)
    with pytest.raises(InvalidConfigError, match="eta end"):
        core.parse_eta_schedule("exp:1:0.5:2")


def test_curve_panels_have_more_than_one_tick_label_from_the_first_steps(stepper):
    stepper.run(2)
    _, curves = stepper._panels
    curves.canvas.draw()
    for ax in curves.axes:
        low, high = sorted(ax.get_ylim())
        ticks = [(t, label.get_text()) for t, label in zip(ax.get_yticks(), ax.get_yticklabels())]
        ticks += [(t, label.get_text()) for t, label in zip(ax.get_yticks(minor=True), ax.get_yticklabels(minor=True))]
        shown = {text for t, text in ticks if text and low <= t <= high}
        assert len(shown) >= 2, (ax.get_title(), shown)
        assert all(float(t).is_integer() for t in ax.get_xticks()), ax.get_title()


def test_stepper_controls_have_a_fixed_width_and_the_editor_is_never_squeezed(stepper):
    """A long alpha warning wraps inside the controls column instead of clipping the map."""
    stepper.eps.value, stepper.beta.value, stepper.eta.value = 1.0, 1e4, 99.0  # alpha ~ 100
    stepper.safeguard.value = True
    assert "the safeguard halves eps whenever the dual would get worse" in stepper.alpha.value
    stepper.safeguard.value = False
    assert "may stop improving monotonically" in stepper.alpha.value
    assert "white-space: normal" in stepper.alpha.value
    editor, controls = stepper.widget.children[0].children
    assert controls.layout.width == stepper.alpha.layout.width and controls.layout.flex == "0 0 auto"
    assert editor.layout.flex == "0 0 auto"


def test_a_displayed_widget_is_one_output_with_its_panels_as_the_fallback(stepper):
    """A front end with a kernel renders the widget view; one without renders the HTML: the panels
    as they are now, once (never a static copy beside the live one)."""
    import base64

    stepper.run(2)
    bundle = stepper._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == stepper.widget.model_id
    fallback = bundle["text/html"]
    assert "iteration 2" in fallback and "Theorem 3.2 holds" in fallback
    for image in (stepper.truth, stepper.maps, stepper.curves):
        assert fallback.count(base64.b64encode(image.value).decode()) == 1
    explorer = SoftVIExplorer(gridworld.from_cells(SMALL, gridworld.GridSpec()))
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64encode(explorer.image.value).decode() in bundle["text/html"]
    assert "temperature" in bundle["text/html"]


def test_warnings_show_as_short_notes_without_paths(capsys):
    """What happened (asides dropped, notation kept) and what to do; never the file and line."""
    import warnings

    from trirl.errors import DualIncreaseWarning
    from trirl.tabular.widgets.notes import note_html, short_note, warnings_as_notes

    message = ("trirl: the dual G(r) got worse at iteration 3, from 20.8 to 21.5 (later increases are not reported; "
               "count them with np.diff(result.metric('dual')) > 0). Cause: the step is too large (book/findings.md). "
               "Remedy: safeguard=True, or a smaller step.")
    assert short_note(message) == ("trirl: the dual G(r) got worse at iteration 3, from 20.8 to 21.5.",
                                   "the step is too large (book/findings.md).", "safeguard=True, or a smaller step.")
    assert "Cause" not in note_html(DualIncreaseWarning, message) and "What to do:" in note_html(DualIncreaseWarning, message)
    with warnings.catch_warnings():  # restores Python's display afterwards
        warnings.simplefilter("always")
        warnings_as_notes()
        warnings.warn(message, DualIncreaseWarning)
    err = capsys.readouterr().err
    assert err.startswith("Note (DualIncreaseWarning): trirl: the dual G(r) got worse at iteration 3")
    assert "What to do: safeguard=True" in err and ".py" not in err and "Cause" not in err
