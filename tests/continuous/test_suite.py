"""trirl bench suite (trirl.bench.suite): the suite study end to end through the CLI on a tiny spec
(a paused piece, resume, skip), rliable's aggregates, what its figure shows, and bad specs."""

import json
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from trirl import cli, stats  # noqa: E402
from trirl.bench import suite as suite_lib  # noqa: E402
from trirl.continuous import compile_cache  # noqa: E402
from trirl.continuous import train as train_lib  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402
from trirl.rundir import read_metrics  # noqa: E402

pytestmark = pytest.mark.continuous

DATA = Path(__file__).parent / "data"
TINY = DATA / "suite_tiny.toml"
PNG = b"\x89PNG\r\n\x1a\n"


def _bench(*argv) -> list[str]:
    return ["bench", "suite", str(TINY), "--no-progress", *map(str, argv)]


@pytest.mark.slow  # trains three stages of two seeds
def test_suite_command_pauses_resumes_writes_json_and_figure_then_skips(tmp_path, capsys):
    runs, out = tmp_path / "runs", tmp_path / "out"
    compile_cache.configure()
    # a piece: the minutes run out in the first training (after its first iteration)
    assert cli.main(_bench("--runs", runs, "--out", out, "--max-minutes", "1e-9")) == suite_lib.PAUSED
    err = capsys.readouterr().err
    assert "paused (--max-minutes ran out: training of" in err and f"continue with: trirl bench suite {TINY}" in err
    paused = json.loads((out / "suite_tiny.json").read_text())
    assert paused["stages"]["point_maze/trirl"] == {"status": "missing", "reason": "paused at iteration 1 of 4 (resumes)"}
    assert paused["stages"]["point_maze/gail"] == {"status": "missing", "reason": "not run yet"}
    assert paused["done"] == [] and paused["aggregate"] == {} and paused["aggregate_tasks"] == []
    assert (out / "suite.png").read_bytes()[:8] == PNG  # the figure of a suite with nothing done yet

    # the same command without the limit: resumes the paused stage, runs the rest
    assert cli.main(_bench("--runs", runs, "--out", out)) == 0
    log = capsys.readouterr().out
    assert f"resuming {runs / 'point_maze' / 'trirl'} from iteration 1" in log
    assert [row["iteration"] for row in read_metrics(runs / "point_maze" / "trirl")] == [1, 2, 3, 4]  # resumed, not redone
    summary = json.loads((out / "suite_tiny.json").read_text())
    assert summary["command"].startswith("trirl bench suite") and summary["machine"]["cores"] >= 1 and "commit" in summary
    assert summary["order"] == {"tasks": ["point_maze", "mirrored"], "methods": ["trirl", "trirl_ss", "trirl_goal", "gail"]}
    assert summary["done"] == ["point_maze/gail", "point_maze/trirl", "point_maze/trirl_goal", "point_maze/trirl_ss"]
    # the reward on (s, s'): its stage trained the discriminator on the next state, and the JSON says so
    assert json.loads((runs / "point_maze" / "trirl_ss" / "config.json").read_text())["discriminator"]["input_mode"] == \
        "state_transition"
    assert [summary["methods"][m]["input_mode"] for m in summary["order"]["methods"]] == [
        "state_action", "state_transition", "state_action", "state_action"]
    # the task without an expert is listed with the reason, not dropped; only the methods it names
    assert set(summary["missing"]) == {"mirrored/trirl", "mirrored/trirl_goal"}
    assert summary["tasks"]["mirrored"]["methods"] == ["trirl", "trirl_goal"]
    assert summary["missing"]["mirrored/trirl"]["reason"].startswith("no expert: ")
    assert "point_maze_mirrored/returns.json does not exist" in summary["missing"]["mirrored/trirl"]["reason"]
    assert summary["missing"]["mirrored/trirl_goal"]["reason"].startswith("the task declares no base features")
    expert, random = (json.loads((train_lib.EXPERTS_DIR / "point_maze" / "returns.json").read_text())[k]
                      for k in ("expert_return", "random_return"))
    for method, row in summary["per_task"]["point_maze"].items():
        assert row["env_steps"] == 128 and len(row["values"]) == 2  # the task's budget for every method, two seeds
        assert row["pieces"] == (2 if method == "trirl" else 1) and row["wall_clock_s"] > 0  # summed over the pieces
        np.testing.assert_allclose(row["values"], (np.asarray(row["returns"]) - random) / (expert - random), rtol=1e-6)
        assert row["iqm_ci"][0] <= row["iqm"] <= row["iqm_ci"][1]
        assert np.asarray(row["curve"]["per_seed"]).shape == (2, 2)  # evaluations at iterations 2 and 4
        assert row["paper"] == ([1.03, 0.01] if method == "trirl" else None)
    assert summary["aggregate_tasks"] == ["point_maze"]
    for method, row in summary["aggregate"].items():
        assert row["tasks"] == ["point_maze"] and row["iqm_ci"][0] <= row["iqm"] <= row["iqm_ci"][1]
        assert row["iqm"] == pytest.approx(np.mean(summary["per_task"]["point_maze"][method]["values"]))  # 2 runs: the mean
    assert summary["probability_of_improvement"]["of"] == "trirl"
    assert set(summary["probability_of_improvement"]["over"]) == {"trirl_ss", "trirl_goal", "gail"}
    for row in summary["probability_of_improvement"]["over"].values():
        assert 0 <= row["ci"][0] <= row["value"] <= row["ci"][1] <= 1
    for profile in summary["performance_profiles"]["methods"].values():
        assert np.all(np.diff(profile["fraction"]) <= 0)
    assert summary["budget"]["tasks"]["point_maze"] | {"ppo_env_steps_per_s": None} == {
        "env": "point_maze", "env_steps_per_seed": 128, "seeds": 2, "iterations": 4, "stages": 4,
        "ppo_env_steps_per_s": None, "ppo_env_steps_per_cpu_s": None, "estimated_hours": None,
        "estimated_cpu_hours": None}
    for name in ("suite.png", "learning_curves.png"):
        assert (out / name).read_bytes()[:8] == PNG, name
    curves = suite_lib.plot_curves(summary)
    assert sum(1 for line in curves.axes[0].get_lines() if (line.get_gid() or "").startswith("seed ")) == 2
    labels = ["TRIRL (MLP)", "TRIRL (MLP on (s, s'))", "TRIRL (goal features)", "GAIL"]  # each method by its label
    assert [ax.get_title() for ax in curves.axes[:4]] == [f"point_maze: {label}" for label in labels]
    assert curves.axes[5].get_title() == "mirrored: TRIRL (MLP on (s, s'))\n(not run on this task)"
    figure = suite_lib.plot_suite(summary)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == labels  # the aggregate, in the spec's order
    assert [t.get_text() for t in figure.axes[2].get_yticklabels()] == [f"TRIRL (MLP)\nover {label}" for label in labels[1:]]
    assert set(labels) <= set(figure.axes[3].get_legend_handles_labels()[1])

    # again: every stage is skipped and the numbers stay
    assert cli.main(_bench("--runs", runs, "--out", out)) == 0
    assert capsys.readouterr().out.count("already done, skipped") == 4
    assert json.loads((out / "suite_tiny.json").read_text())["per_task"] == summary["per_task"]


ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_point_maze_finding_the_discriminators_input_not_the_algorithm():
    """The point maze of continuous/results/suite_cpu: from a deterministic expert the methods on the
    raw action stop at half the expert, those on (s, s') do not, TRIRL and GAIL included; from the
    stochastic expert the raw action does not hurt. Book chapter 9 quotes these numbers."""
    summary = json.loads((ROOT / "continuous" / "results" / "suite_cpu" / "suite_cpu.json").read_text())
    maze, control = summary["per_task"]["point_maze"], summary["per_task"]["point_maze_stochastic"]
    inputs = {m: summary["methods"][m]["input_mode"] for m in maze}
    assert {m for m, mode in inputs.items() if mode == "state_transition"} == {"trirl_mlp_ss", "gail_ss", "airl", "amp"}
    for method in ("trirl_mlp", "gail"):
        assert inputs[method] == "state_action" and max(maze[method]["values"]) < 0.6, method
        assert control[method]["iqm_ci"][0] > 0.95, method
    for method in ("trirl_mlp_ss", "gail_ss", "airl", "amp"):
        assert maze[method]["iqm_ci"][0] > 0.9, method
    assert summary["probability_of_improvement"]["over"]["trirl_mlp_ss"]["value"] == 0.0
    assert "point_maze_stochastic" not in summary["aggregate_tasks"] and set(control) == {"trirl_mlp", "gail"}
    section = (ROOT / "book" / "09_from_tables_to_mujoco.md").read_text().split("## The suite, in one command")[1]
    for row in (maze["trirl_mlp_ss"], maze["gail_ss"], control["trirl_mlp"], control["gail"]):
        assert f"{row['iqm']:.2f} [{row['iqm_ci'][0]:.2f}, {row['iqm_ci'][1]:.2f}]" in section
    for method in ("trirl_mlp", "gail", "airl", "amp"):
        assert f"{maze[method]['iqm']:.2f}" in section, method
    # retrained from scratch, the (s, s') rewards that imitate lead away from the goal in both mazes
    retrained = {path.stem: json.loads(path.read_text())
                 for path in (ROOT / "continuous" / "results" / "suite_cpu" / "retraining").glob("*.json")}
    for method in ("trirl_mlp_ss", "gail_ss"):
        for env in ("point_maze", "point_maze_mirrored"):
            result = retrained[f"point_maze_{method}_{env}"]
            assert result["run"] == f"runs/suite_cpu/point_maze/{method}" and result["env"] == env
            assert result["normalised_return"] < 0 < 0.95 < result["control_normalised_return"], (method, env)
            assert f"{result['normalised_return']:.2f}" in section
    trirl_ss = retrained["point_maze_trirl_mlp_ss_point_maze"]
    assert min(trirl_ss["learnt_reward_return"]) > max(trirl_ss["control_learnt_reward_return"])  # it pays off the goal
    for env in ("point_maze", "point_maze_mirrored"):
        assert f"{retrained[f'point_maze_stochastic_trirl_mlp_{env}']['normalised_return']:.2f}" in section


