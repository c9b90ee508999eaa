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
    row = stepper.step()
    assert row["eta"] == pytest.approx(99.0) and row["eps_tr"] == pytest.approx(1.0 / 100.0)
    stepper.eta_mode.value = "decay"
    stepper.eta_decay.value = 0.5
    stepper.eta_end.value = 10.0
    assert not stepper.eta_decay.disabled
    row = stepper.step()  # iteration 1 of ExponentialEta(99, 0.5, 10): 10 + 89 * 0.5
    assert row["eta"] == pytest.approx(10 + 89 * 0.5, rel=1e-6)


def test_reset_button_starts_over(stepper):
    stepper.run(3)
    stepper.reset_button.click()
    assert stepper.iteration == 0 and len(stepper.history) == 1
    assert np.all(stepper.state.reward == 0)


def test_a_diverging_step_keeps_the_state_and_says_why():
    stepper = TRIRLStepper(open_grid(3, 3))
    stepper.eps.value, stepper.beta.value, stepper.eta.value = 1.0, 1e5, 0.1  # alpha ~ 1e5
    stepper.step()
    stepper.step()
    assert "the dual G(r) got worse" in stepper.status.value and "safeguard" in stepper.status.value
    # the reward grows by ~alpha per step until the solvers cannot represent it: that step fails
    rows = [stepper.step() for _ in range(80)]
    assert {} in rows and "step failed, state kept" in stepper.status.value
    assert stepper.iteration == len(stepper.history) - 1 < 82
    assert all(np.isfinite(row["dual"]) for row in stepper.history)
    stepper.eps.value, stepper.beta.value, stepper.eta.value = 0.5, 1e4, 5e4  # back to alpha = 0.1
    stepper.reset_button.click()
    assert stepper.step() and stepper.status.value == ""


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
    assert "may stop improving monotonically" in stepper.alpha.value
    assert "white-space: normal" in stepper.alpha.value
    editor, controls = stepper.widget.children[0].children
    assert controls.layout.width == stepper.alpha.layout.width and controls.layout.flex == "0 0 auto"
    assert editor.layout.flex == "0 0 auto"
