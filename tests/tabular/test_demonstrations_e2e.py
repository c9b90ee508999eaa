"""Learning from demonstrations as a user does it: sampled or hand-written trajectories, end to end.

Two cases a user meets: `trirl grid --world four_rooms --demos 100` and FrozenLake 8x8 (slippery)
from 50 demonstrations diverged silently with the fixed step (dual worse in 41 and 23
iterations). With the safeguard they recover the expert; without it the dual's rise is a warning.
"""

import json
import re
import warnings

import numpy as np
import pytest

from trirl.cli import main
from trirl.errors import DualIncreaseWarning, InvalidDemonstrationError
from trirl.rundir import read_metrics
from trirl.tabular import (
    ALGORITHMS,
    empirical_occupancy,
    gridworld,
    load_trajectories,
    sample_trajectories,
    save_trajectories,
    solve,
    trirl,
)
from trirl.tabular.compare import normalised_return
from trirl.tabular.driver import dual_increased


def dual_rises(metrics) -> int:
    dual = [row["dual"] for row in metrics]
    return sum(dual_increased(a, b) for a, b in zip(dual, dual[1:]))


def normalised_from_summary(text: str) -> float:
    return float(re.search(r"expert-normalised (-?[0-9.e+-]+)", text).group(1))


def test_grid_four_rooms_from_100_demonstrations_recovers_the_expert(tmp_path):
    # the README's example, default flags: the safeguard is on with demonstrations
    out = tmp_path / "run"
    assert main(["grid", "--world", "four_rooms", "--demos", "100", "--out", str(out), "--quiet"]) == 0
    summary = (out / "summary.txt").read_text()
    assert normalised_from_summary(summary) >= 0.9, summary
    assert dual_rises(read_metrics(out)) == 0
    assert json.loads((out / "config.json").read_text())["safeguard"] is True


