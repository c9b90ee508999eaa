"""The locomotion suite's table (book chapter 9): read from the committed JSON, each number from its file."""

import json
from pathlib import Path

import pytest

pytest.importorskip("mujoco")

from trirl.continuous.envs import LOCOMOTION_NAMES  # noqa: E402
from trirl.continuous.envs.suite_results import suite_rows, suite_table  # noqa: E402

pytestmark = pytest.mark.continuous

CONTINUOUS = Path(__file__).resolve().parents[2] / "continuous"


def test_the_committed_table_shows_the_committed_numbers():
    rows = {row.task: row for row in suite_rows(CONTINUOUS / "results", CONTINUOUS / "experts")}
    assert list(rows) == list(LOCOMOTION_NAMES)
    equivalence = json.loads((CONTINUOUS / "results" / "suite_equivalence_cpu.json").read_text())["results"]
    cheetah = equivalence["half_cheetah"]["newton_4_4"]
    row = rows["half_cheetah"]
    assert row.gym_id == "HalfCheetah-v5" and rows["half_cheetah_windy"].gym_id == "HalfCheetah-v5, 5 m/s head wind"
    assert row.obs_error == tuple(cheetah["k_steps"]["obs_error_median"][i] for i in (0, 2, 4))  # k = 1, 5, 20
    assert (row.expert_mjx, row.expert_gym) == (cheetah["expert_returns"]["mjx_return_mean"],
                                                cheetah["expert_returns"]["gym_return_mean"])
    returns = json.loads((CONTINUOUS / "experts" / "half_cheetah" / "returns.json").read_text())
    assert row.expert == {"return": returns["expert_return"], "std": returns["expert_return_std"],
                          "random": returns["random_return"], "version": 2}
    bench = json.loads((CONTINUOUS / "results" / "bench_half_cheetah_cpu.json").read_text())["results"][0]
    assert (row.physics_per_s, row.ppo_per_s) == (bench["physics_env_steps_per_s"], bench["ppo_env_steps_per_s"])
    # Ant: the committed expert is version 1's; the throughput is version 2's (not bench_ant_cpu.json)
    assert rows["ant"].expert["version"] == 1
    v2 = json.loads((CONTINUOUS / "results" / "bench_ant_v2_cpu.json").read_text())["results"][0]
    assert rows["ant"].ppo_per_s == v2["ppo_env_steps_per_s"]
    table = suite_table(list(rows.values())).splitlines()
    assert len(table) == 2 + len(LOCOMOTION_NAMES)
    cheetah_line = table[2]
    assert cheetah_line.startswith("| half_cheetah | HalfCheetah-v5 | ")
    assert f"{cheetah['expert_returns']['mjx_return_mean']:,.0f} / {cheetah['expert_returns']['gym_return_mean']:,.0f}" in cheetah_line
    assert f"{returns['expert_return']:,.0f} +- {returns['expert_return_std']:,.0f} (version 2)" in cheetah_line
    assert "(version 1, the old physics)" in table[2 + list(rows).index("ant")]


def test_rows_take_only_version_2_benchmarks_and_show_what_is_missing(tmp_path):
    results, experts = tmp_path / "results", tmp_path / "experts"
    results.mkdir()
    row = {"env": "ant", "physics_env_steps_per_s": 100.0, "ppo_env_steps_per_s": 70.0, "ppo_over_physics": 0.7,
           "ppo_over_physics_cpu": 0.8}
    (results / "bench_a_cpu.json").write_text(json.dumps({"results": [row]}))  # ant's default: version 1
    rows = {r.task: r for r in suite_rows(results, experts)}
    assert rows["ant"].ppo_per_s is None and rows["hopper"].obs_error is None and rows["hopper"].expert is None
    (results / "bench_b_cpu.json").write_text(json.dumps({"results": [dict(row, env_options={"version": 2}),
                                                                      dict(row, env="hopper", ppo_env_steps_per_s=50.0)]}))
    rows = {r.task: r for r in suite_rows(results, experts)}
    assert rows["ant"].ppo_per_s == 70.0 and rows["hopper"].ppo_per_s == 50.0  # hopper has only version 2
    line = [line for line in suite_table(list(rows.values())).splitlines() if line.startswith("| hopper ")][0]
    assert line == "| hopper | Hopper-v5 | – | – | – | 100 / 50 | 0.70; 0.80 | – |"


def test_hours_for_a_budget_at_the_measured_throughput(tmp_path):
    rows = {r.task: r for r in suite_rows(tmp_path, tmp_path)}
    assert rows["humanoid"].hours_for(1e6) is None
    assert rows["humanoid"]._replace(ppo_per_s=50.0).hours_for(1.8e6) == pytest.approx(10.0)


def test_the_files_the_readme_calls_version_1_are_version_1():
    """continuous/README.md's "What depends on version 1" names these; each really ran version 1."""
    from trirl.continuous import expert, train

    readme = (CONTINUOUS / "README.md").read_text()
    section = readme[readme.index("**What depends on version 1"):readme.index("Nothing of HalfCheetah")]
    for name in ("ant", "ant_disabled"):
        assert f"`experts/{name}/`" in section
        config = expert.from_dict(json.loads((CONTINUOUS / "experts" / name / "config.json").read_text()))
        assert envs_version(config.env, config.env_options) == 1
    for path in ("ant_expert_cpu.toml", "ant_disabled_expert_cpu.toml", "ant_expert.toml", "ant_disabled_expert.toml"):
        assert f"`{path}`" in section
        config = expert.load_config(CONTINUOUS / path)
        assert envs_version(config.env, config.env_options) == 1, path
    for path in sorted(CONTINUOUS.glob("trirl_ant*.toml")) + sorted(CONTINUOUS.glob("gail_ant*.toml")) + [
            CONTINUOUS / "trirl_humanoid.toml"]:
        config = train.load_config(path)
        assert envs_version(config.env, config.env_options) == 1, path.name
    assert "`trirl_ant*.toml`, `gail_ant*.toml`" in section and "`trirl_humanoid.toml`" in section
    for path in ("humanoid_expert.toml", "humanoid_expert_cpu.toml", "ant_expert_cpu_v2.toml"):
        config = expert.load_config(CONTINUOUS / path)
        assert envs_version(config.env, config.env_options) == 2, path


def envs_version(env: str, options: dict) -> int:
    from trirl.continuous import envs

    return envs.make_config(env, options).version
