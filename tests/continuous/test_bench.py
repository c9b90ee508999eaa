import json

import pytest

pytest.importorskip("jax")

from trirl.continuous import bench  # noqa: E402

pytestmark = pytest.mark.continuous


def test_bench_runs_tiny_on_cpu(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--env", "point_maze", "--envs", "4", "--physics-steps", "5", "--ppo-iterations", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    row = result["results"][0]
    assert row["num_envs"] == 4 and row["physics_env_steps_per_s"] > 0 and row["ppo_env_steps_per_s"] > 0
    assert row["ppo_over_physics"] == pytest.approx(row["ppo_env_steps_per_s"] / row["physics_env_steps_per_s"])
    assert "device" in result and result["command"].startswith("python -m trirl.continuous.bench")
    assert "ratio" in capsys.readouterr().out
