"""The exact projection onto the shaping class of rewards of (s, a) (trirl.tabular.shaping)."""

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


def test_issue_worked_check_trirl_reward_matches_up_to_shaping(icy):
    """icy_goal, the `trirl grid` defaults: c = 1 and a relative residual ~6e-6; a random reward ~0.9."""
    world, _, rho_expert = icy
    result = trirl(world.mdp, rho_expert, eps=0.5, beta=1e4, eta=49_999.0, iterations=100)
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
