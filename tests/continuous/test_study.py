"""trirl bench table1 (trirl.bench.table1): the Table 1 study end to end through the CLI
(resume, skip), what its figures show, and the errors of a bad study spec."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from trirl import cli  # noqa: E402
from trirl.continuous import compile_cache  # noqa: E402
from trirl.bench import table1 as study_lib  # noqa: E402
from trirl.bench.table1 import stages as stages_lib  # noqa: E402
from trirl.continuous import train as train_lib  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402
from trirl.rundir import read_metrics  # noqa: E402

pytestmark = pytest.mark.continuous

DATA = Path(__file__).parent / "data"
TINY = DATA / "table1_tiny.toml"
PNG = b"\x89PNG\r\n\x1a\n"
EXPERTS = train_lib.EXPERTS_DIR


def _bench(*argv) -> list[str]:
    return ["bench", "table1", "--study", str(TINY), "--no-progress", *map(str, argv)]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """The tiny study through ``trirl bench table1``, its TRIRL training interrupted after one
    iteration beforehand (the state Ctrl-C or ``--max-minutes`` leaves: a checkpoint, metrics)."""
    tmp = tmp_path_factory.mktemp("table1")
    runs, out = tmp / "runs", tmp / "out"
    compile_cache.configure()  # the CLI below then loads this training's compiled programs
    spec = study_lib.load_study(TINY)
    paused = train_lib.train(study_lib.train_config(spec, spec.variants["trirl"]), runs / "trirl" / "training",
                             progress=False, max_minutes=1e-9)
    assert paused["status"] == "paused" and paused["iterations"] == 1
    return runs, out


@pytest.mark.slow  # trains, retrains and transfers two variants
def test_table1_command_resumes_writes_json_and_figures_then_skips(tiny_study, capsys):
    runs, out = tiny_study
    assert cli.main(_bench("--runs", runs, "--out", out)) == 0
    log = capsys.readouterr().out
    assert f"resuming {runs / 'trirl' / 'training'} from iteration 1" in log
    assert [row["iteration"] for row in read_metrics(runs / "trirl" / "training")] == [1, 2, 3, 4]  # resumed, not redone

    summary = json.loads((out / "table1_tiny.json").read_text())
    assert summary["stages"] == ["training", "retraining", "transfer"] and summary["seeds"] == 2
    assert summary["command"].startswith("trirl bench table1 --study") and summary["machine"]["cores"] >= 1
    assert "commit" in summary and summary["retrain"] == {"steps": 64, "seed": 100, "eval_episodes": 2}
    assert summary["order"] == ["trirl", "gail"] and set(summary["variants"]) == {"trirl", "gail"}  # the spec's order
    assert summary["variants"]["gail"]["algo"] == "gail"
    for name, entry in summary["variants"].items():
        assert np.asarray(entry["curve"]["per_seed"]).shape == (2, 2)  # evaluations at iterations 2 and 4, 2 seeds
        for stage, row in entry["stages"].items():
            assert len(row["values"]) == 2 and np.all(np.isfinite(row["values"])), (name, stage)
            for stat in ("iqm", "mean"):
                lo, hi = row[f"{stat}_ci"]
                assert lo <= row[stat] <= hi, (name, stage, stat)
            assert (row["paper"] is not None) == (name == "trirl")
            if stage != "training":
                # one control per environment: the variants share seeds, steps and PPO config
                assert row["control"]["from"] == "trirl" and len(row["control"]["values"]) == 2
                lo, hi = row["control"]["iqm_ci"]
                assert lo <= row["control"]["iqm"] <= hi
    trirl = summary["variants"]["trirl"]["stages"]
    assert trirl["training"]["paper"] == [1.03, 0.01] and trirl["transfer"]["env"] == "point_maze_mirrored"
    # the demonstrations' mean return as 1, in the training env only: the same returns on that scale
    expert, random = (json.loads((EXPERTS / "point_maze" / "returns.json").read_text())[k]
                      for k in ("expert_return", "random_return"))
    demos_return = float(np.mean(np.load(EXPERTS / "point_maze" / "demos.npz")["returns"]))
    assert "demonstrator_normalised" not in trirl["transfer"]
    for stage in ("training", "retraining"):
        scaled = trirl[stage]["demonstrator_normalised"]
        assert scaled["demonstrations_return"] == pytest.approx(demos_return, rel=1e-6)
        np.testing.assert_allclose(scaled["values"], (np.asarray(trirl[stage]["returns"]) - random) / (demos_return - random))
        np.testing.assert_allclose(np.asarray(trirl[stage]["values"]) * (expert - random) / (demos_return - random),
                                   scaled["values"], rtol=1e-6)  # one affine map of the other
        assert scaled["iqm_ci"][0] <= scaled["iqm"] <= scaled["iqm_ci"][1]
    assert trirl["retraining"]["control"]["values"] == summary["variants"]["gail"]["stages"]["retraining"]["control"]["values"]
    gail_retrain = json.loads((runs / "gail" / "retraining" / "result.json").read_text())
    assert "control_returns" not in gail_retrain and "normalised_return_ratio" not in gail_retrain  # control=False
    for name in ("table1.png", "learning_curves.png", "landscape_trirl.png"):
        assert (out / name).read_bytes()[:8] == PNG, name

    # the figures show what the JSON says
    table = study_lib.plot_table(summary)
    for ax, stage in zip(table.axes, summary["stages"]):
        (bars,) = [c for c in ax.containers if c.get_label() == study_lib.IQM_LABEL]
        np.testing.assert_allclose(bars.lines[0].get_ydata(), [summary["variants"][n]["stages"][stage]["iqm"]
                                                               for n in ("trirl", "gail")])
    curves = study_lib.plot_curves(summary)
    assert sum(1 for line in curves.axes[0].get_lines() if (line.get_gid() or "").startswith("seed ")) == 2

    # as a job array: shard 2/2 (GAIL, whose controls TRIRL's shard trains) into another folder
    # beside a copy of shard 1/2's stages, then --aggregate: the table one process wrote
    sharded = runs.parent / "sharded"
    assert cli.main(_bench("--runs", sharded, "--shard", "2/2")) == 0
    log = capsys.readouterr().out
    assert "shard 2/2: gail" in log and "--aggregate" in log and not (sharded / "trirl").exists()
    assert not (out.parent / "sharded_out").exists()
    shutil.copytree(runs / "trirl", sharded / "trirl")
    assert cli.main(_bench("--runs", sharded, "--out", out.parent / "sharded_out", "--aggregate")) == 0
    aggregated = json.loads((out.parent / "sharded_out" / "table1_tiny.json").read_text())

    def table(variants, folder):  # the numbers: without the stages' folders and wall clocks
        return {name: entry | {"stages": {stage: {k: v for k, v in row.items() if k not in ("run", "wall_clock_s")}
                                          for stage, row in entry["stages"].items()}}
                for name, entry in variants.items()}

    assert table(aggregated["variants"], sharded) == table(summary["variants"], runs)
    assert aggregated["variants"]["gail"]["stages"]["training"]["run"] == str(sharded / "gail" / "training")
    assert aggregated["missing_stages"] == {} and aggregated["not_run"] == []

    # again: every stage is skipped and the numbers stay
    first = summary
    assert cli.main(_bench("--runs", runs, "--out", out)) == 0
    assert capsys.readouterr().out.count("already done, skipped") == 6
    again = json.loads((out / "table1_tiny.json").read_text())
    assert again["variants"] == first["variants"]


def _summary(values: dict[str, dict[str, list[float]]], curves: dict[str, list[list[float]]]) -> dict:
    """A study summary in :func:`trirl.bench.table1.aggregate`'s form from per-seed values."""
    stages = ["training", "retraining", "transfer"]
    scores = {f"{n}/{s}": v for n, rows in values.items() for s, v in rows.items()}
    scores.update({f"control/{s}": [0.9, 1.0, 0.95, 1.02] for s in stages[1:]})
    estimates = study_lib.interval_estimates(scores, reps=2000)
    variants = {}
    for name, rows in values.items():
        entry = {}
        for stage, v in rows.items():
            entry[stage] = {"values": v, "env": "point_maze_mirrored" if stage == "transfer" else "point_maze",
                            "paper": [1.03, 0.01] if name == "good" and stage == "training" else None,
                            **estimates[f"{name}/{stage}"]}
            if stage != "training":
                entry[stage]["control"] = {"from": "good", "values": [0.9, 1.0, 0.95, 1.02], **estimates[f"control/{stage}"]}
        variants[name] = {"label": name.upper(), "algo": "trirl", "stages": entry,
                          "curve": {"env_steps": [100, 200, 300], "per_seed": curves[name]}}
    return {"study": "synthetic", "env": "point_maze", "seeds": 4, "stages": stages, "variants": variants, "order": list(variants)}


