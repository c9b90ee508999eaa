"""The exact projection onto the shaping class of rewards of (s, a) (trirl.tabular.shaping)."""

import json

import numpy as np
import pytest

import trirl.tabular.shaping as shaping
from trirl.errors import InvalidConfigError
from trirl.tabular import gridworld, occupancy, solve, trirl
from trirl.tabular.shaping import shaping_fit


@pytest.fixture(scope="module")
def icy():
    world = gridworld.load("icy_goal")
    expert = solve(world.mdp, world.reward)
    return world, expert, occupancy(world.mdp, expert.policy)


@pytest.fixture(scope="module")
def icy_run(icy):
    """TRIRL on icy_goal with the `trirl grid` defaults, the distance logged every iteration."""
    world, _, rho_expert = icy
    observe = shaping.ShapingProjector(world.mdp, world.reward).metrics
    return trirl(world.mdp, rho_expert, eps=0.5, beta=1e4, eta=49_999.0, iterations=100, observe=observe)


def _shaping(mdp, phi):
    return (mdp.discount * (mdp.transition_matrix @ phi)).reshape(mdp.shape) - phi[:, None]


def test_recovers_scale_offset_and_potential_by_hand(icy):
    world, _, _ = icy
    mdp = world.mdp
    phi = np.random.default_rng(0).normal(size=mdp.n_states)
    phi[~mdp.reachable] = 0.0
    learned = 2.5 * world.reward + 1.3 + _shaping(mdp, phi)
    fit = shaping_fit(mdp, learned, world.reward)
    assert fit.scale == pytest.approx(2.5, abs=1e-10)
    assert fit.distance == pytest.approx(0.0, abs=1e-7)
    assert fit.relative_residual < 1e-10
    # the potential is identified up to a constant, which moves into the offset
    k = phi[mdp.reachable].mean()
    np.testing.assert_allclose(fit.potential[mdp.reachable], phi[mdp.reachable] - k, atol=1e-9)
    assert fit.offset == pytest.approx(1.3 + (mdp.discount - 1) * k, abs=1e-9)
    np.testing.assert_allclose(fit.unshaped[mdp.reachable], 2.5 * world.reward[mdp.reachable], atol=1e-9)


def test_distance_is_invariant_and_signed(icy):
    world, _, _ = icy
    mdp = world.mdp
    rng = np.random.default_rng(1)
    learned = rng.normal(size=mdp.shape)
    base = shaping_fit(mdp, learned, world.reward)
    moved = shaping_fit(mdp, 7.0 * learned - 4.0 + _shaping(mdp, rng.normal(size=mdp.n_states)), world.reward)
    assert moved.distance == pytest.approx(base.distance, abs=1e-10)
    assert moved.scale == pytest.approx(7.0 * base.scale, rel=1e-8)
    assert shaping_fit(mdp, -world.reward, world.reward).distance == pytest.approx(1.0, abs=1e-9)
    zero = shaping_fit(mdp, np.zeros(mdp.shape), world.reward)
    assert (zero.scale, zero.distance) == (0.0, pytest.approx(np.sqrt(0.5)))


def test_issue_worked_check_trirl_reward_matches_up_to_shaping(icy, icy_run):
    """icy_goal, the `trirl grid` defaults: c = 1 and a relative residual ~6e-6; a random reward ~0.9."""
    world, _, _ = icy
    result = icy_run
    fit = shaping_fit(world.mdp, result.reward, world.reward)
    assert fit.scale == pytest.approx(1.0, abs=1e-3)
    assert fit.relative_residual < 1e-4
    assert fit.distance < 1e-3
    rand = shaping_fit(world.mdp, np.random.default_rng(2).normal(size=world.mdp.shape), world.reward)
    assert rand.relative_residual > 0.8
    assert rand.distance > 0.5


def _epic_canonical(mdp, reward):
    """EPIC's canonicalisation of R(s, a, s') = r(s, a) with uniform coverage over states and actions."""
    r = reward[mdp.reachable]
    mean_next = r.mean(axis=1)  # E_A R(s', A, S'), a function of s'
    mean_all = r.mean()
    # C(R)(s, a, s') = R + gamma E_A R(s', A) - E_A R(s, A) - gamma E R, for every s'
    return (r[:, :, None] + mdp.discount * mean_next[None, None, :] - r.mean(axis=1)[:, None, None]
            - mdp.discount * mean_all)


def test_epic_sample_canonicalisation_does_not_remove_expected_shaping(icy):
    """Why the projection uses P: the same reward plus expected shaping is far in EPIC, 0 here."""
    world, _, _ = icy
    mdp = world.mdp
    shaped = world.reward + _shaping(mdp, np.random.default_rng(3).normal(size=mdp.n_states))
    a, b = _epic_canonical(mdp, world.reward).ravel(), _epic_canonical(mdp, shaped).ravel()
    epic = np.sqrt((1 - np.corrcoef(a, b)[0, 1]) / 2)
    assert epic > 0.1
    assert shaping_fit(mdp, shaped, world.reward).distance < 1e-7


