"""The tabular benchmark (``trirl bench tabular``): its baselines compute what the engine
computes, its MCE-IRL baseline is imitation's iteration, and its safeguard figure compares like
with like."""

import numpy as np
import pytest
from scipy.special import logsumexp

from trirl.bench.tabular import safeguard_row
from trirl.bench.tabular_baselines import (
    dense_soft_value_iteration,
    dirichlet_transitions,
    forward_occupancy,
    numpy_mce_irl_iteration,
)
from trirl.tabular import gridworld, occupancy, solve
from trirl.tabular.examples import student_maze


def test_benchmark_baselines_compute_the_same_things():
    world = gridworld.open_grid(5, 5, slip=0.1, discount=0.9)
    mdp = world.mdp
    exact = solve(mdp, world.reward)
    np.testing.assert_allclose(np.exp(dense_soft_value_iteration(mdp.transitions, world.reward, 0.9)), exact.policy, atol=1e-8)
    np.testing.assert_allclose(forward_occupancy(mdp, exact.policy), occupancy(mdp, exact.policy), atol=1e-8)


def test_benchmark_mce_irl_transcription_is_imitations_iteration():
    """The numpy baseline does imitation's finite-horizon backward pass, forward visitation and step."""
    P = dirichlet_transitions(0, 6, 3)
    mu0 = np.full(6, 1 / 6)
    theta = np.random.default_rng(1).normal(size=6)
    horizon = 4
    new_theta, visitations = numpy_mce_irl_iteration(P, mu0, theta, np.zeros(6), horizon, lr=0.5)
    # by hand, one time step at a time: V_{T-1} = logsumexp_a r, Q_t = r + P V_{t+1}
    V = [None] * horizon
    policies = [None] * horizon
    for t in reversed(range(horizon)):
        Q = theta[:, None] + (np.zeros((6, 3)) if t == horizon - 1 else np.einsum("sat,t->sa", P, V[t + 1]))
        V[t] = logsumexp(Q, axis=1)
        policies[t] = np.exp(Q - V[t][:, None])
    D, total = mu0.copy(), mu0.copy()
    for t in range(horizon):
        D = np.einsum("s,sa,sat->t", D, policies[t], P)
        total += D
    np.testing.assert_allclose(visitations, total, rtol=1e-12)
    assert visitations.sum() == pytest.approx(horizon + 1)
    np.testing.assert_allclose(new_theta, theta - 0.5 * total, rtol=1e-12)


def test_the_safeguard_benchmark_row_compares_like_with_like():
    """Figure 8 of ``trirl bench tabular``: a target only where the fixed step is monotone."""
    maze = student_maze()
    row = safeguard_row("student_maze", maze.mdp, maze.reward, iterations=30, repeats=1)
    assert not row["fixed_step_monotone"] and row["target_seconds"] is None
    assert row["fixed"]["dual_rises"] > 0 and row["safeguarded"]["dual_rises"] == 0
    world = gridworld.load("open_room")
    row = safeguard_row("open_room", world.mdp, world.reward, iterations=10, repeats=1)
    assert row["fixed_step_monotone"] and row["target_seconds"] == pytest.approx(1.3 * row["baseline_seconds"])
    assert row["safeguarded"]["halvings"] == 0
    assert row["fixed"]["final_reverse_kl"] == row["safeguarded"]["final_reverse_kl"]  # the same steps
    assert row["safeguarded"]["backups"] - row["fixed"]["backups"] == 10  # the counted solve for V, per iteration