def _summary() -> dict:
    """A suite summary in :func:`trirl.bench.suite.aggregate`'s form from synthetic per-seed values:
    A beats B everywhere, C is missing on the second task."""
    values = {"t1": {"a": [0.9, 1.0, 0.95, 1.05], "b": [0.2, 0.3, 0.25, 0.1], "c": [0.5, 0.6, 0.55, 0.7]},
              "t2": {"a": [0.8, 0.85, 0.9, 0.7], "b": [0.4, 0.35, 0.3, 0.45]}}
    per_task = {task: {m: {"values": v, "paper": [1.0, 0.05] if m == "a" else None,
                           **stats.interval_estimates({"x": v}, 500)["x"],
                           "curve": {"env_steps": [10, 20], "per_seed": [v, v]}} for m, v in rows.items()}
                for task, rows in values.items()}
    matrices = {m: np.stack([values[t][m] for t in ("t1", "t2")], axis=1) for m in ("a", "b")}
    aggregate = stats.aggregate_estimates(matrices, 500)
    poi = stats.probability_of_improvement({"b": (matrices["a"], matrices["b"])}, 500)
    return {"suite": "synthetic", "seeds": 4, "stages": {f"{t}/{m}": {"status": "done"} for t in values for m in "abc"}
            | {"t2/c": {"status": "missing", "reason": "no expert"}}, "done": ["t1/a"],
            "order": {"tasks": ["t1", "t2"], "methods": ["a", "b", "c"]},
            "tasks": {"t1": {"label": "Task one", "note": ""}, "t2": {"label": "Task two", "note": "old env"}},
            "methods": {m: {"label": m.upper()} for m in "abc"}, "per_task": per_task,
            "aggregate_tasks": ["t1", "t2"], "aggregate": aggregate,
            "performance_profiles": {"tau": list(suite_lib.PROFILE_TAU),
                                     "methods": stats.performance_profiles(matrices, suite_lib.PROFILE_TAU, 500)},
            "probability_of_improvement": {"of": "a", "over": poi}}