def test_occupancy_weighting_and_large_world_path_agree(icy, monkeypatch):
    world, _, rho_expert = icy
    learned = np.random.default_rng(4).normal(size=world.mdp.shape)
    dense = shaping_fit(world.mdp, learned, world.reward, weights=rho_expert)
    monkeypatch.setattr(shaping, "DENSE_LIMIT", 0)
    sparse = shaping_fit(world.mdp, learned, world.reward, weights=rho_expert)
    assert sparse.scale == pytest.approx(dense.scale, abs=1e-8)
    assert sparse.distance == pytest.approx(dense.distance, abs=1e-8)
    np.testing.assert_allclose(sparse.unshaped, dense.unshaped, atol=1e-7)


def test_bad_input_names_the_argument(icy):
    world, _, _ = icy
    mdp = world.mdp
    with pytest.raises(InvalidConfigError, match=r"reward has shape \(3,\)"):
        shaping_fit(mdp, np.zeros(3), world.reward)
    bad = world.reward.copy()
    bad[0, 1] = np.nan
    with pytest.raises(InvalidConfigError, match=r"reward\[0, 1\] is nan"):
        shaping_fit(mdp, bad, world.reward)
    with pytest.raises(InvalidConfigError, match="true_reward is a potential shaping"):
        shaping_fit(mdp, world.reward, np.ones(mdp.shape))
    with pytest.raises(InvalidConfigError, match="weights must be >= 0"):
        shaping_fit(mdp, world.reward, world.reward, weights=-np.ones(mdp.shape))


def test_grid_reports_scale_and_distance_in_summary_metrics_and_figure(tmp_path):
    """`trirl grid`: summary.txt and every metrics.jsonl row carry the fit; figure 2 draws it."""
    import re

    from trirl.cli import main
    from trirl.rundir import read_metrics

    out = tmp_path / "run"
    assert main(["grid", "--world", "icy_goal", "--iterations", "60", "--out", str(out), "--quiet"]) == 0
    summary = (out / "summary.txt").read_text()
    found = re.search(r"scale c = ([\d.e+-]+), relative residual ([\d.e+-]+), shaping-invariant distance D = ([\d.e+-]+)", summary)
    assert found, summary
    c, residual, distance = map(float, found.groups())
    assert abs(c - 1) < 1e-2 and residual < 1e-2 and distance < 1e-2
    rows = read_metrics(out)
    assert all("reward_distance" in row and "reward_scale" in row for row in rows)
    assert rows[0]["reward_distance"] == pytest.approx(np.sqrt(0.5))  # r = 0: pure shaping
    assert rows[-1]["reward_distance"] == pytest.approx(distance, rel=0.05)
    assert rows[-1]["reward_distance"] < rows[1]["reward_distance"]


def test_figure2_draws_the_unshaped_learned_reward_beside_the_true_one(icy, icy_run):
    """The panel shows the match the text claims: the same image as the true reward's panel."""
    from trirl.tabular import plots

    world, expert, _ = icy
    result = icy_run
    fig = plots.figure2(world, expert.policy, world.reward, result)
    panels = {ax.get_title().split("\n")[0]: ax for ax in fig.axes}
    true_image = panels["true reward"].images[-1]
    unshaped = panels["learned reward minus fitted shaping, / c"].images[-1]
    raw = panels["learned reward, as learned"].images[-1]
    reachable = ~np.isnan(world.to_grid(np.where(world.mdp.reachable, 0.0, np.nan)))
    np.testing.assert_allclose(unshaped.get_array()[reachable], true_image.get_array()[reachable], atol=1e-3)
    assert unshaped.get_clim() == true_image.get_clim()
    assert np.abs(raw.get_array()[reachable] - true_image.get_array()[reachable]).max() > 0.5  # raw: it does not
    for ax in (panels["true reward"], panels["learned reward minus fitted shaping, / c"]):
        colorbar = ax.images[-1].colorbar
        assert colorbar.ax.get_ylabel().startswith("r(s)")
    assert panels["shaping-invariant distance D to the true reward"].get_ylabel().startswith("D")
    policy_axes = [ax for title, ax in panels.items() if "policy" in title]
    assert len(policy_axes) == 2 and all(ax.get_legend() is not None for ax in policy_axes)
    distance = [row["reward_distance"] for row in result.history]
    assert distance[0] == pytest.approx(np.sqrt(0.5)) and distance[-1] < 1e-3


def test_compare_reports_scale_and_distance_for_every_learned_reward(tmp_path):
    from trirl.tabular.compare import main as compare

    out = tmp_path / "cmp"
    assert compare(["--world", "open_room", "--algos", "trirl,gail", "--iterations", "40", "--out", str(out)]) == 0
    (path,) = out.rglob("compare.json")
    table = {row["algorithm"]: row for row in json.loads(path.read_text())["table"]}
    assert table["trirl"]["reward_distance"] < 0.05 and table["trirl"]["reward_scale"] > 0.5
    assert table["gail"]["reward_distance"] > table["trirl"]["reward_distance"]
    markdown = next(out.rglob("compare.md")).read_text()
    assert "reward_scale | reward_distance |" in markdown