def test_grid_without_the_safeguard_says_why_it_diverges(tmp_path, capsys):
    out = tmp_path / "off"
    assert main(["grid", "--world", "four_rooms", "--demos", "100", "--safeguard", "off", "--iterations", "10",
                 "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"^trirl grid: warning: .*alpha = eps \* beta / \(1 \+ eta\) = 0.1 .*lambda_max.*safeguard",
                     captured.err, re.M)
    assert dual_rises(read_metrics(out)) > 0
    assert "rerun with --safeguard on" in captured.out


def frozen_lake_8x8():
    gym = pytest.importorskip("gymnasium")
    from trirl.bench.demos import frozen_lake

    return frozen_lake(gym)


def test_frozen_lake_8x8_from_50_demonstrations():
    world = frozen_lake_8x8()
    expert = solve(world.mdp, world.reward)
    rho = empirical_occupancy(world.mdp, sample_trajectories(world.mdp, expert.policy, 50, 200, seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DualIncreaseWarning)
        safe = trirl(world.mdp, rho, eps=0.5, beta=1e4, eta=49_999.0, iterations=100, safeguard=True)
    assert dual_rises(safe.history) == 0
    assert normalised_return(world, safe.policy) >= 0.9
    with pytest.warns(DualIncreaseWarning, match="safeguard=True"):
        plain = trirl(world.mdp, rho, eps=0.5, beta=1e4, eta=49_999.0, iterations=30, safeguard=False)
    assert dual_rises(plain.history) > 0


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_warns_exactly_when_its_dual_rises(name):
    world = gridworld.load("icy_goal")
    expert = solve(world.mdp, world.reward)
    rho = empirical_occupancy(world.mdp, sample_trajectories(world.mdp, expert.policy, 20, 200, seed=0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ALGORITHMS[name](world.mdp, rho, 15)
    raised = [w for w in caught if issubclass(w.category, DualIncreaseWarning)]
    assert len(raised) == (1 if dual_rises(result.history) else 0)
    if raised:
        message = str(raised[0].message)
        assert message.startswith(f"{name}: the dual G(r) got worse at iteration") and "Cause:" in message and "Remedy:" in message


# -- your own demonstrations ----------------------------------------------------------------------

# open_room: 6x6, no walls, state = 6 * row + col; actions up, down, left, right, stay = 0..4.
# Two episodes reach the absorbing goal (35), the third is cut short after three steps.
HAND_WRITTEN = """episode,step,state,action,absorbing
east-first,0,0,3,0
east-first,1,1,3,0
east-first,2,2,3,0
east-first,3,3,3,0
east-first,4,4,3,0
east-first,5,5,1,0
east-first,6,11,1,0
east-first,7,17,1,0
east-first,8,23,1,0
east-first,9,29,1,0
east-first,10,35,,1
zigzag,0,0,1,0
zigzag,1,6,3,0
zigzag,2,7,1,0
zigzag,3,13,3,0
zigzag,4,14,1,0
zigzag,5,20,3,0
zigzag,6,21,1,0
zigzag,7,27,3,0
zigzag,8,28,1,0
zigzag,9,34,3,0
zigzag,10,35,,1
short,0,0,1,0
short,1,6,1,0
short,2,12,3,0
short,3,13,,0
"""


def test_grid_learns_from_a_hand_written_file(tmp_path, capsys):
    world = gridworld.load("open_room")
    assert world.state_index[5, 5] == 35 and world.action_names[:4] == ("up", "down", "left", "right")
    path = tmp_path / "my_demos.csv"
    path.write_text(HAND_WRITTEN)
    out = tmp_path / "run"
    assert main(["grid", "--world", "open_room", "--demos-file", str(path), "--iterations", "30",
                 "--out", str(out), "--quiet"]) == 0
    # the short episode: a truncation warning (horizon 3), as the command's own line
    captured = capsys.readouterr()
    assert re.search(r"^trirl grid: warning: .*horizon 3", captured.err, re.M)
    printed = captured.out
    assert "3 demonstrations from" in printed and "2 ending in an absorbing state" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["demos_file"] == str(path) and "--demos-file" in config["rerun"]
    assert dual_rises(read_metrics(out)) == 0
    # the learnt policy heads for the goal like the demonstrations: right or down from the start
    demos = load_trajectories(path, world.mdp)
    np.testing.assert_array_equal(demos.lengths, [10, 10, 3])
    np.testing.assert_array_equal(demos.absorbed, [True, True, False])
    assert normalised_from_summary((out / "summary.txt").read_text()) > 0.5


def test_demonstration_files_round_trip(tmp_path):
    world = gridworld.load("icy_goal")
    expert = solve(world.mdp, world.reward)
    demos = sample_trajectories(world.mdp, expert.policy, 7, 30, seed=3)
    rho = empirical_occupancy(world.mdp, demos, warn=False)
    for suffix in (".csv", ".npz"):
        path = save_trajectories(tmp_path / f"d{suffix}", demos)
        loaded = load_trajectories(path, world.mdp)
        np.testing.assert_allclose(empirical_occupancy(world.mdp, loaded, warn=False), rho, rtol=1e-12)


@pytest.mark.parametrize("text, message", [
    ("episode,step,state\n0,0,1\n", r"line 1: .*missing \['action'\]"),
    ("episode,step,state,action\n0,0,1,3\n0,2,2,\n", r"line 3: step is 2, expected 1"),
    ("episode,step,state,action\n0,0,x,3\n0,1,2,\n", r"line 2: state is 'x', expected an integer"),
    ("episode,step,state,action\n0,0,99,3\n0,1,2,\n", r"line 2: state is 99, expected an index in \[0, 36\)"),
    ("episode,step,state,action\n0,0,0,7\n0,1,2,\n", r"line 2: action is 7, expected an index in \[0, 5\)"),
    ("episode,step,state,action\n0,0,0,3\n0,1,1,3\n", r"line 3: episode '0' ends with action 3"),
    ("episode,step,state,action,absorbing\n0,0,0,3,0\n0,1,1,,1\n", r"line 3: absorbing is 1 but state 1 is not absorbing"),
    ("episode,step,state,action\n0,0,0,3\n0,1,1,\n1,0,0,1\n1,1,6,\n0,0,0,3\n0,1,1,\n", r"line 6: episode '0' continues"),
    ("episode,step,state,action\n0,0,0,3,5\n", r"line 2: 5 fields, expected 4"),
])
def test_bad_demonstration_files_name_the_line_and_field(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InvalidDemonstrationError, match=message):
        load_trajectories(path, gridworld.load("open_room").mdp)


def test_a_csv_may_name_its_actions_and_a_bad_name_lists_them(tmp_path, capsys):
    world = gridworld.load("open_room")
    by_index, by_name = tmp_path / "index.csv", tmp_path / "name.csv"
    by_index.write_text("episode,step,state,action\n0,0,0,3\n0,1,1,1\n0,2,7,\n")
    by_name.write_text("episode,step,state,action\n0,0,0,right\n0,1,1,down\n0,2,7,\n")
    named = load_trajectories(by_name, world.mdp, world.action_names)
    np.testing.assert_array_equal(named.actions, load_trajectories(by_index, world.mdp).actions)
    # what a user of trirl grid sees for a misspelt name: the line, the field and every name allowed
    by_name.write_text("episode,step,state,action\n0,0,0,rigth\n0,1,1,\n")
    assert main(["grid", "--world", "open_room", "--demos-file", str(by_name), "--out", str(tmp_path / "run"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert ("name.csv line 2: action is 'rigth', expected an integer or an action name "
            "(0 up, 1 down, 2 left, 3 right, 4 stay)") in err
    by_name.write_text("episode,step,state,action\n0,0,0,right\n0,1,1,\n")
    with pytest.raises(InvalidDemonstrationError, match=r"action is 'right', expected an integer$"):
        load_trajectories(by_name, world.mdp)  # without the names, only indices


def test_grid_refuses_two_sources_and_a_missing_file(tmp_path, capsys):
    assert main(["grid", "--demos", "5", "--demos-file", str(tmp_path / "x.csv"), "--out", str(tmp_path / "a"), "--quiet"]) == 2
    assert "--demos-file and --demos" in capsys.readouterr().err
    assert main(["grid", "--demos-file", str(tmp_path / "x.csv"), "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# -- the data-scaling study -----------------------------------------------------------------------


def test_data_scaling_study_and_its_figure(tmp_path):
    from trirl.bench.demos import figure
    from trirl.bench.demos import main as study_main

    out = tmp_path / "study"
    assert study_main(["--quick", "--worlds", "open_room", "--algorithms", "trirl-safe", "mce-irl", "--out", str(out)]) == 0
    report = json.loads((out / "demos-scaling.json").read_text())
    assert report["size"]["name"] == "quick" and report["size"]["demos"] == [1, 30] and "command" in report["machine"]
    assert {r["algorithm"] for r in report["rows"]} == {"trirl-safe", "mce-irl"}
    assert (out / "demos-scaling.png").stat().st_size > 10_000
    fig = figure(report)
    top, kl, horizon = fig.axes[0], fig.axes[1], fig.axes[2]
    assert top.get_title() == "open_room" and top.get_ylabel() == "expert-normalised true return"
    assert kl.get_ylabel() == "reverse KL to the true expert" and kl.get_xscale() == "log" and kl.get_yscale() == "log"
    assert horizon.get_xlabel().startswith("horizon")
    # what it shows: more demonstrations, closer to the true expert; longer episodes, higher return
    for line in kl.get_lines():
        xs, ys = line.get_data()
        assert list(xs) == [1, 30] and ys[1] < ys[0], line.get_label()
    for line in horizon.get_lines()[:2]:
        xs, ys = line.get_data()
        assert list(xs) == [10, 200] and ys[1] > ys[0], line.get_label()
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["trirl-safe", "mce-irl"]
    needed = {row["algorithm"]: row for row in report["demonstrations_needed"]}
    for row in needed.values():
        assert row["demos_needed"] in (1, 30, None) and row["reverse_kl_most"] < row["reverse_kl_fewest"]
        assert (row["demos_needed"] is not None) == (row["return_most"] >= 0.9)
