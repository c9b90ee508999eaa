"""What a learnt point-maze reward pays where: the landscape figure (paper Fig. 9) and the
pre-retraining check.

A reward learnt from demonstrations is constrained only where the agent and the expert went.
Retraining a fresh policy on it from scratch goes everywhere, and a reward that pays more for
standing against a wall than for walking the expert's path teaches exactly that. Two
diagnostics make this visible before spending a retraining budget:

- :func:`landscape` evaluates the reward ``r(s, a)`` on a ``grid x grid`` lattice of positions
  times an ``n x n`` lattice of actions in ``[-1, 1]^2``; :func:`plot` draws its maximum and its
  mean over actions over the maze (x to the right, y upwards, the wall and goal marked), with the
  demonstrations' paths overlaid.
- :func:`overpaying` reports the share of positions at least ``min_distance`` away from every
  demonstrated state where some action earns more than the demonstrations' mean per-step reward,
  and the worst such position. A reward that transfers has this share near zero outside the
  goal's neighbourhood.

Point maze only: the observation is the position ``[x, y]`` in the unit square.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trirl.continuous.envs import point_maze


class Landscape(NamedTuple):
    """A reward evaluated on positions x actions (numpy arrays)."""

    xs: np.ndarray  #: [G] x coordinates of the grid columns
    ys: np.ndarray  #: [G] y coordinates of the grid rows
    best: np.ndarray  #: [G, G] max over actions, indexed [row = y, column = x]
    mean: np.ndarray  #: [G, G] mean over actions, indexed [row = y, column = x]
    best_action: np.ndarray  #: [G, G, 2] the action attaining ``best``


def landscape(reward_fn, grid: int = 41, actions: int = 9) -> Landscape:
    """Evaluate ``reward_fn(obs [N, 2], action [N, 2]) -> [N]`` on the maze.

    ``grid`` positions per axis in ``[0, 1]`` and ``actions`` per axis in ``[-1, 1]``.
    """
    xs = np.linspace(0.0, 1.0, grid)
    ys = np.linspace(0.0, 1.0, grid)
    a = np.linspace(-1.0, 1.0, actions)
    px, py = np.meshgrid(xs, ys, indexing="xy")  # [G(y), G(x)]
    ax, ay = np.meshgrid(a, a, indexing="xy")
    positions = np.stack([px.ravel(), py.ravel()], axis=-1)  # [G*G, 2]
    action_list = np.stack([ax.ravel(), ay.ravel()], axis=-1)  # [A, 2]
    obs = np.repeat(positions, len(action_list), axis=0)
    act = np.tile(action_list, (len(positions), 1))
    values = np.asarray(reward_fn(jnp.asarray(obs, jnp.float32), jnp.asarray(act, jnp.float32)))
    values = values.reshape(grid, grid, len(action_list))
    best_index = values.argmax(axis=-1)
    return Landscape(xs, ys, values.max(axis=-1), values.mean(axis=-1), action_list[best_index])


def learner_reward_fn(learner, state, seed: int = 0):
    """``(obs, action) -> r`` of seed ``seed`` of a vmapped learner ``state``, jitted."""
    one = jax.tree_util.tree_map(lambda x: x[seed], state)

    @jax.jit
    def reward_fn(obs, action):
        return learner.reward(one, obs, jnp.clip(action, -1.0, 1.0), jnp.zeros(obs.shape[0]))

    return reward_fn


class Overpaying(NamedTuple):
    """Where the reward pays more than on the demonstrations, away from them."""

    demo_reward: float  #: mean per-step reward on the demonstrations' (s, a)
    share: float  #: fraction of far positions where the best action earns more than ``demo_reward``
    far_positions: int  #: number of grid positions at least ``min_distance`` from every demo state
    worst_position: list[float]  #: [x, y] of the far position with the highest best-action reward
    worst_reward: float  #: that reward

    def as_dict(self) -> dict:
        return self._asdict()


def overpaying(reward_fn, view: Landscape, demo_obs, demo_actions, min_distance: float = 0.1) -> Overpaying:
    """The pre-retraining check (module doc) on a computed :class:`Landscape`."""
    demo_obs = np.asarray(demo_obs, np.float32)
    demo_reward = float(np.mean(np.asarray(reward_fn(jnp.asarray(demo_obs),
                                                     jnp.asarray(np.clip(demo_actions, -1, 1), jnp.float32)))))
    px, py = np.meshgrid(view.xs, view.ys, indexing="xy")
    positions = np.stack([px, py], axis=-1)  # [G, G, 2]
    distance = np.min(np.linalg.norm(positions[:, :, None, :] - demo_obs[None, None, :, :2], axis=-1), axis=-1)
    far = distance >= min_distance
    if not far.any():
        return Overpaying(demo_reward, 0.0, 0, [float("nan")] * 2, float("nan"))
    masked = np.where(far, view.best, -np.inf)
    row, col = np.unravel_index(np.argmax(masked), masked.shape)
    share = float(np.mean(view.best[far] > demo_reward))
    return Overpaying(demo_reward, share, int(far.sum()), [float(view.xs[col]), float(view.ys[row])],
                      float(view.best[row, col]))


def plot(view: Landscape, paths=(), title: str = "learnt reward", mirrored: bool = False):
    """Two panels, the best and the mean reward over actions, over the maze; returns the figure.

    ``paths`` are ``[T, 2]`` position sequences (demonstrations) drawn on both panels.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    config = point_maze.PointMazeConfig(mirrored=mirrored)
    wall = point_maze.wall_span(config)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), constrained_layout=True)
    for ax, values, name in ((axes[0], view.best, "max over actions"), (axes[1], view.mean, "mean over actions")):
        image = ax.imshow(values, origin="lower", extent=(0.0, 1.0, 0.0, 1.0), cmap="viridis", aspect="equal")
        fig.colorbar(image, ax=ax, label="reward per step")
        ax.plot(wall, [point_maze.WALL_Y] * 2, color="white", linewidth=3, label="wall")
        for i, path in enumerate(paths):
            path = np.asarray(path)
            ax.plot(path[:, 0], path[:, 1], color="orange", linewidth=0.8, alpha=0.8,
                    label="demonstrations" if i == 0 else None)
        ax.plot(*point_maze.GOAL, marker="*", color="red", markeredgecolor="white", markersize=16,
                linestyle="none", label="goal", zorder=5)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(f"{title}: {name}")
    axes[0].legend(loc="lower left", fontsize=8)
    return fig


__all__ = ["Landscape", "Overpaying", "landscape", "learner_reward_fn", "overpaying", "plot"]
