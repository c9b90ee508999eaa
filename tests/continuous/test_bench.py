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
    assert "device" in result and result["command"].startswith("trirl bench continuous --env point_maze")
    assert "ratio" in capsys.readouterr().out


@pytest.mark.slow  # ~20 s of compilation on a shared 2-core CPU
def test_bench_times_trirl_tiny_on_cpu(tmp_path):
    out = tmp_path / "bench_trirl.json"
    bench.main(["--env", "point_maze", "--envs", "4", "--physics-steps", "2", "--ppo-iterations", "1",
                "--trirl-k", "3", "--out", str(out)])
    row = json.loads(out.read_text())["results"][0]
    assert row["trirl_k"] == 3 and row["trirl_env_steps_per_s"] > 0
    assert row["trirl_over_ppo"] == pytest.approx(row["trirl_env_steps_per_s"] / row["ppo_env_steps_per_s"])


def test_bench_flags_are_the_fields_of_bench_options():
    import dataclasses

    text = bench.build_parser().format_help()
    for field in dataclasses.fields(bench.BenchOptions):
        assert f"--{field.name.replace('_', '-')}" in text, field.name
    parse = bench.build_parser().parse_args
    from trirl.configflags import options_from_args

    # the comma form of the committed commands and the space form read the same
    for argv in (["--envs", "4,8", "--env", "point_maze,ant"], ["--envs", "4", "8", "--env", "point_maze", "ant"]):
        options = options_from_args(bench.BenchOptions, parse(["--out", "o.json", *argv]))
        assert options == bench.BenchOptions(out="o.json", envs=(4, 8), env=("point_maze", "ant"))


@pytest.mark.parametrize("argv, message", [
    (["--envs", "0"], "error: --envs is [0], expected batch sizes: integers >= 1"),
    (["--envs", "4,x"], "argument --envs: expected integers, separated by spaces or commas; got '4,x'"),
    (["--env", "ant,moon"], "argument --env: expected names from point_maze, point_maze_mirrored"),
    (["--physics-steps", "0"], "error: --physics-steps is 0, expected an integer >= 1"),
    (["--ppo-iterations", "0"], "error: --ppo-iterations is 0, expected an integer >= 1"),
    (["--trirl-k", "-1"], "error: --trirl-k is -1, expected an integer >= 0"),
    ([], "the following arguments are required: --out"),
])
def test_bad_bench_flags_are_named_and_nothing_is_timed(argv, message, tmp_path, monkeypatch, capsys):
    from trirl.cli import main

    def forbidden(*args, **kwargs):
        raise AssertionError("timed before validating the flags")

    monkeypatch.setattr(bench, "physics_steps_per_second", forbidden)
    out = tmp_path / "bench.json"
    argv = argv if not argv else ["--out", str(out), *argv]
    try:
        code = main(["bench", "continuous", *argv])
    except SystemExit as exit_info:  # argparse's own refusals
        code = exit_info.code
    assert code == 2 and message in capsys.readouterr().err
    assert not out.exists()
