"""``trirl compare``: the table, the transfer test and how rewards move between worlds."""

import json

import numpy as np
import pytest

from trirl.tabular import gridworld, solve
from trirl.tabular.compare import main, normalised_return, transfer_reward


def test_normalised_return_is_0_for_uniform_and_1_for_the_expert():
    world = gridworld.load("open_room", "windy")
    uniform = np.full(world.mdp.shape, 1.0 / world.mdp.n_actions)
    assert normalised_return(world, uniform) == pytest.approx(0.0, abs=1e-12)
    assert normalised_return(world, solve(world.mdp, world.reward).policy) == pytest.approx(1.0, abs=1e-12)


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
