"""from_gymnasium against the real toy-text tables of the installed gymnasium."""

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from trirl.errors import InvalidConfigError, InvalidMDPError  # noqa: E402
from trirl.tabular.gym import from_gymnasium  # noqa: E402

CLIFF = next(i for i in ("CliffWalking-v1", "CliffWalking-v0") if i in gym.registry)
TAXI = next(i for i in ("Taxi-v3", "Taxi-v4") if i in gym.registry)


def gym_row(env, s, a, n_states):
    """``P[s, a, :]`` summed from Gymnasium's outcome list (outcomes may repeat a state)."""
    row = np.zeros(n_states)
    for p, s_next, _, _ in env.unwrapped.P[s][a]:
        row[s_next] += p
    return row


def expected_reward(env, s, a):
    return sum(p * r for p, _, r, _ in env.unwrapped.P[s][a])


def check_against_table(env, converted):
    """Every live (s, a): same next-state distribution and expected reward as Gymnasium."""
    mdp = converted.mdp
    assert np.allclose(mdp.transition_matrix.sum(axis=1), 1.0)
    P = mdp.transitions
    for s in np.flatnonzero(~mdp.absorbing & mdp.reachable):
        for a in range(mdp.n_actions):
            np.testing.assert_allclose(P[s, a], gym_row(env, s, a, mdp.n_states), atol=1e-12)
            assert converted.reward[s, a] == pytest.approx(expected_reward(env, s, a))
    for s in converted.terminal:
        assert (P[s, :, s] == 1.0).all() and (converted.reward[s] == 0).all()


def value_iteration(mdp, reward, iterations=500):
    V = np.zeros(mdp.n_states)
    for _ in range(iterations):
        V = (reward + mdp.discount * mdp.expected_next(V)).max(axis=1)
    return V


@pytest.mark.parametrize("slippery", [True, False])
def test_frozen_lake_4x4(slippery):
    env = gym.make("FrozenLake-v1", is_slippery=slippery)
    converted = from_gymnasium(env, discount=0.9)
    assert converted.mdp.shape == (16, 4) and converted.mdp.discount == 0.9
    # one absorbing state per hole and per goal of SFFF / FHFH / FFFH / HFFG
    assert list(converted.terminal) == [5, 7, 11, 12, 15]
    np.testing.assert_array_equal(converted.mdp.initial, np.eye(16)[0])
    check_against_table(env, converted)
    LEFT, DOWN, RIGHT, UP = range(4)
    # from 14 (south of 10, west of the goal 15), right reaches the goal w.p. 1/3 or 1
    assert converted.reward[14, RIGHT] == pytest.approx(1 / 3 if slippery else 1.0)
    if not slippery:
        # the shortest safe path takes 6 steps and the +1 comes with the 6th: V(0) = gamma^5
        V = value_iteration(converted.mdp, converted.reward)
        assert V[0] == pytest.approx(0.9**5)


def test_frozen_lake_copy_mode_appends_one_absorbing_state_per_terminal():
    env = gym.make("FrozenLake-v1", is_slippery=False)
    converted = from_gymnasium(env, terminal="copy")
    mdp = converted.mdp
    assert mdp.n_states == 21 and list(converted.terminal) == list(range(16, 21))
    assert list(converted.source[16:]) == [5, 7, 11, 12, 15]
    assert mdp.transitions[14, 2, 20] == 1.0  # right from 14 ends the episode in the goal's copy
    assert converted.reward[14, 2] == 1.0 and mdp.initial[16:].sum() == 0
    V = value_iteration(mdp, converted.reward)
    assert V[0] == pytest.approx(0.99**5)


def test_cliff_walking():
    env = gym.make(CLIFF)
    converted = from_gymnasium(env)
    UP, RIGHT, DOWN, LEFT = range(4)
    assert converted.mdp.shape == (48, 4) and list(converted.terminal) == [47]
    check_against_table(env, converted)
    assert converted.mdp.transitions[36, RIGHT, 36] == 1.0  # the cliff sends back to start
    assert converted.reward[36, RIGHT] == -100 and converted.reward[35, DOWN] == -1
    assert converted.mdp.transitions[35, DOWN, 47] == 1.0