def test_suite_figure_shows_the_aggregates_profiles_improvement_and_tasks_in_order_without_duplicates():
    summary = _summary()
    fig = suite_lib.plot_suite(summary)
    aggregate, profile, improvement, tasks = fig.axes
    assert [ax.get_title() for ax in fig.axes] == list(suite_lib.TITLES)
    # (a) the spec's first method on top, each IQM where the JSON says
    assert [t.get_text() for t in aggregate.get_yticklabels()] == ["A", "B"]
    assert aggregate.get_ylim()[0] > aggregate.get_ylim()[1]  # y grows downwards: the first method on top
    (bars,) = [c for c in aggregate.containers if c.get_label() == suite_lib.AGGREGATE_IQM_LABEL]
    np.testing.assert_allclose(bars.lines[0].get_xdata(), [summary["aggregate"][m]["iqm"] for m in "ab"])
    assert summary["aggregate"]["a"]["iqm"] > summary["aggregate"]["b"]["iqm"]
    # (b) one non-increasing profile per method, named once
    lines = {line.get_label(): line for line in profile.get_lines()}
    assert sorted(lines) == ["A", "B"] and len(profile.get_lines()) == 2
    for line in lines.values():
        assert np.all(np.diff(line.get_ydata()) <= 0) and line.get_ydata()[0] == 1.0
    assert "score > $\\tau$" in profile.get_ylabel()
    # (c) P(A > B) = 1 (A beats B on every run of both tasks), on a 0..1 axis with the tie at 0.5
    (points,) = improvement.containers
    assert points.lines[0].get_xdata()[0] == pytest.approx(1.0) == summary["probability_of_improvement"]["over"]["b"]["value"]
    assert improvement.get_xlim() == (0.0, 1.0) and improvement.get_xlabel() == "P(A > other)"
    assert [t.get_text() for t in improvement.get_yticklabels()] == ["A\nover B"]
    # (d) every task, the old one starred, the paper's value where given, each legend entry once
    assert [t.get_text() for t in tasks.get_xticklabels()] == ["Task one", "Task two *"]
    labels = tasks.get_legend_handles_labels()[1]
    assert len(labels) == len(set(labels)) and {"A", "B", "C", suite_lib.PAPER_LABEL} <= set(labels)
    stars = [c for c in tasks.containers if c.get_label() == suite_lib.PAPER_LABEL]
    assert len(stars) == 1 and stars[0].lines[0].get_ydata()[0] == 1.0
    assert any("* Task two: old env" in text.get_text() for text in fig.texts)


