"""Small example problems shared by the tests, ``trirl.verify``, the notebooks and the book.

Each is a deterministic function of its arguments, so a figure or a test names its problem by a
call (``random_mdp(1, 8, 4, 0.95, sparsity=4.0)``) instead of pasting a generator.
"""

from __future__ import annotations

import numpy as np

from trirl.tabular.mdp import MDP


def random_mdp(seed: int, n_states: int = 6, n_actions: int = 3, discount: float = 0.9,
               sparsity: float = 3.0) -> MDP:
    """A random MDP with dense transitions skewed towards few successors.

    ``P[s, a, :]`` is ``u ** sparsity`` normalised, ``u ~ U[0, 1)^S`` (larger ``sparsity``: fewer
    likely successors), then ``mu0`` the same with power 1; both from ``default_rng(seed)`` in
    that order. No absorbing states.

    Args:
        seed: the generator's seed.
        n_states, n_actions: ``S`` and ``A`` (>= 1).
        discount: ``gamma`` in [0, 1).
        sparsity: the power ``> 0`` applied to the uniform draws.

    Returns:
        an :class:`~trirl.tabular.mdp.MDP` with ``P`` of shape ``[S, A, S]``.

    Raises:
        InvalidMDPError: from :class:`MDP` for a discount outside [0, 1).
        ValueError: for ``sparsity <= 0`` or a size below 1.
    """
    if not sparsity > 0:
        raise ValueError(f"sparsity is {sparsity!r}, expected a number > 0")
    if n_states < 1 or n_actions < 1:
        raise ValueError(f"n_states and n_actions must be >= 1, got {n_states} and {n_actions}")
    rng = np.random.default_rng(seed)
    P = rng.random((n_states, n_actions, n_states)) ** sparsity
    P /= P.sum(axis=-1, keepdims=True)
    mu0 = rng.random(n_states)
    return MDP(P, mu0 / mu0.sum(), discount)


def slippery_grid(n: int = 5, slip: float = 0.1, discount: float = 0.95) -> tuple[MDP, np.ndarray]:
    """An open ``n x n`` grid, actions stay/up/down/left/right, each replaced by a uniformly random
    one with probability ``slip``, start in a corner, absorbing goal in the opposite one; and the
    expert's reward (``-1`` per step outside the goal, scaled by 3).

    Returns:
        ``(mdp, reward)`` with ``S = n * n``, ``A = 5`` and ``reward`` of shape ``[S, A]``.
    """
    S, A = n * n, 5
    moves = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]
    goal = S - 1
    P = np.zeros((S, A, S))
    for s in range(S):
        i, j = divmod(s, n)
        for b, (di, dj) in enumerate(moves):
            target = min(max(i + di, 0), n - 1) * n + min(max(j + dj, 0), n - 1)
            P[s, :, target] += slip / A
            P[s, b, target] += 1.0 - slip
    P[goal] = 0.0
    P[goal, :, goal] = 1.0
    mu0 = np.zeros(S)
    mu0[0] = 1.0
    reward = np.full((S, A), -3.0)
    reward[goal] = 0.0
    return MDP(P, mu0, discount, absorbing=[goal]), reward


# A 5 x 9 maze as a student writes one in the documented format (gridworlds/README.md): one lava
# cell, a goal, discount 0.95, step cost -0.1, the shipped reward scales. The paper's fixed step
# (alpha = 0.1, monotone on every shipped world) makes the dual worse in about half of its
# iterations here and ends farther from the expert than it started (book/findings.md).
STUDENT_MAZE = ("S..#.....", ".#.#.###.", ".#...#L..", ".####.#..", "......#.G")
STUDENT_MAZE_TOML = 'name = "student_maze"\ndiscount = 0.95\nstep_cost = -0.1\n'


def student_maze():
    """The student maze (:data:`STUDENT_MAZE`) as a :class:`~trirl.tabular.gridworld.GridWorld`,
    what ``gridworld.load`` makes of the map and :data:`STUDENT_MAZE_TOML`."""
    from trirl.tabular.gridworld import GridSpec, from_cells

    return from_cells(STUDENT_MAZE, GridSpec(discount=0.95, step_cost=-0.1), name="student_maze")