def test_table_figure_shows_each_variant_iqm_inside_its_ci_and_the_paper_and_control():
    good = [0.95, 1.0, 1.02, 0.4]
    bad = [0.1, 0.2, -0.1, 0.3]
    summary = _summary({"good": dict.fromkeys(("training", "retraining", "transfer"), good),
                        "bad": dict.fromkeys(("training", "retraining", "transfer"), bad)},
                       {"good": [[0.0] * 4] * 3, "bad": [[0.0] * 4] * 3})
    fig = study_lib.plot_table(summary)
    assert [ax.get_title() for ax in fig.axes] == ["training\non point_maze", "retraining (frozen reward, new seeds)\non point_maze",
                                                   "transfer\non point_maze_mirrored"]
    assert "4 seeds" in fig._suptitle.get_text() and "95 %" in fig._suptitle.get_text()
    assert fig.axes[0].get_ylabel() == "expert-normalised return"
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {study_lib.IQM_LABEL, study_lib.SEEDS_LABEL, study_lib.CONTROL_LABEL, study_lib.PAPER_LABEL} <= legend
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["GOOD", "BAD"]
        (bars,) = [c for c in ax.containers if c.get_label() == study_lib.IQM_LABEL]
        iqm = bars.lines[0].get_ydata()
        segments = bars.lines[2][0].get_segments()
        for y, segment in zip(iqm, segments):
            lo, hi = sorted(segment[:, 1])
            assert lo <= y <= hi
        assert iqm[0] > iqm[1]  # the better variant is drawn higher
        np.testing.assert_allclose(iqm, [summary["variants"][n]["stages"]["training"]["iqm"] for n in ("good", "bad")])
        np.testing.assert_allclose(iqm[0], np.mean(sorted(good)[1:3]))  # IQM of 4 values: the middle two
    # the paper's value is drawn where the paper puts it, in the training panel only
    (paper,) = [c for c in fig.axes[0].containers if c.get_label() == study_lib.PAPER_LABEL]
    assert paper.lines[0].get_ydata()[0] == 1.03
    assert not [c for c in fig.axes[1].containers if c.get_label() == study_lib.PAPER_LABEL]
    # the control: a dashed line at its IQM above each variant
    control = [c for c in fig.axes[1].collections if c.get_label() == study_lib.CONTROL_LABEL]
    assert control and np.isclose(control[0].get_segments()[0][0, 1], summary["variants"]["good"]["stages"]["retraining"]["control"]["iqm"])


