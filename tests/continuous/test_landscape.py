"""The reward-landscape figure and the pre-retraining check (trirl.continuous.landscape)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from trirl.continuous import landscape as lsc  # noqa: E402
from trirl.continuous.envs import point_maze  # noqa: E402

pytestmark = pytest.mark.continuous

GOAL = jnp.asarray(point_maze.GOAL)


def goal_reward(obs, action):
    return -jnp.linalg.norm(obs - GOAL, axis=-1) - 0.1 * jnp.sum(action**2, axis=-1)


def corner_bump(obs, action):
    """Pays most at the wall's left end, (0, 0.45), far from any expert path."""
    return jnp.exp(-jnp.sum((obs - jnp.array([0.0, 0.45])) ** 2, axis=-1) / 0.01) + 0.0 * action[:, 0]


def test_landscape_rows_are_y_columns_are_x_and_best_is_over_actions():
    view = lsc.landscape(goal_reward, grid=11, actions=5)
    row, col = np.unravel_index(view.best.argmax(), view.best.shape)
    assert (view.xs[col], view.ys[row]) == pytest.approx(point_maze.GOAL)
    np.testing.assert_allclose(view.best_action[row, col], [0.0, 0.0])  # no control cost
    assert np.all(view.best >= view.mean)
    # mean over the 5 x 5 actions in [-1, 1]^2: the control cost averages 0.1 * 2 * mean(a^2)
    np.testing.assert_allclose(view.best - view.mean, 0.1 * 2 * np.mean(np.linspace(-1, 1, 5) ** 2), rtol=1e-5)


def test_figure_shows_the_goal_bright_the_axes_labelled_and_y_upwards():
    view = lsc.landscape(goal_reward, grid=21, actions=3)
    paths = [np.array([[0.5, 0.2], [0.8, 0.5], [0.5, 0.8]])]
    fig = lsc.plot(view, paths, title="test")
    best_ax, mean_ax = fig.axes[0], fig.axes[1]  # the colorbars come after them
    for ax, name in ((best_ax, "max over actions"), (mean_ax, "mean over actions")):
        assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
        assert name in ax.get_title()
        image = ax.get_images()[0]
        assert image.origin == "lower" and tuple(image.get_extent()) == (0.0, 1.0, 0.0, 1.0)
        shown = np.asarray(image.get_array())
        row, col = np.unravel_index(shown.argmax(), shown.shape)
        # the brightest pixel is the goal (0.5, 0.8): row 16 of 21 counted from the bottom
        assert (col, row) == (10, 16)
    labels = [line.get_label() for line in best_ax.get_lines()]
    assert {"wall", "goal", "demonstrations"} <= set(labels)
    np.testing.assert_allclose(best_ax.get_lines()[labels.index("demonstrations")].get_xydata(), paths[0])
    wall = best_ax.get_lines()[labels.index("wall")].get_xydata()
    np.testing.assert_allclose(wall, [[0.0, 0.5], [0.65, 0.5]])  # the wall from the left, gap on the right


def test_overpaying_finds_the_bump_away_from_the_demonstrations():
    demo_obs = np.array([[0.5, 0.2], [0.75, 0.35], [0.8, 0.55], [0.6, 0.75], [0.5, 0.8]])
    demo_actions = np.zeros_like(demo_obs)
    view = lsc.landscape(corner_bump, grid=41, actions=3)
    check = lsc.overpaying(corner_bump, view, demo_obs, demo_actions, min_distance=0.1)
    assert check.worst_position == pytest.approx([0.0, 0.45], abs=0.026)
    assert check.worst_reward > 0.9 and check.demo_reward < 0.01
    assert 0.0 < check.share < 1.0
    # a reward that pays only on the demonstrations overpays nowhere far from them
    on_demos = lambda obs, action: -jnp.min(jnp.linalg.norm(obs[:, None] - demo_obs[None], axis=-1), axis=-1)  # noqa: E731
    view = lsc.landscape(on_demos, grid=41, actions=3)
    assert lsc.overpaying(on_demos, view, demo_obs, demo_actions).share == 0.0