def test_suite_figure_of_a_suite_with_nothing_done_says_so():
    summary = _summary() | {"aggregate": {}, "aggregate_tasks": [], "per_task": {}, "done": [],
                            "performance_profiles": {"tau": [0.0, 1.0], "methods": {}},
                            "probability_of_improvement": {"of": "a", "over": {}}}
    fig = suite_lib.plot_suite(summary)
    said = [text.get_text() for ax in fig.axes[:3] for text in ax.texts]
    assert said == [suite_lib.NOTHING_YET] * 3
    assert [text.get_text() for text in fig.axes[3].texts] == ["missing", "missing"]


def test_rliable_aggregates_over_runs_and_tasks():
    a = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0]])  # [runs, tasks]
    est = stats.aggregate_estimates({"a": a}, 500)["a"]
    assert est["mean"] == pytest.approx(2.0) and est["iqm"] == pytest.approx(2.0)  # the middle half: 1, 2, 2, 3
    assert est["iqm_ci"][0] <= est["iqm"] <= est["iqm_ci"][1]
    poi = stats.probability_of_improvement({"x": (a + 10, a), "tie": (a, a)}, 500)
    assert poi["x"]["value"] == 1.0 and poi["tie"]["value"] == 0.5
    profile = stats.performance_profiles({"a": a}, [-1.0, 1.5, 10.0], 500)["a"]
    assert profile["fraction"] == [1.0, 0.625, 0.0]  # 5 of the 8 runs score above 1.5