@pytest.mark.parametrize("rainy", [False, True])
def test_taxi(rainy):
    env = gym.make(TAXI, is_rainy=rainy) if TAXI == "Taxi-v4" else gym.make(TAXI)
    converted = from_gymnasium(env)
    mdp = converted.mdp
    assert mdp.shape == (500, 6) and len(converted.terminal) == 4
    for s in converted.terminal:  # passenger delivered: at the destination, out of the taxi
        row, col, passenger, destination = env.unwrapped.decode(s)
        assert passenger == destination and (row, col) == env.unwrapped.locs[destination]
    check_against_table(env, converted)
    assert converted.reward.max() == pytest.approx(20.0) and converted.reward.min() == pytest.approx(-10.0)


class TableEnv:
    """A two-state model: action 0 from state 0 ends the episode in state 1, action 1 walks
    there without ending it, so making state 1 absorbing in place would change the dynamics."""

    def __init__(self):
        self.P = {
            0: {0: [(1.0, 1, 5.0, True)], 1: [(0.5, 1, 1.0, False), (0.5, 0, 0.0, False)]},
            1: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 1, 0.0, False)]},
        }
        self.initial_state_distrib = np.array([1.0, 0.0])


def test_in_place_refuses_to_change_the_dynamics_and_copy_is_exact():
    with pytest.raises(InvalidMDPError, match=r'state 1 ends episodes but P\[0\]\[1\] enters it.*terminal="copy"'):
        from_gymnasium(TableEnv())
    converted = from_gymnasium(TableEnv(), terminal="copy")
    P = converted.mdp.transitions
    np.testing.assert_allclose(P[0, 0], [0, 0, 1])
    np.testing.assert_allclose(P[0, 1], [0.5, 0.5, 0])
    np.testing.assert_allclose(P[1, 0], [1, 0, 0])
    np.testing.assert_allclose(converted.reward, [[5.0, 0.5], [0.0, 0.0], [0.0, 0.0]])
    assert list(converted.source) == [0, 1, 1]


def test_envs_without_a_model_are_refused():
    with pytest.raises(InvalidConfigError, match="has no transition table P"):
        from_gymnasium(gym.make("CartPole-v1"))

    class NoInitial(TableEnv):
        def __init__(self):
            super().__init__()
            del self.initial_state_distrib

    with pytest.raises(InvalidConfigError, match="no initial_state_distrib; pass initial"):
        from_gymnasium(NoInitial(), terminal="copy")
    converted = from_gymnasium(NoInitial(), terminal="copy", initial=[0.5, 0.5])
    np.testing.assert_allclose(converted.mdp.initial, [0.5, 0.5, 0.0])


def test_bad_arguments():
    with pytest.raises(InvalidConfigError, match="terminal is 'drop'"):
        from_gymnasium(TableEnv(), terminal="drop")
    with pytest.raises(InvalidMDPError, match="discount"):
        from_gymnasium(TableEnv(), discount=1.0, terminal="copy")
    converted = from_gymnasium("FrozenLake-v1")
    assert converted.mdp.shape == (16, 4)


def test_soft_values_keep_the_entropy_in_absorbing_states():
    """FrozenLake 4x4, gamma 0.99, temperature 1: an absorbing state is worth log 4 / (1 - gamma)
    (the uniform policy's entropy every step, reward 0), so V(start) ~ 138.6, while the best
    episodic (hard, no-entropy) value is below 1: ending an episode is entropy-neutral."""
    from trirl.tabular import soft

    converted = from_gymnasium("FrozenLake-v1", 0.99)
    mdp, reward = converted.mdp, converted.reward
    solution = soft.solve(mdp, reward)
    np.testing.assert_allclose(solution.v[converted.terminal], np.log(4) / 0.01, rtol=1e-10)
    start = int(np.argmax(mdp.initial))
    assert solution.v[start] == pytest.approx(138.642, abs=1e-3)  # independent soft VI: 138.6425
    # no Gymnasium episode returns more than 1: the hard optimum's discounted return is 0.54
    v = np.zeros(mdp.n_states)
    for _ in range(5000):
        v = (reward + mdp.discount * mdp.expected_next(v)).max(axis=1)
    assert v[start] == pytest.approx(0.542, abs=1e-3) and v.max() <= 1.0
