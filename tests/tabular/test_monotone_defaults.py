"""Monotone by default on every world a user brings.

TRIRL's default step is safeguarded by the exact dual (``TRIRLConfig.safeguard``); the paper's
fixed step is ``safeguard=False`` / ``trirl grid --safeguard off`` / the ``trirl-fixed`` row. Here:
the property over generated user worlds and random MDPs (``trirl.verify``), the shipped worlds,
their variants and the Gymnasium toy-text worlds under the defaults, a 5 x 9 student maze where
the fixed step fails, and exact expert occupancies that are tiny but not 0.
"""

import json
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings

from trirl.bench.tabular_baselines import forward_occupancy
from trirl.cli import main
from trirl.errors import DualIncreaseWarning
from trirl.rundir import read_metrics
from trirl.tabular import expert_occupancy, gridworld, solve, trirl
from trirl.tabular.examples import STUDENT_MAZE, STUDENT_MAZE_TOML, student_maze
from trirl.tabular.gridworld import GridSpec, from_cells
from trirl.tabular.occupancies import FLOAT_FLOOR, _solve_policy_system, state_occupancy, underflowed_pairs
from trirl.verify import properties as P
from trirl.verify import strategies as vs

# the examples of one property run TRIRL to convergence each: a third of the profile's examples
EXPENSIVE = settings(max_examples=max(10, settings.default.max_examples // 3))


def assert_holds(name, *example):
    prop = P.BY_NAME[name]
    violation = prop.check(*example)
    assert violation <= prop.tolerance, f"{name}: violation {violation:.3e} > {prop.tolerance:.1e}"


def dual_rises(result) -> int:
    dual = result.metric("dual")
    return int(np.sum(np.diff(dual) > 1e-11 * np.maximum(1.0, np.abs(dual[:-1]))))


# -- the property over worlds users write -------------------------------------------------------


@EXPENSIVE
@given(vs.user_worlds(max_rows=5, max_cols=7))
def test_defaults_reach_the_expert_on_user_worlds(world):
    assert_holds("defaults_on_user_worlds", world)


@EXPENSIVE
@given(P.BY_NAME["defaults_on_random_mdps"].strategy())
def test_defaults_reach_the_expert_on_random_mdps(example):
    assert_holds("defaults_on_random_mdps", *example)


def test_generated_worlds_are_in_the_documented_format(tmp_path):
    """A generated world saved as files loads to the same MDP (what a counterexample's files give)."""
    world = vs.UserWorld(("S.~#", ".L.G", "~..."), 0.99, -0.1, 0.1, 0.6, "left", 0.3, "uniform", ("goal",))
    (tmp_path / "world.txt").write_text(world.text())
    (tmp_path / "world.toml").write_text(world.toml())
    loaded, built = gridworld.load(tmp_path / "world.toml"), world.build()
    np.testing.assert_array_equal(loaded.mdp.transitions, built.mdp.transitions)
    np.testing.assert_array_equal(loaded.mdp.initial, built.mdp.initial)
    np.testing.assert_array_equal(loaded.reward, built.reward)
    assert loaded.mdp.discount == 0.99 and list(loaded.spec.absorbing) == ["goal"]


def test_the_fixed_step_fails_the_property_somewhere():
    """The property can fail: the paper's fixed step breaks it on a generated user world (the
    shrunk counterexample of the generator with safeguard=False, kept as a regression)."""
    world = vs.UserWorld(("LS", "G."), 0.95, 0.0, 0.0, 0.3, "up", 0.0, "marked", ("goal", "lava"))
    built = world.build()
    rho_e = expert_occupancy(built.mdp, solve(built.mdp, built.reward).log_policy)
    with pytest.warns(DualIncreaseWarning):
        fixed = trirl(built.mdp, rho_e, iterations=100, safeguard=False)
    assert dual_rises(fixed) > 0
    assert_holds("defaults_on_user_worlds", world)


# -- the student maze: 5 x 9, one lava cell, a goal, discount 0.95, step cost -0.1 --------------

def write_maze(tmp_path):
    (tmp_path / "student_maze.txt").write_text("\n".join(STUDENT_MAZE) + "\n")
    path = tmp_path / "student_maze.toml"
    path.write_text(STUDENT_MAZE_TOML)
    return path


def test_student_maze_reaches_the_expert_and_its_reward_with_the_defaults(tmp_path, capsys):
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DualIncreaseWarning)
        assert main(["grid", "--world", str(write_maze(tmp_path)), "--iterations", "200", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "iterations where it got worse: 0" in printed and "safeguard on" in printed
    rows = read_metrics(out)
    assert rows[-1]["reverse_kl"] <= 1e-6
    assert rows[-1]["reward_distance"] < 1e-3  # the true reward, up to scale, offset and shaping
    assert json.loads((out / "config.json").read_text())["safeguard"] is True
    loaded = gridworld.load(tmp_path / "student_maze.toml")
    np.testing.assert_array_equal(loaded.mdp.transitions, student_maze().mdp.transitions)
    np.testing.assert_array_equal(loaded.reward, student_maze().reward)


def test_student_maze_breaks_the_fixed_step_and_its_reward(tmp_path, capsys):
    """The finding: the paper's fixed step (alpha = 0.1, monotone on every shipped world) makes the
    dual worse in about half of its iterations here, ends farther from the expert than it began, and
    its reward is far from the true one up to shaping (the lava cell pays, shaping removed)."""
    out = tmp_path / "fixed"
    assert main(["grid", "--world", str(write_maze(tmp_path)), "--safeguard", "off", "--iterations", "100",
                 "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    # the command's user reads the warning as one plain line, not as a Python source line
    assert re.search(r"^trirl grid: warning: .*alpha = eps \* beta / \(1 \+ eta\) = 0.1", captured.err, re.M)
    assert "warnings.warn" not in captured.err and ".py:" not in captured.err
    assert "safeguard off" in printed and "rerun with --safeguard on (the default)" in printed
    rows = read_metrics(out)
    dual = np.array([r["dual"] for r in rows])
    assert np.sum(np.diff(dual) > 0) >= 30
    assert rows[-1]["reverse_kl"] > rows[0]["reverse_kl"]
    assert rows[-1]["reward_distance"] > 0.3  # unrelated rewards are at ~0.71
    assert "--safeguard off" in json.loads((out / "config.json").read_text())["rerun"]


# -- every shipped world and variant, and the toy-text worlds ------------------------------------


@pytest.mark.parametrize("name", gridworld.names())
def test_shipped_worlds_and_variants_are_monotone_under_the_defaults(name):
    for variant in [None, *gridworld.variants(name)]:
        world = gridworld.load(name, variant)
        rho_e = expert_occupancy(world.mdp, solve(world.mdp, world.reward).log_policy)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DualIncreaseWarning)
            result = trirl(world.mdp, rho_e, iterations=100)
        assert dual_rises(result) == 0, (name, variant)
        assert result.metric("reverse_kl")[-1] <= 1e-3, (name, variant)


@pytest.mark.parametrize("env", ["Taxi", "FrozenLake 8x8", "FrozenLake 4x4", "CliffWalking"])
def test_toy_text_worlds_run_and_are_monotone_under_the_defaults(env):
    gym = pytest.importorskip("gymnasium")
    from trirl.bench.demos import frozen_lake
    from trirl.bench.tabular_baselines import taxi_problem
    from trirl.tabular.gym import from_gymnasium

    if env == "Taxi":
        _, mdp, reward = taxi_problem()
    elif env == "FrozenLake 8x8":
        world = frozen_lake(gym)
        mdp, reward = world.mdp, world.reward
    else:
        name = "FrozenLake-v1" if env == "FrozenLake 4x4" else next(i for i in ("CliffWalking-v1", "CliffWalking-v0")
                                                                 if i in gym.registry)
        converted = from_gymnasium(name, discount=0.99)
        mdp, reward = converted.mdp, converted.reward
    rho_e = expert_occupancy(mdp, solve(mdp, reward).log_policy)  # not refused: no 0 on a reachable pair
    with warnings.catch_warnings():
        warnings.simplefilter("error", DualIncreaseWarning)
        result = trirl(mdp, rho_e, iterations=25)
    assert dual_rises(result) == 0
    kl = result.metric("reverse_kl")
    assert kl[-1] < 0.1 * kl[0]


# -- occupancies with relative precision ---------------------------------------------------------

# a region reachable only by a long detour around the goal (a generated user world, dense storage)
DETOUR = [".....#.....", ".##...#....", "#.......#..", ".##L...G#..", "......#....", "......##...",
          "...L..#.#S.", "#...##..#.L", "....#.#..#."]


def test_a_tiny_expert_occupancy_is_positive_and_exact_relative_to_itself():
    world = from_cells(DETOUR, GridSpec(discount=0.96, step_cost=-0.1, slip={"floor": 0.05}))
    mdp = world.mdp
    expert = solve(mdp, world.reward)
    reachable = mdp.reachable
    # the plain solve is exact relative to max d only: it returns 0 for a true ~1e-25
    raw = _solve_policy_system(mdp, expert.policy, mdp.initial, transpose=True)
    assert np.any(raw[reachable] <= 0)
    d = state_occupancy(mdp, expert.policy)
    # forward propagation adds non-negative terms only: exact relative to each entry
    reference = forward_occupancy(mdp, expert.policy, tol=1e-60).sum(axis=1)
    assert reference[reachable].min() < 1e-24
    np.testing.assert_allclose(d[reachable], reference[reachable], rtol=1e-9, atol=0)
    rho_e = expert_occupancy(mdp, expert.log_policy)
    assert np.all(rho_e[reachable] > 0) and underflowed_pairs(mdp, rho_e) == 0
    result = trirl(mdp, rho_e, iterations=150)  # not refused
    assert dual_rises(result) == 0 and result.metric("reverse_kl")[-1] <= 1e-6


def test_an_underflowing_pair_is_held_at_the_float_floor():
    """A soft policy probability below 1e-308: outside the expert's support to float64's precision."""
    world = from_cells(["LS.G"], GridSpec(discount=0.99, rewards={"goal": 3.0, "lava": -10.0}))
    mdp = world.mdp
    expert = solve(mdp, world.reward)
    assert np.min(expert.log_policy[mdp.reachable]) < np.log(FLOAT_FLOOR)
    rho_e = expert_occupancy(mdp, expert.log_policy)
    assert underflowed_pairs(mdp, rho_e) > 0 and np.all(rho_e[mdp.reachable] >= FLOAT_FLOOR)
    assert rho_e.sum() == pytest.approx(mdp.mass, rel=1e-12)
    result = trirl(mdp, rho_e, iterations=60)
    assert dual_rises(result) == 0 and result.metric("reverse_kl")[-1] <= 1e-6


def test_a_world_without_preference_runs_with_a_warning(tmp_path, capsys):
    """The goal is walled off: every policy is equally good under the true reward."""
    (tmp_path / "closed.txt").write_text("S..#G\n...#.\n")
    (tmp_path / "closed.toml").write_text("discount = 0.95\nstep_cost = -0.1\n")
    out = tmp_path / "run"
    assert main(["grid", "--world", str(tmp_path / "closed.toml"), "--iterations", "10", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert re.search(r"^trirl grid: warning: .*no preference", captured.err, re.M)
    assert "not compared" in printed and (out / "figure2.png").exists()
    assert "expert-normalised: n/a" in printed and "expert-normalised nan" not in printed


# -- MCE-IRL gets the same safeguard -------------------------------------------------------------


def test_mce_irl_is_safeguarded_by_default_and_plain_by_name():
    from trirl.tabular import random_mdp
    from trirl.tabular.algorithms.mce_irl import mce_irl

    mdp = random_mdp(1, n_states=8, n_actions=4, discount=0.95, sparsity=4.0)
    rho_e = expert_occupancy(mdp, solve(mdp, np.random.default_rng(1).normal(size=mdp.shape) * 2).log_policy)
    with pytest.warns(DualIncreaseWarning, match="mce-irl"):
        plain = mce_irl(mdp, rho_e, lr=20.0, iterations=10, safeguard=False)
    assert dual_rises(plain) > 0
    safe = mce_irl(mdp, rho_e, lr=20.0, iterations=10)
    assert dual_rises(safe) == 0 and safe.history[-1]["total_backtracks"] > 0
    assert safe.metric("reverse_kl")[-1] < plain.metric("reverse_kl")[-1]
    # where the plain step is fine, the safeguard takes the same steps
    np.testing.assert_array_equal(mce_irl(mdp, rho_e, lr=0.5, iterations=5).reward,
                                  mce_irl(mdp, rho_e, lr=0.5, iterations=5, safeguard=False).reward)


def test_grid_notes_pairs_whose_expert_mass_underflows(tmp_path, capsys):
    (tmp_path / "w.txt").write_text("LS.G\n")
    (tmp_path / "w.toml").write_text("discount = 0.99\n\n[rewards]\ngoal = 3.0\nlava = -10.0\n")
    out = tmp_path / "run"
    assert main(["grid", "--world", str(tmp_path / "w.toml"), "--iterations", "5", "--out", str(out), "--quiet",
                 "--safeguard", "auto"]) == 0  # the old spelling of the default
    printed = capsys.readouterr().out
    assert "its mass underflows float64" in printed and "outside the expert's support" in printed
    assert "smooth" not in printed
    assert json.loads((out / "config.json").read_text())["safeguard"] is True


def test_figure2_of_a_world_without_preference_says_so():
    from trirl.tabular import plots

    world = from_cells(["S..#G", "...#."], GridSpec(step_cost=-0.1))
    expert = solve(world.mdp, world.reward)
    result = trirl(world.mdp, expert_occupancy(world.mdp, expert.log_policy), iterations=3)
    fig = plots.figure2(world, expert.policy, world.reward, result)
    shown = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "no preference" in shown and "not compared" in shown
    assert not any(ax.axison for ax in fig.axes[6:8])  # the grid's last two panels: no reward fit drawn for nothing
