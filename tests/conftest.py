import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from trirl.tabular import MDP, random_mdp  # noqa: F401 (random_mdp: the tests import it from here)

# CI runs a bounded, deterministic profile; `HYPOTHESIS_PROFILE=thorough` is the deep sweep.
settings.register_profile(
    "ci", max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))




@pytest.fixture
def small_mdp() -> MDP:
    return random_mdp(0)


@pytest.fixture
def chain_mdp() -> MDP:
    """0 -> 1 under every action; 1 is absorbing. Worked by hand in the tests."""
    P = np.zeros((2, 2, 2))
    P[:, :, 1] = 1.0
    return MDP(P, [1.0, 0.0], 0.9, absorbing=[1])
