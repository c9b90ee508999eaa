"""What the figures show, checked on the rendered artists: arrow directions on screen, legends,
labels and the shaping-removed reward panel of Figure 2."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from trirl.tabular import gridworld, plots  # noqa: E402
from trirl.tabular.gridworld import ACTION_NAMES  # noqa: E402

# screen directions (x to the right, y up, as display coordinates count them)
SCREEN = {"up": (0.0, 1.0), "down": (0.0, -1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0)}


def _world():
    return gridworld.from_cells(["S....", ".....", ".#...", "....G"])


def _always(world, action):
    policy = np.zeros(world.mdp.shape)
    policy[:, ACTION_NAMES.index(action)] = 1.0
    return policy


def _screen_directions(ax):
    """Unit direction of every drawn arrow in display coordinates, read from the rendered polygons."""
    ax.figure.canvas.draw()
    quiver = next(c for c in ax.collections if isinstance(c, Quiver))
    transform = quiver.get_transform()  # arrow units -> display, a positive scaling
    origin = transform.transform((0.0, 0.0))
    directions = []
    for path in quiver.get_paths():
        points = transform.transform(path.vertices) - origin
        tip = points[np.argmax(np.linalg.norm(points, axis=1))]  # pivot 'tail': the tail is at 0
        directions.append(tip / np.linalg.norm(tip))
    return np.array(directions)


@pytest.mark.parametrize("action", ["down", "up", "left", "right"])
def test_policy_arrows_point_where_the_agent_moves_on_screen(action):
    world = _world()
    fig, ax = plt.subplots()
    plots.plot_policy(ax, world, _always(world, action))
    directions = _screen_directions(ax)
    assert len(directions) == int((~world.mdp.absorbing).sum())
    np.testing.assert_allclose(directions, np.tile(SCREEN[action], (len(directions), 1)), atol=1e-6)
    # and the data coordinates agree with the map: moving down is moving to a larger row, which
    # imshow draws lower on the screen
    start = ax.transData.transform((0, 0))
    below = ax.transData.transform((0, 1))
    assert below[1] < start[1]
    plt.close(fig)


@pytest.mark.parametrize("action", ["down", "right"])
def test_set_policy_updates_arrows_in_the_same_direction(action):
    """The widgets replace the arrows in place with plots.set_policy: one copy of the convention."""
    world = _world()
    fig, ax = plt.subplots()
    plots.plot_policy(ax, world, _always(world, "up"))
    plots.set_policy(ax, world, _always(world, action))
    directions = _screen_directions(ax)
    np.testing.assert_allclose(directions, np.tile(SCREEN[action], (len(directions), 1)), atol=1e-6)
    plt.close(fig)


def test_icy_goal_expert_goes_down_the_east_column():
    """The issue's case: a cell of icy_goal's east column where the expert moves down (p > 0.9)."""
    from trirl.tabular import solve

    world = gridworld.load("icy_goal")
    policy = solve(world.mdp, world.reward).policy
    fig, ax = plt.subplots()
    plots.plot_policy(ax, world, policy)
    directions = _screen_directions(ax)
    moving = np.flatnonzero(~world.mdp.absorbing)
    down = policy[moving, ACTION_NAMES.index("down")]
    assert down.max() > 0.9
    for i in np.flatnonzero(down > 0.9):
        assert directions[i][1] < -0.9, (world.coords[moving[i]], directions[i])
    plt.close(fig)


def test_cell_legend_names_the_cells_present():
    world = gridworld.load("icy_goal")
    fig, ax = plt.subplots()
    plots.plot_policy(ax, world, _always(world, "down"), legend=True)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ice", "lava", "goal", "start"]  # icy_goal has no walls
    plt.close(fig)


def _title_overlaps(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(ax.get_title(), ax.title.get_window_extent(renderer)) for ax in fig.axes if ax.get_title()]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]


def _notebook_code(name):
    """The code cells of ``notebooks/NAME.md``, the notebook's text source (jupytext)."""
    from pathlib import Path

    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.read(Path(__file__).resolve().parents[2] / "notebooks" / f"{name}.md")
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_notebook_02_discount_figure_titles_do_not_overlap():
    code = _notebook_code("02_occupancy_measures")
    namespace = {}
    exec(code[0], namespace)  # the setup cell: world, expert, occupancies
    figure = next(cell for cell in code if "for ax, gamma in zip(axes" in cell)
    exec(figure, namespace)  # the figure over three discounts
    assert _title_overlaps(namespace["fig"]) == []
    plt.close("all")


def test_figure2_titles_do_not_overlap():
    from trirl.tabular import occupancy, solve, trirl

    world = gridworld.load("icy_goal")
    expert = solve(world.mdp, world.reward)
    result = trirl(world.mdp, occupancy(world.mdp, expert.policy), eps=0.5, beta=1e4, eta=49_999.0, iterations=5)
    fig = plots.figure2(world, expert.policy, world.reward, result)
    assert _title_overlaps(fig) == []
    plt.close(fig)