def test_learning_curves_draw_every_seed_thin_and_the_iqm_bold():
    rising = [[0.1, 0.2, 0.0, 0.3], [0.5, 0.6, 0.4, 0.9], [0.9, 1.0, 0.8, 1.1]]
    summary = _summary({"good": {"training": [0.9, 1.0, 0.8, 1.1]}, "bad": {"training": [0.0] * 4}},
                       {"good": rising, "bad": [[0.0] * 4] * 3})
    summary["stages"] = ["training"]
    fig = study_lib.plot_curves(summary)
    ax = fig.axes[0]
    assert ax.get_title() == "GOOD (trirl)" and ax.get_xlabel() == "environment steps per seed"
    assert ax.get_ylabel() == "expert-normalised evaluation return"
    seeds = [line for line in ax.get_lines() if (line.get_gid() or "").startswith("seed ")]
    assert len(seeds) == 4 and all(line.get_linewidth() < 1 for line in seeds)
    np.testing.assert_allclose(seeds[3].get_ydata(), [0.3, 0.9, 1.1])
    (iqm,) = [line for line in ax.get_lines() if line.get_label() == study_lib.CURVE_IQM_LABEL]
    assert iqm.get_linewidth() > 2
    np.testing.assert_allclose(iqm.get_ydata(), [0.15, 0.55, 0.95])  # the middle two of each evaluation
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"each seed (n = 4)", study_lib.CURVE_IQM_LABEL}
    assert "every seed" in fig._suptitle.get_text()


