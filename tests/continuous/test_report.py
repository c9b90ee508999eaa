"""The runs report (``trirl bench report``): what the JSON holds and the figure shows."""

import json

import numpy as np
import pytest

pytest.importorskip("jax")

from trirl.bench import report  # noqa: E402

pytestmark = pytest.mark.continuous


def _run(path, algo, evals, finished=False, retrain=None):
    """A run folder as ``trirl train`` leaves it: config.json, metrics.jsonl (an evaluation every
    2nd of 6 iterations), summary.json when it finished, retrain.json when it was retrained."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"algo": algo, "env": "ant", "discriminator": {"features": "ant:paper"}}))
    rows = []
    for it in range(1, 7):
        row = {"iteration": it, "env_steps": 4096 * it, "expert_accuracy": 0.5 + 0.01 * it, "episodes": 3.0,
               "eta": 2.0 * it, "projection_eta": 1.5 * it, "step_fraction": 0.5}
        if it % 2 == 0:
            row.update(eval_return=100.0 * it, eval_normalised_return=evals[it // 2 - 1])
        rows.append(row)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if finished:
        (path / "summary.json").write_text("{}")
    if retrain is not None:
        (path / "retrain.json").write_text(json.dumps(retrain))


def test_report_collects_every_run_and_draws_its_curve(tmp_path, capsys):
    runs = tmp_path / "runs"
    _run(runs / "trirl", "trirl", [0.2, 0.7, 0.5], finished=True,
         retrain={"env": "ant", "normalised_return": 0.6, "control_normalised_return": 0.8, "unrelated": 1})
    _run(runs / "gail", "gail", [0.3, 0.1, 0.05])
    (runs / "trirl" / "retrain_probe.json").write_text(json.dumps({"absorbing_reward_probe": "demonstrations-min"}))
    (runs / "trirl" / "summary.json").write_text("{}")  # not an evaluation
    (runs / "notes").mkdir()  # not a run: skipped
    (runs / "gail" / "checkpoints").mkdir()
    (runs / "gail" / "checkpoints" / "best_step_00000004.npz").write_bytes(b"")  # as trirl expert train keeps it
    out, figure = tmp_path / "res" / "ant.json", tmp_path / "res" / "curves.png"
    assert report.main(["--runs", str(runs), "--out", str(out), "--figure", str(figure), "--every", "3",
                        "--line", "standing still=0.43", "--note", "test runs"]) == 0
    assert "wrote" in capsys.readouterr().out and figure.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(out.read_text())
    assert data["what"] == "test runs" and data["command"].startswith("trirl bench report --runs")
    assert set(data["runs"]) == {"trirl", "gail"}
    trirl, gail = data["runs"]["trirl"], data["runs"]["gail"]
    assert trirl["finished"] and not gail["finished"] and trirl["features"] == "ant:paper"
    assert trirl["iterations"] == 6 and trirl["env_steps"] == 6 * 4096
    assert [e["eval_normalised_return"] for e in trirl["eval_curve"]] == [0.2, 0.7, 0.5]
    assert trirl["final_eval"]["iteration"] == 6 and trirl["best_eval"]["iteration"] == 4  # best: 0.7
    assert [d["iteration"] for d in trirl["diagnostics"]] == [3, 6]  # every 3rd, and the last
    assert [(d["eta"], d["projection_eta"], d["step_fraction"]) for d in trirl["diagnostics"]] == [(6.0, 4.5, 0.5),
                                                                                                 (12.0, 9.0, 0.5)]
    assert trirl["best_checkpoint"] is None and gail["best_checkpoint"] == "checkpoints/best_step_00000004.npz"
    assert trirl["retrain"] == {"env": "ant", "normalised_return": 0.6, "control_normalised_return": 0.8}
    assert trirl["retrain_probe"] == {"absorbing_reward_probe": "demonstrations-min"}
    assert "retrain" not in gail and "transfer" not in trirl and "summary" not in trirl

    # the figure shows each run's curve against env steps in millions, the expert and the reference
    fig = report.plot(data["runs"], {"standing still": 0.43})
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
    assert set(lines) == {"trirl", "gail"}
    np.testing.assert_allclose(lines["gail"].get_xdata(), np.array([2, 4, 6]) * 4096 / 1e6)
    np.testing.assert_allclose(lines["gail"].get_ydata(), [0.3, 0.1, 0.05])
    levels = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines() if not line.get_gid()}
    assert levels == {"expert (1)": 1.0, "standing still": 0.43}
    assert ax.get_ylabel() == report.Y_LABEL and "millions" in ax.get_xlabel()


def test_report_names_the_flag_for_bad_input(tmp_path, capsys):
    assert report.main(["--runs", str(tmp_path / "missing"), "--out", str(tmp_path / "x.json")]) == 2
    assert "--runs" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert report.main(["--runs", str(tmp_path / "empty"), "--out", str(tmp_path / "x.json")]) == 2
    assert "holds no run directory" in capsys.readouterr().err
    (tmp_path / "runs" / "r").mkdir(parents=True)
    (tmp_path / "runs" / "r" / "config.json").write_text("{}")
    assert report.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "x.json")]) == 2
    assert "no logged iteration" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        report.main(["--runs", str(tmp_path), "--out", str(tmp_path / "x.json"), "--line", "0.43"])
    assert "expected LABEL=NUMBER" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
