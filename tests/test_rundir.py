import json

import numpy as np
import pytest

from trirl import InvalidConfigError
from trirl.rundir import RunDir, read_metrics


def test_new_run_writes_config_metrics_and_checkpoints(tmp_path):
    run = RunDir(tmp_path / "run", {"seed": 3, "eps": 0.5})
    run.log({"iteration": 0, "dual": np.float64(1.5)})
    run.log({"iteration": 1, "dual": 1.25})
    run.save_checkpoint(1, {"reward": np.arange(3.0)}, {"iteration": 1})
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == {"seed": 3, "eps": 0.5}
    assert [row["dual"] for row in read_metrics(tmp_path / "run")] == [1.5, 1.25]
    ckpt = run.latest_checkpoint()
    assert ckpt.step == 1 and ckpt.meta == {"iteration": 1}
    np.testing.assert_array_equal(ckpt.arrays["reward"], np.arange(3.0))


def test_refuses_to_overwrite_and_checks_config_on_resume(tmp_path):
    RunDir(tmp_path, {"seed": 1})
    with pytest.raises(InvalidConfigError, match="already holds a run"):
        RunDir(tmp_path, {"seed": 1})
    with pytest.raises(InvalidConfigError, match="seed"):
        RunDir(tmp_path, {"seed": 2}, resume=True)
    RunDir(tmp_path, {"seed": 1}, resume=True)


def test_resume_trims_metrics_after_the_checkpoint(tmp_path):
    run = RunDir(tmp_path, {"a": 1})
    for i in range(5):
        run.log({"iteration": i})
        if i == 2:
            run.save_checkpoint(i, {"x": np.zeros(1)})
    RunDir(tmp_path, {"a": 1}, resume=True)
    assert [row["iteration"] for row in read_metrics(tmp_path)] == [0, 1, 2]


def test_keeps_only_the_newest_checkpoints(tmp_path):
    run = RunDir(tmp_path, {}, keep=2)
    for step in range(4):
        run.save_checkpoint(step, {"x": np.full(1, step)})
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.npz")) == ["step_00000002.npz", "step_00000003.npz"]


def test_non_finite_metrics_are_refused(tmp_path):
    run = RunDir(tmp_path, {})
    with pytest.raises(ValueError, match="non-finite"):
        run.log({"dual": float("nan")})