def test_shipped_suite_spec_the_issues_task_order_five_seeds_and_one_budget_per_task():
    spec = suite_lib.load_suite("suite_cpu")
    assert [t for t in spec.tasks if spec.tasks[t].aggregate] == ["ant", "half_cheetah", "hopper", "walker2d",
                                                                   "point_maze", "humanoid"]
    assert list(spec.methods) == ["trirl_mlp", "trirl_mlp_ss", "trirl_features", "gail", "gail_ss", "airl", "amp"]
    assert spec.reference == "trirl_mlp" and spec.train.seeds >= 5
    for task in (t for t in spec.tasks.values() if t.aggregate):
        configs = [spec.configs[f"{task.name}/{m}"] for m in spec.methods]
        assert {c.iterations * c.ppo.batch_size for c in configs} == {configs[0].iterations * configs[0].ppo.batch_size}
        assert [c.algo for c in configs] == ["trirl", "trirl", "trirl", "gail", "gail", "airl", "amp"]
        # (s, a) or (s, s'): each method's discriminator input, the hypothesis of the point maze's finding
        assert [c.discriminator.input_mode == "state_transition" for c in configs] == [False, True, False, False, True,
                                                                                        True, True]
        assert configs[2].discriminator.features == task.features and configs[2].discriminator.hidden_sizes == ()
        has_expert = (train_lib.EXPERTS_DIR / task.env / "returns.json").is_file()
        assert all((f"{task.name}/{m}" in spec.unavailable) != has_expert for m in spec.methods), task.name
        if task.env != "point_maze":
            assert task.total_steps >= 2_000_000  # a few million steps per run
    # the control: the point maze from the stochastic expert, two methods, not in the aggregate
    control = spec.tasks["point_maze_stochastic"]
    assert (control.env, control.demos, control.aggregate, control.methods) == ("point_maze", "demos.npz", False,
                                                                                ("trirl_mlp", "gail"))
    assert [s for s in spec.stages if s.startswith("point_maze_stochastic/")] == [
        "point_maze_stochastic/trirl_mlp", "point_maze_stochastic/gail"]
    assert spec.configs["point_maze_stochastic/trirl_mlp"].demos.endswith("point_maze/demos.npz")
    assert spec.configs["point_maze_stochastic/trirl_mlp"].to_dict() | {"demos": ""} == \
        spec.configs["point_maze/trirl_mlp"].to_dict() | {"demos": ""}  # the demonstrations are all that differ
    assert spec.paper["TRIRL"]["Ant"] == [1.00, 0.05] and spec.tasks["ant"].note  # the old Ant, marked
    assert suite_lib.budget(spec)["tasks"]["ant"]["estimated_hours"] > 0


BAD_SPECS = [
    ('[methods.x]\nalgo = "ppo"\n', r"\[methods.x\] algo.*unknown algorithm 'ppo'"),
    ('[methods.x]\nalgo = "gail"\nfeatures = true\n', r"only TRIRL has a feature-based variant"),
    ('[methods.x]\nlabel = "X"\n', r"\[methods.x\] algo missing"),
    ('[methods.x]\nalgo = "gail"\npaper = "NOPE"\n', r"\[methods.x\] paper = 'NOPE': not in the \[paper.ROW\]"),
    ('[tasks.y]\nconfig = "table1_tiny_train.toml"\n', r"\[tasks.y\] total_steps missing"),
    ('[tasks.y]\nconfig = "table1_tiny_train.toml"\ntotal_steps = 0\n', r"\[tasks.y\] total_steps.*>= 1"),
    ('[tasks.y]\nconfig = "table1_tiny_train.toml"\ntotal_steps = 8\nenv = "moon"\n', r"\[tasks.y\] env = 'moon'"),
    ('[paper.P]\nAnt = [1.0]\n', r"\[paper.P\] Ant = \[1.0\]: expected \[value, plus_minus\]"),
    ('[methods.x]\nalgo = "trirl"\ninput_mode = "sa"\n', r"\[methods.x\] input_mode.*unknown input 'sa'; choose one of "
                                                         r"state_action, state_transition"),
    ('[methods.x]\nalgo = "airl"\ninput_mode = "state_action"\n', r"\[methods.x\].*but airl uses 'state_transition'"),
    ('[methods.x]\nalgo = "trirl"\nfeatures = true\ninput_mode = "state_transition"\n',
     r"\[methods.x\] input_mode = 'state_transition': the feature-based variant is linear in base features phi\(s, a\)"),
    ('[tasks.y]\nconfig = "table1_tiny_train.toml"\ntotal_steps = 8\nmethods = ["trirl", "ppo"]\n',
     r"\[tasks.y\] methods = \['trirl', 'ppo'\]: 'ppo' is no \[methods.NAME\]; the methods are trirl, trirl_ss"),
]


