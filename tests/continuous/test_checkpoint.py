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


def test_checkpoint_from_before_a_new_env_metric_still_loads():
    # the committed point-maze expert was written before metrics["non_finite"] existed
    from trirl.continuous.expert import load_expert
    from trirl.continuous.train import EXPERTS_DIR

    _, _, state = load_expert(EXPERTS_DIR / "point_maze")
    metrics = {name: np.asarray(value) for name, value in state.env_state.metrics.items()}
    assert metrics["non_finite"].shape == metrics["at_goal"].shape and np.all(metrics["non_finite"] == 0.0)
    assert np.any(metrics["at_goal"] == 1.0)  # the saved metrics are restored
    # anything else missing is still refused by name
    template = {"state": {"params": jnp.zeros(2)}}
    with pytest.raises(InvalidConfigError, match="missing"):
        checkpoint.unflatten(template, {})
