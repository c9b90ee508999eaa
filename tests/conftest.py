import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from trirl.tabular import MDP

# CI runs a bounded, deterministic profile; `HYPOTHESIS_PROFILE=thorough` is the deep sweep.
settings.register_profile(
    "ci", max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def random_mdp(seed: int, n_states: int = 6, n_actions: int = 3, discount: float = 0.9, sparsity: float = 3.0) -> MDP:
    rng = np.random.default_rng(seed)
    P = rng.random((n_states, n_actions, n_states)) ** sparsity
    P /= P.sum(axis=-1, keepdims=True)
    mu0 = rng.random(n_states)
    return MDP(P, mu0 / mu0.sum(), discount)


@pytest.fixture
def small_mdp() -> MDP:
    return random_mdp(0)


@pytest.fixture
def chain_mdp() -> MDP:
    """0 -> 1 under every action; 1 is absorbing. Worked by hand in the tests."""
    P = np.zeros((2, 2, 2))
    P[:, :, 1] = 1.0
    return MDP(P, [1.0, 0.0], 0.9, absorbing=[1])