def _spec(tmp_path, text: str) -> Path:
    shutil.copy(DATA / "table1_tiny_train.toml", tmp_path / "table1_tiny_train.toml")
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


BAD_SPECS = [
    ("bogus = 1\n", "study.toml: unknown key bogus; the known keys are bootstrap_reps, env, name"),
    ('transfer_env = "moon"\n', "study.toml: transfer_env: unknown environment 'moon'"),
    ("[train]\nseeds = 0\n", "study.toml: [train] seeds must be >= 1, got 0"),
    ('[train]\nseeds = "2"\n', "study.toml: [train] seeds = '2': expected an integer"),
    ('[train]\ndemos = "none.npz"\n', "study.toml: [train] demos = 'none.npz': no such file, and none in "),
    ("[retrain]\nstepz = 5\n", "study.toml: [retrain] unknown key stepz; the known keys are absorbing_reward, eval_episodes, "),
    ('[retrain]\nsteps = "many"\n', "study.toml: [retrain] steps = 'many': expected an integer"),
    ("[retrain]\nsteps = 0\n", "study.toml: [retrain] steps = 0: expected an integer >= 1"),
    ("[retrain]\nreward_scale = 0\n", "study.toml: [retrain] reward_scale = 0: expected a finite number > 0"),
    ('[retrain]\nabsorbing_reward = "zero"\n', "study.toml: [retrain] absorbing_reward = 'zero': expected one of"),
    ('[variants.x]\nlabel = "X"\n', "study.toml: [variants.x] config missing"),
    ('[variants.x]\nconfig = "table1_tiny_train.toml"\nalgo = "dqn"\n', "study.toml: [variants.x] config = 'table1_tiny_train.toml' (algo = dqn)"),
    ('[variants.x]\nconfig = "nowhere.toml"\n', "study.toml: [variants.x] config = 'nowhere.toml' (algo = its own): --config: nowhere.toml does not exist"),
    ('[variants.x]\nconfig = "table1_tiny_train.toml"\npaper = "TRIRL"\n', "study.toml: [variants.x] paper = 'TRIRL': no [paper.TRIRL] table"),
    ('[variants.x]\nconfig = "table1_tiny_train.toml"\ncolour = 1\n', "study.toml: [variants.x] unknown key colour"),
    ('[variants.x]\nconfig = "table1_tiny_train.toml"\n[paper.TRIRL]\ntraining = 1.03\n',
     "study.toml: [paper.TRIRL] training = 1.03: expected [value, plus_minus]"),
    ('[variants.x]\nconfig = "table1_tiny_train.toml"\n[paper.TRIRL]\ntrain = [1.0, 0.1]\n',
     "study.toml: [paper.TRIRL] unknown key train; the stages are training, retraining, transfer"),
]


@pytest.mark.parametrize("extra, message", BAD_SPECS)
def test_bad_study_specs_name_the_file_section_and_key(tmp_path, extra, message):
    head = 'name = "s"\nenv = "point_maze"\n'
    if "[variants" not in extra:
        extra += '[variants.ok]\nconfig = "table1_tiny_train.toml"\n'
    path = _spec(tmp_path, head + extra)
    with pytest.raises(InvalidConfigError) as info:
        study_lib.load_study(path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))


