"""``trirl compare``: the table, the transfer test and how rewards move between worlds."""

import io
import json
import sys

import numpy as np
import pytest

from trirl.tabular import gridworld, solve
from trirl.tabular.compare import main, markdown_table, normalised_return, reference_returns, transfer_reward


def test_normalised_return_is_0_for_uniform_and_1_for_the_expert():
    world = gridworld.load("open_room", "windy")
    uniform = np.full(world.mdp.shape, 1.0 / world.mdp.n_actions)
    assert normalised_return(world, uniform) == pytest.approx(0.0, abs=1e-12)
    assert normalised_return(world, solve(world.mdp, world.reward).policy) == pytest.approx(1.0, abs=1e-12)


def test_the_normalised_return_is_undefined_where_the_expert_is_no_better_than_uniform(tmp_path):
    (tmp_path / "flat.txt").write_text("S..\n...\n")
    (tmp_path / "flat.toml").write_text("step_cost = -0.1\n")  # no goal, no lava: every policy returns the same
    world = gridworld.load(tmp_path / "flat.toml")
    low, high = reference_returns(world)
    assert low == pytest.approx(high, abs=1e-12)
    assert np.isnan(normalised_return(world, solve(world.mdp, world.reward).policy))
    # where a table shows it, it reads n/a, not nan
    table = markdown_table([{"world": "flat", "normalised_return": float("nan")}], ["world", "normalised_return"])
    assert table.splitlines()[-1] == "| flat | n/a |"


@pytest.mark.parametrize("name", ["icy_goal", "four_rooms"])
def test_the_true_reward_and_the_expert_transfer_to_the_mirror_exactly(name):
    source, target = gridworld.load(name), gridworld.load(name, "mirrored")
    np.testing.assert_array_equal(transfer_reward(source, target, source.reward), target.reward)
    expert = solve(source.mdp, source.reward).policy
    np.testing.assert_allclose(transfer_reward(source, target, expert), solve(target.mdp, target.reward).policy, atol=1e-12)
    # moved by raw coordinates (the mirror ignored) the same reward is a different task
    raw = source.state_index[target.coords[:, 0], target.coords[:, 1]]
    assert normalised_return(target, solve(target.mdp, source.reward[raw]).policy) < 0.5


def test_transfer_reward_refuses_a_table_of_the_wrong_shape():
    source, target = gridworld.load("open_room"), gridworld.load("open_room", "windy")
    with pytest.raises(ValueError, match=r"reward has shape \(3, 5\), expected the source's \[S, A\]"):
        transfer_reward(source, target, np.zeros((3, 5)))


def test_compare_writes_the_table_the_transfer_rows_and_the_plot(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["--world", "open_room", "--algos", "trirl,mce-irl", "--iterations", "40", "--transfer", "--out", str(out)]) == 0
    payload = json.loads((out / "compare.json").read_text())
    assert [row["algorithm"] for row in payload["table"]] == ["trirl", "mce-irl"]
    trirl_row = payload["table"][0]
    assert trirl_row["reoptimised_recovers_expert"] and trirl_row["dual_got_worse"] == 0
    rows = {(r["variant"], r["method"]): r for r in payload["transfer"]}
    assert set(rows) >= {(v, m) for v in gridworld.variants("open_room") for m in ("trirl", "mce-irl")}
    # the mirror is a relabelling: a reward that recovers the expert scores (almost) 1 there
    assert rows["mirrored", "trirl"]["normalised_return"] == pytest.approx(1.0, abs=1e-2)
    assert (out / "compare-open_room.png").stat().st_size > 0
    assert "| open_room | trirl |" in (out / "compare.md").read_text()
    assert "wrote" in capsys.readouterr().out


def test_compare_gives_each_run_its_own_folder_and_refuses_to_mix_results(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["--algos", "trirl", "--iterations", "5", "--quiet"]
    assert main(["--world", "open_room", *args]) == 0
    (first,) = (tmp_path / "runs").glob("compare-open_room-*")
    assert (first / "compare.md").exists() and (first / "compare-open_room.png").exists()
    out = tmp_path / "cmp"
    assert main(["--world", "open_room", *args, "--out", str(out)]) == 0
    before = (out / "compare.json").read_text()
    with pytest.raises(SystemExit) as exit:
        main(["--world", "icy_goal", *args, "--out", str(out)])
    assert exit.value.code == 2
    assert "already holds results" in capsys.readouterr().err
    assert (out / "compare.json").read_text() == before  # nothing overwritten
    assert main(["--world", "icy_goal", *args, "--out", str(out), "--overwrite"]) == 0
    # the earlier world's plot is gone with its table
    assert sorted(p.name for p in out.iterdir()) == ["compare-icy_goal.png", "compare.json", "compare.md"]


def test_compare_refusal_names_the_flag(tmp_path, capsys):
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "compare.md").write_text("an earlier table\n")
    with pytest.raises(SystemExit):
        main(["--world", "open_room", "--algos", "trirl", "--iterations", "5", "--out", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert "--out" in err and "already holds results (compare.md)" in err and "--overwrite" in err
    for argv, message in [(["--iterations", "0"], "argument --iterations: expected an integer >= 1, got 0"),
                          (["--world", "nowhere"], "--world 'nowhere'")]:
        with pytest.raises(SystemExit):
            main([*argv, "--out", str(tmp_path / "new")])
        assert message in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_compare_shows_progress_on_a_terminal_unless_quiet(tmp_path, monkeypatch, quiet):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["--world", "open_room", "--algos", "trirl,mce-irl", "--iterations", "5", "--out", str(tmp_path / "c")]
    assert main(argv + (["--quiet"] if quiet else [])) == 0
    shown = terminal.getvalue()
    if quiet:
        assert shown == ""
    else:
        assert "open_room mce-irl" in shown and "2/2" in shown