@pytest.mark.parametrize("extra, message", BAD_SPECS)
def test_bad_suite_specs_name_the_file_section_and_key(tmp_path, extra, message):
    path = tmp_path / "suite_bad.toml"
    text = TINY.read_text().replace('"table1_tiny_train.toml"', json.dumps(str(DATA / "table1_tiny_train.toml")))
    path.write_text(text + "\n" + extra.replace('"table1_tiny_train.toml"', json.dumps(str(DATA / "table1_tiny_train.toml"))))
    with pytest.raises(InvalidConfigError, match=message) as err:
        suite_lib.load_suite(path)
    assert str(path) in str(err.value)


def test_a_control_task_runs_its_methods_and_stays_out_of_the_aggregate(tmp_path):
    path = tmp_path / "suite_control.toml"
    path.write_text(TINY.read_text().replace('"table1_tiny_train.toml"', json.dumps(str(DATA / "table1_tiny_train.toml")))
                    + '\n[tasks.control]\nenv = "point_maze"\nconfig = "table1_tiny_train.toml"\ntotal_steps = 128\n'
                      'methods = ["gail", "trirl"]\naggregate = false\n'.replace(
                          '"table1_tiny_train.toml"', json.dumps(str(DATA / "table1_tiny_train.toml"))))
    spec = suite_lib.load_suite(path)
    assert [s for s in spec.stages if s.startswith("control/")] == ["control/trirl", "control/gail"]  # the spec's order
    assert "control/trirl_goal" not in spec.configs and "control/trirl_goal" not in spec.unavailable
    every_stage_done = {stage: {} for stage in spec.stages if stage not in spec.unavailable}
    assert suite_lib.aggregated_tasks(spec, every_stage_done) == ["point_maze"]


def test_only_selects_tasks_methods_and_pairs_and_names_the_unknown():
    spec = suite_lib.load_suite(TINY)
    assert suite_lib.select(spec, "gail") == ("point_maze/gail",)  # the mirrored task names two other methods
    assert suite_lib.select(spec, "mirrored, point_maze/trirl") == ("point_maze/trirl", "mirrored/trirl",
                                                                    "mirrored/trirl_goal")
    assert suite_lib.select(spec, None) == spec.stages
    with pytest.raises(InvalidConfigError, match=r"--only 'airl': no such task, method or task/method; the tasks are "
                                                 r"point_maze, mirrored, the methods trirl, trirl_ss, trirl_goal, gail"):
        suite_lib.select(spec, "airl")


def test_ctrl_c_in_a_stage_says_how_to_continue_and_bad_flags_are_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train_lib, "train", lambda *a, **k: {"status": "interrupted", "iterations": 1})
    assert cli.main(_bench("--runs", tmp_path / "runs", "--out", tmp_path / "out")) == 130
    err = capsys.readouterr().err
    assert "interrupted (training of" in err and f"continue with: trirl bench suite {TINY}" in err
    with pytest.raises(SystemExit):
        cli.main(_bench("--max-minutes", "0"))
    assert "--max-minutes: expected a number of minutes > 0" in capsys.readouterr().err
    assert cli.main(_bench("--only", "nope", "--runs", tmp_path / "runs")) == 2
    assert "--only 'nope': no such task" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(_bench("--aggregate", "--shard", "1/2"))
    assert "--aggregate runs nothing: it excludes --only, --shard and --max-minutes" in capsys.readouterr().err
    assert cli.main(_bench("--shard", "3/2", "--runs", tmp_path / "runs")) == 2
    assert "--shard '3/2': expected K/N with 1 <= K <= N" in capsys.readouterr().err


def test_shards_of_a_job_array_split_the_stages_disjointly(tmp_path, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(suite_lib.cli, "run_suite", lambda suite, runs, stages, **k: ran.append(stages))
    for k in (1, 2, 3):
        assert cli.main(_bench("--runs", tmp_path / "runs", "--out", tmp_path / f"out{k}", "--shard", f"{k}/3")) == 0
    spec = suite_lib.load_suite(TINY)
    assert sorted(sum(ran, ())) == sorted(spec.stages) and all(len(stages) == 2 for stages in ran)
    assert "shard 2/3: point_maze/trirl_ss, mirrored/trirl" in capsys.readouterr().out