def test_train_demos_name_a_shipped_file_or_a_path_for_every_variant(tmp_path):
    from trirl.continuous.train import EXPERTS_DIR

    head = 'name = "s"\nenv = "point_maze"\n[variants.ok]\nconfig = "table1_tiny_train.toml"\n'
    shipped = study_lib.load_study(_spec(tmp_path, head + '[train]\ndemos = "demos_deterministic.npz"\n'))
    config = study_lib.train_config(shipped, shipped.variants["ok"])
    assert Path(config.demos) == EXPERTS_DIR / "point_maze" / "demos_deterministic.npz"
    own = tmp_path / "mine.npz"
    shutil.copy(EXPERTS_DIR / "point_maze" / "demos.npz", own)
    given = study_lib.load_study(_spec(tmp_path, head + f'[train]\ndemos = "{own}"\n'))
    assert Path(study_lib.train_config(given, given.variants["ok"]).demos) == own
    default = study_lib.load_study(_spec(tmp_path, head))
    assert study_lib.train_config(default, default.variants["ok"]).demos_file.name == "demos.npz"


def test_a_spec_without_variants_and_a_variant_on_another_env_are_refused(tmp_path):
    with pytest.raises(InvalidConfigError, match=r"study.toml: no \[variants.NAME\] table"):
        study_lib.load_study(_spec(tmp_path, 'name = "s"\nenv = "point_maze"\n'))
    text = 'name = "s"\nenv = "ant"\n[variants.x]\nconfig = "table1_tiny_train.toml"\n'
    with pytest.raises(InvalidConfigError, match=r"\[variants.x\] config = 'table1_tiny_train.toml' trains on 'point_maze', "
                                                 r"but the study's env is 'ant'"):
        study_lib.load_study(_spec(tmp_path, text))


def test_cli_reports_a_bad_spec_and_a_missing_one_without_a_traceback(tmp_path, capsys):
    path = _spec(tmp_path, 'name = "s"\nenv = "point_maze"\n[train]\nseeds = -1\n')
    assert cli.main(["bench", "table1", "--study", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"trirl bench table1: error: {path}: [train] seeds must be >= 1")
    assert cli.main(["bench", "table1", "--study", str(tmp_path / "none.toml")]) == 2
    assert "does not exist and is not a shipped study; shipped: ['table1_point_maze']" in capsys.readouterr().err


def test_a_stage_completed_with_another_configuration_is_refused(tmp_path):
    from trirl.rundir import write_json

    write_json(tmp_path / study_lib.RESULT_FILE, {"record": {"stage": "retraining", "env": "point_maze"}, "returns": [1.0]})
    assert stages_lib._completed(tmp_path, {"stage": "retraining", "env": "point_maze"})["returns"] == [1.0]
    with pytest.raises(InvalidConfigError, match=r"was completed with another configuration \(env: 'point_maze' -> "
                                                 r"'point_maze_mirrored'\); delete that folder"):
        stages_lib._completed(tmp_path, {"stage": "retraining", "env": "point_maze_mirrored"})


def test_a_stage_recorded_in_another_checkout_counts_as_done_here_and_a_changed_field_is_named(tmp_path):
    from trirl.bench import study
    from trirl.rundir import write_json

    shipped = EXPERTS / "point_maze" / "demos.npz"
    record = {"stage": "training", "config": {"demos": str(shipped), "seed": 0, "ppo": {"gamma": 0.99}}}
    assert study.portable(record)["config"]["demos"] == "continuous/experts/point_maze/demos.npz"
    # the same shipped file, recorded by another checkout (that folder does not exist here)
    elsewhere = "/elsewhere/checkout/continuous/experts/point_maze/demos.npz"
    write_json(tmp_path / study.RESULT_FILE, {"record": {**record, "config": {**record["config"], "demos": elsewhere}},
                                              "returns": [1.0]})
    assert study.completed(tmp_path, record)["returns"] == [1.0]
    # a user's own file and a file the shipped folder does not hold keep their paths
    own = tmp_path / "continuous" / "experts" / "point_maze" / "demos.npz"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"")
    assert study.portable(str(own)) == str(own)
    # another checkout that still exists, holding the same bytes, names the shipped file
    other = tmp_path / "other" / "continuous" / "experts" / "point_maze" / "demos.npz"
    other.parent.mkdir(parents=True)
    other.write_bytes(shipped.read_bytes())
    assert study.portable(str(other)) == "continuous/experts/point_maze/demos.npz"
    assert study.portable("/elsewhere/continuous/experts/point_maze/none.npz") == "/elsewhere/continuous/experts/point_maze/none.npz"
    with pytest.raises(InvalidConfigError, match=r"another configuration \(config.demos: 'continuous/experts/point_maze/"
                                                 r"demos.npz' -> '.*/continuous/experts/point_maze/demos.npz'\)"):
        study.completed(tmp_path, {**record, "config": {**record["config"], "demos": str(own)}})
    with pytest.raises(InvalidConfigError, match=r"another configuration \(config.ppo.gamma: 0.99 -> 0.9\); delete"):
        study.completed(tmp_path, {**record, "config": {**record["config"], "ppo": {"gamma": 0.9}}})


