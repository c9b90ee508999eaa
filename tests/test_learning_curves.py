"""learning_curves.png of a run directory: the panels, labels and series the metrics hold."""

import numpy as np

from trirl.learning_curves import CURVES_FILE, plot_learning_curves, write_learning_curves
from trirl.rundir import RunDir


def _rows():
    rows = []
    for i in range(1, 7):
        row = {"iteration": i, "env_steps": 64 * i, "episode_return": float(i), "eta": 10.0 / i,
               "policy_kl": 0.01 * i, "expert_accuracy": 0.5 + 0.05 * i, "agent_accuracy": 0.5 - 0.02 * i}
        if i % 2 == 0:
            row["eval_return"] = float(i) + 0.5
        rows.append(row)
    return rows


def test_panels_show_the_logged_series_with_labels():
    fig = plot_learning_curves(_rows(), "trirl on point_maze")
    panels = {ax.get_title(): ax for ax in fig.axes}
    assert list(panels) == ["return (mean over seeds)", "discriminator accuracy", "trust-region multiplier",
                            "policy change per iteration"]  # no normalised return was logged
    ret = panels["return (mean over seeds)"]
    assert ret.get_xlabel() == "environment steps" and ret.get_ylabel() == "episode return"
    lines = {line.get_label(): line for line in ret.get_lines()}
    assert set(lines) == {"training", "evaluation"}
    np.testing.assert_array_equal(lines["evaluation"].get_xdata(), [128, 256, 384])
    np.testing.assert_array_equal(lines["evaluation"].get_ydata(), [2.5, 4.5, 6.5])
    assert {line.get_label() for line in panels["discriminator accuracy"].get_lines()} == {"on expert samples", "on agent samples"}
    assert panels["trust-region multiplier"].get_ylabel() == "eta"
    assert panels["trust-region multiplier"].get_yscale() == "log"
    assert fig._suptitle.get_text() == "trirl on point_maze"


def test_written_next_to_metrics_and_none_for_an_empty_run(tmp_path):
    run = RunDir(tmp_path / "run", {"seed": 0})
    assert write_learning_curves(run.path) is None and not (run.path / CURVES_FILE).exists()
    for row in _rows():
        run.log(row)
    path = write_learning_curves(run.path)
    assert path == run.path / CURVES_FILE
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(run.path.glob(".*.tmp"))
