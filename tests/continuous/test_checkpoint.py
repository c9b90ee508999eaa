import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from trirl.continuous import checkpoint  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = pytest.mark.continuous


def test_round_trip_keeps_structure_values_and_dtypes():
    tree = {"a": jnp.arange(3.0), "b": (jnp.zeros((2, 2), jnp.int32), jax.random.PRNGKey(4))}
    flat = checkpoint.flatten(tree, "state")
    assert all(isinstance(v, np.ndarray) for v in flat.values())
    back = checkpoint.unflatten(tree, flat, "state")
    for x, y in zip(jax.tree_util.tree_leaves(tree), jax.tree_util.tree_leaves(back)):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == y.dtype


def test_missing_and_mismatched_arrays_are_named():
    tree = {"a": jnp.arange(3.0)}
    with pytest.raises(InvalidConfigError, match="missing"):
        checkpoint.unflatten(tree, {})
    with pytest.raises(InvalidConfigError, match=r"\['a'\].*shape"):
        checkpoint.unflatten(tree, {"['a']": np.zeros(4, np.float32)})