def test_ctrl_c_in_a_training_stage_says_how_to_continue(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train_lib, "train", lambda *a, **k: {"status": "interrupted", "iterations": 1})
    assert cli.main(_bench("--runs", tmp_path / "runs", "--out", tmp_path / "out")) == 130
    err = capsys.readouterr().err
    assert "interrupted (training of" in err and "completed stages are kept" in err
    assert f"continue with: trirl bench table1 --study {TINY} --no-progress --runs {tmp_path / 'runs'}" in err


def test_shipped_table1_spec_loads_with_ten_or_more_seeds_and_the_papers_point_maze_row():
    spec = study_lib.load_study("table1_point_maze")
    assert spec.train.seeds >= 10 and spec.transfer_env == "point_maze_mirrored"
    assert list(spec.variants) == ["trirl_goal", "trirl_rbf", "trirl_mlp", "gail", "airl"]
    assert spec.paper["TRIRL"] == {"training": [1.03, 0.01], "retraining": [0.98, 0.01], "transfer": [0.96, 0.001]}
    assert spec.paper["AIRL"]["transfer"] == [0.06, 0.64]
    assert study_lib.train_config(spec, spec.variants["airl"]).discriminator.input_mode == "state_transition"


def test_only_names_known_variants(tmp_path, capsys):
    assert cli.main(_bench("--runs", tmp_path / "runs", "--out", tmp_path / "out", "--only", "trirl,dqn")) == 2
    assert "--only: unknown variant dqn; the study's are trirl, gail" in capsys.readouterr().err


def test_the_printed_table_keeps_the_papers_stage_order_after_a_json_round_trip():
    import re

    values = dict.fromkeys(("training", "retraining", "transfer"), [0.5, 0.6, 0.7, 0.8])
    summary = json.loads(json.dumps(_summary({"good": values}, {"good": [[0.0] * 4] * 3}), sort_keys=True))
    (line,) = [line for line in study_lib.format_table(summary).splitlines() if line.strip().startswith("GOOD")]
    assert re.search(r"GOOD +training 0\.65 .*; retraining 0\.65 .*\(control .*; transfer 0\.65 ", line), line


def test_shards_split_the_variants_into_disjoint_sets_that_cover_the_study():
    spec = study_lib.load_study(TINY)
    for n in range(1, 5):
        shards = [study_lib.shard_variants(spec, k, n) for k in range(1, n + 1)]
        flat = [name for shard in shards for name in shard]
        assert sorted(flat) == sorted(spec.variants) and len(flat) == len(set(flat)), n
    assert study_lib.shard_variants(spec, 3, 3) == ()  # more shards than variants: an empty one


