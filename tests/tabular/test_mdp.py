import numpy as np
import pytest
import scipy.sparse as sp

from trirl import InvalidMDPError
from trirl.tabular import MDP


def valid():
    P = np.zeros((3, 2, 3))
    P[:, :, 0] = 1.0
    return P


def test_valid_mdp_and_views():
    mdp = MDP(valid(), [0.5, 0.5, 0.0], 0.9)
    assert mdp.shape == (3, 2) and mdp.mass == pytest.approx(10.0)
    np.testing.assert_array_equal(mdp.transitions, valid())
    np.testing.assert_allclose(mdp.expected_next(np.array([1.0, 2.0, 3.0])), np.ones((3, 2)))


def test_sparse_input_equals_dense_input():
    dense = MDP(valid(), [1, 0, 0], 0.5)
    sparse = MDP(sp.csr_matrix(valid().reshape(6, 3)), [1, 0, 0], 0.5, n_actions=2)
    np.testing.assert_array_equal(dense.transitions, sparse.transitions)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda P: P * 0.97, r"transitions\[0, 0\] sums to 0.97, expected 1"),
        (lambda P: np.where(np.arange(3) == 1, -0.1, P) + np.where(np.arange(3) == 0, 0.1, 0), r"transitions\[0, 0, 1\] is -0.1, expected >= 0"),
        (lambda P: np.where(np.isclose(P, 1.0), np.nan, P), r"transitions\[0, 0, 0\] is nan"),
        (lambda P: P[:, :, :2], r"transitions has shape \(3, 2, 2\), expected \[S, A, S\]"),
    ],
)
def test_bad_transitions_are_named(mutate, message):
    with pytest.raises(InvalidMDPError, match=message):
        MDP(mutate(valid()), [1, 0, 0], 0.9)


def test_row_that_does_not_sum_to_one_names_its_index():
    P = valid()
    P[2, 1, 0] = 0.5
    with pytest.raises(InvalidMDPError, match=r"transitions\[2, 1\] sums to 0.5, expected 1"):
        MDP(P, [1, 0, 0], 0.9)


@pytest.mark.parametrize(
    "initial, message",
    [([0.5, 0.4, 0.0], "initial sums to 0.9"), ([1.2, -0.2, 0.0], r"initial\[1\] is -0.2"), ([1.0, 0.0], r"initial has shape \(2,\)")],
)
def test_bad_initial(initial, message):
    with pytest.raises(InvalidMDPError, match=message):
        MDP(valid(), initial, 0.9)


@pytest.mark.parametrize("discount", [1.0, -0.1, float("nan"), "x"])
def test_bad_discount(discount):
    with pytest.raises(InvalidMDPError, match="discount"):
        MDP(valid(), [1, 0, 0], discount)


def test_absorbing_states_must_self_loop():
    P = valid()
    P[0] = 0
    P[0, :, 0] = 1.0
    assert MDP(P, [1, 0, 0], 0.9, absorbing=[0]).absorbing.tolist() == [True, False, False]
    with pytest.raises(InvalidMDPError, match=r"transitions\[1, 0, 1\] is 0, expected 1 because state 1 is absorbing"):
        MDP(P, [1, 0, 0], 0.9, absorbing=[1])
    with pytest.raises(InvalidMDPError, match="out of range"):
        MDP(P, [1, 0, 0], 0.9, absorbing=[5])


def test_reachable_states():
    P = np.zeros((4, 1, 4))
    P[0, 0, 1] = P[1, 0, 1] = P[2, 0, 3] = P[3, 0, 3] = 1.0
    mdp = MDP(P, [1, 0, 0, 0], 0.9)
    assert mdp.reachable.tolist() == [True, True, False, False]


def test_from_gymnasium_without_gymnasium_says_which_extra_to_install(monkeypatch):
    import sys

    from trirl.tabular.gym import from_gymnasium

    monkeypatch.setitem(sys.modules, "gymnasium", None)  # what an install without it looks like
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'trirl\[gym\]'") as info:
        from_gymnasium("FrozenLake-v1")
    assert info.value.name == "gymnasium"
