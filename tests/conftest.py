import os
import shutil
import tempfile

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

COMPILE_CACHE = "TRIRL_COMPILE_CACHE"  # trirl.continuous.compile_cache.ENV_VAR (not imported: JAX is optional)
_saved_compile_cache = pytest.StashKey[tuple[str, str | None]]()


def pytest_configure(config):
    """One JAX compilation cache for the whole session, shared by the xdist workers (they inherit
    the controller's environment) and the command lines the tests start: a program two tests
    compile, in one process or in two, is compiled once. In a temporary folder, not the user's
    ~/.cache; tests of the cache itself give their commands their own folders."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller's folder
    folder = tempfile.mkdtemp(prefix="trirl-tests-jax-cache-")
    config.stash[_saved_compile_cache] = (folder, os.environ.get(COMPILE_CACHE))
    os.environ[COMPILE_CACHE] = folder


def pytest_unconfigure(config):
    if _saved_compile_cache not in config.stash:
        return
    folder, old = config.stash[_saved_compile_cache]
    shutil.rmtree(folder, ignore_errors=True)
    if old is None:
        os.environ.pop(COMPILE_CACHE, None)
    else:
        os.environ[COMPILE_CACHE] = old


@pytest.fixture
def small_mdp() -> MDP:
    return random_mdp(0)


@pytest.fixture
def chain_mdp() -> MDP:
    """0 -> 1 under every action; 1 is absorbing. Worked by hand in the tests."""
    P = np.zeros((2, 2, 2))
    P[:, :, 1] = 1.0
    return MDP(P, [1.0, 0.0], 0.9, absorbing=[1])
