import json

import pytest

pytest.importorskip("jax")

from trirl.bench import continuous as bench  # noqa: E402

pytestmark = pytest.mark.continuous


@pytest.mark.slow  # compiles physics and PPO
def test_bench_runs_tiny_on_cpu(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--env", "point_maze", "--envs", "4", "--physics-steps", "5", "--ppo-iterations", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    row = result["results"][0]
    assert row["num_envs"] == 4 and row["physics_env_steps_per_s"] > 0 and row["ppo_env_steps_per_s"] > 0
    assert row["ppo_over_physics"] == pytest.approx(row["ppo_env_steps_per_s"] / row["physics_env_steps_per_s"])
    assert "device" in result and result["command"].startswith("trirl bench continuous --env point_maze")
    assert "ratio" in capsys.readouterr().out


@pytest.mark.slow  # compiles physics and PPO like the test above
def test_bench_times_the_env_options_of_its_config_and_records_the_load(tmp_path):
    # a config's [env_options] (e.g. ant's version = 2) are the env timed, physics and PPO alike
    config = tmp_path / "pm.toml"
    config.write_text('env = "point_maze"\n[env_options]\nepisode_length = 5\n'
                      "[ppo]\nnum_envs = 4\nrollout_length = 4\nnum_epochs = 1\nnum_minibatches = 1\n"
                      "policy_hidden = [8]\nvalue_hidden = [8]\n")
    assert bench.env_options_for("point_maze", config) == {"episode_length": 5}
    out = tmp_path / "bench.json"
    bench.main(["--env", "point_maze", "--envs", "4", "--physics-steps", "5", "--ppo-iterations", "1",
                "--config", str(config), "--out", str(out)])
    row = json.loads(out.read_text())["results"][0]
    assert row["env_options"] == {"episode_length": 5} and len(row["load_average_1min"]) == 2


@pytest.mark.slow  # ~20 s of compilation on a shared 2-core CPU
def test_bench_times_trirl_tiny_on_cpu(tmp_path):
    out = tmp_path / "bench_trirl.json"
    bench.main(["--env", "point_maze", "--envs", "4", "--physics-steps", "2", "--ppo-iterations", "1",
                "--trirl-k", "3", "--out", str(out)])
    row = json.loads(out.read_text())["results"][0]
    assert row["trirl_k"] == 3 and row["trirl_env_steps_per_s"] > 0
    assert row["trirl_over_ppo"] == pytest.approx(row["trirl_env_steps_per_s"] / row["ppo_env_steps_per_s"])


PROFILE_TOML = """
env = "point_maze"
algo = "trirl"
acting_policy = "line-search"
[env_options]
episode_length = 10
[ppo]
num_envs = 4
rollout_length = 8
num_epochs = 1
num_minibatches = 2
policy_hidden = [8]
value_hidden = [8]
[discriminator]
hidden_sizes = [8]
epochs = 1
minibatch_size = 16
[buffer]
fit_steps = 2
"""


@pytest.mark.slow  # compiles three learners and the eight parts of an iteration
def test_profile_times_every_part_of_a_trirl_iteration_beside_gail_and_ppo(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(PROFILE_TOML)
    out = tmp_path / "profile.json"
    assert bench.main(["--env", "point_maze", "--profile", "trirl", "--trirl-k", "12", "--repeats", "1",
                       "--config", str(config), "--no-compile-cache", "--iterations-per-call", "1", "2",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["command"].startswith("trirl bench continuous --env point_maze --profile trirl") and result["machine"]
    row = result["profiles"][0]
    assert (row["sizes"], row["k"], row["acting_policy"], row["policy_hidden"]) == ("trirl", 12, "line-search", [8])
    assert set(row["components_s"]) == set(bench.COMPONENTS)
    assert all(times["wall_s"] > 0 and times["cpu_s"] >= 0 for times in row["components_s"].values())
    assert set(row["iteration_s"]) == {"trirl", "gail", "ppo"}
    seconds = row["iteration_s"]
    assert row["trirl_over_gail"] == pytest.approx(seconds["trirl"]["wall_s"] / seconds["gail"]["wall_s"])
    assert row["env_steps_per_s"]["ppo"] == pytest.approx(32 / row["iteration_s"]["ppo"]["wall_s"])
    loops = row["loop_s_per_iteration"]  # the driver's loop at 1 and 2 iterations per compiled call
    assert set(loops) == {"trirl", "gail"} and all(set(by_n) == {"1", "2"} for by_n in loops.values())
    assert row["loop_speedup"]["trirl"]["2"] == pytest.approx(loops["trirl"]["1"]["cpu_s"] / loops["trirl"]["2"]["cpu_s"])
    assert row["loop_trirl_over_gail_cpu"]["2"] == pytest.approx(loops["trirl"]["2"]["cpu_s"] / loops["gail"]["2"]["cpu_s"])
    printed = capsys.readouterr().out
    assert "TRIRL/GAIL time per step" in printed and all(part in printed for part in bench.COMPONENTS)
    assert "trirl loop,   2 iterations per call" in printed


def test_profile_sizes_are_the_authors_networks_over_the_trirl_config():
    config = bench.profile_config("point_maze", "authors", capacity=7)
    assert config.ppo.policy_hidden == config.ppo.value_hidden == (512, 256, 128)
    assert config.discriminator.hidden_sizes == (512, 256) and config.buffer.capacity == 7
    mine = bench.profile_config("point_maze", "trirl")
    assert (mine.ppo.num_envs, mine.ppo.rollout_length, mine.ppo.num_epochs, mine.ppo.num_minibatches,
            mine.discriminator.epochs, mine.buffer.fit_steps) == (32, 32, 4, 4, 2, 10)
    assert config.ppo.num_envs == mine.ppo.num_envs and config.buffer.fit_steps == mine.buffer.fit_steps


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
    (["--profile", "moon"], "argument --profile: expected names from trirl, authors"),
    (["--repeats", "0"], "error: --repeats is 0, expected an integer >= 1"),
    (["--iterations-per-call", "0"], "error: --iterations-per-call is [0], expected integers >= 1"),
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
