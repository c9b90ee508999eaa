import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def compile_cache_in_tmp(tmp_path_factory):
    """The command lines cache compiled programs; in tests, not in the user's ~/.cache."""
    old = os.environ.get("TRIRL_COMPILE_CACHE")
    os.environ["TRIRL_COMPILE_CACHE"] = str(tmp_path_factory.mktemp("jax_cache"))
    yield
    if old is None:
        os.environ.pop("TRIRL_COMPILE_CACHE", None)
    else:
        os.environ["TRIRL_COMPILE_CACHE"] = old
