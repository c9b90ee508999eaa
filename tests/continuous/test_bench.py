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


@pytest.mark.slow  # ~20 s of compilation on a shared 2-core CPU
def test_bench_times_trirl_tiny_on_cpu(tmp_path):
    out = tmp_path / "bench_trirl.json"
    bench.main(["--env", "point_maze", "--envs", "4", "--physics-steps", "2", "--ppo-iterations", "1",
                "--trirl-k", "3", "--out", str(out)])
    row = json.loads(out.read_text())["results"][0]
    assert row["trirl_k"] == 3 and row["trirl_env_steps_per_s"] > 0
    assert row["trirl_over_ppo"] == pytest.approx(row["trirl_env_steps_per_s"] / row["ppo_env_steps_per_s"])
