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
    rows = [stepper.step() for _ in range(4)]
    assert {} in rows and "step failed, state kept" in stepper.status.value
    assert stepper.iteration == len(stepper.history) - 1 < 4
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