@pytest.mark.parametrize("shard", ["0/2", "3/2", "a/b", "1/0", "2"])
def test_a_bad_shard_names_the_flag_and_the_form(tmp_path, capsys, shard):
    assert cli.main(_bench("--runs", tmp_path / "runs", "--shard", shard)) == 2
    err = capsys.readouterr().err
    assert f"--shard {shard!r}: expected K/N with 1 <= K <= N" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_shard_only_and_aggregate_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(_bench("--runs", tmp_path, "--shard", "1/2", "--aggregate"))
    assert exit_.value.code == 2
    assert "--shard and --aggregate exclude each other" in capsys.readouterr().err


def test_aggregate_of_a_folder_without_complete_stages_says_what_is_missing(tmp_path, capsys):
    assert cli.main(_bench("--runs", tmp_path / "runs", "--out", tmp_path / "out", "--aggregate")) == 2
    err = capsys.readouterr().err
    assert "--aggregate: " in err and "trirl: training, retraining, transfer; gail: training, retraining, transfer" in err
    assert not (tmp_path / "out").exists()


def test_saved_results_list_missing_stages_and_a_control_another_variant_has_not_trained(tmp_path):
    """TRIRL owns both controls; GAIL's retraining is done but TRIRL's is not, so GAIL's table row
    lacks its retraining control as well as its transfer."""
    spec = study_lib.load_study(TINY)
    runs = tmp_path / "runs"
    for name in spec.variants:
        path = runs / name / "training"
        path.mkdir(parents=True)
        record = study_lib.training_record(study_lib.train_config(spec, spec.variants[name]))
        (path / study_lib.RESULT_FILE).write_text(json.dumps({"record": record, "returns": [0.0, 1.0]}))
    gail = runs / "gail" / "retraining"
    gail.mkdir()
    record = study_lib.retraining_record("retraining", spec.env, runs / "gail" / "training", spec.retrain, control=False)
    (gail / study_lib.RESULT_FILE).write_text(json.dumps({"record": record, "returns": [0.0, 1.0]}))
    results, missing = study_lib.saved_results(spec, runs)
    assert results == {}
    assert missing == {"trirl": ["retraining", "transfer"], "gail": ["transfer"]}

    # TRIRL's retraining done: GAIL still lacks its transfer; with it, GAIL's row is complete
    trirl = runs / "trirl" / "retraining"
    trirl.mkdir()
    record = study_lib.retraining_record("retraining", spec.env, runs / "trirl" / "training", spec.retrain, control=True)
    (trirl / study_lib.RESULT_FILE).write_text(json.dumps({"record": record, "returns": [0.0, 1.0]}))
    gail_transfer = runs / "gail" / "transfer"
    gail_transfer.mkdir()
    record = study_lib.retraining_record("transfer", spec.transfer_env, runs / "gail" / "training", spec.retrain,
                                         control=False)
    (gail_transfer / study_lib.RESULT_FILE).write_text(json.dumps({"record": record, "returns": [0.0, 1.0]}))
    results, missing = study_lib.saved_results(spec, runs)
    assert missing == {"trirl": ["transfer"], "gail": ["transfer (its true-reward control, trained by trirl)"]}
    assert results == {}


def test_each_variants_train_config_is_built_once_per_study(tmp_path, monkeypatch):
    """load_study builds every variant's TrainConfig (checking them all before anything runs); the
    stages, the controls and the aggregate take them from the study instead of parsing again."""
    from trirl.continuous import train

    parsed = []
    load_config = train.load_config
    monkeypatch.setattr(train, "load_config", lambda *args, **kwargs: parsed.append(args) or load_config(*args, **kwargs))
    spec = study_lib.load_study(TINY)
    assert len(parsed) == len(spec.variants) and set(spec.configs) == set(spec.variants)
    assert spec.configs["gail"] == study_lib.train_config(spec, spec.variants["gail"])  # one copy of the rules
    parsed.clear()
    study_lib.control_owners(spec)
    results, missing = study_lib.saved_results(spec, tmp_path / "runs")
    assert not parsed and not results and set(missing) == set(spec.variants)
