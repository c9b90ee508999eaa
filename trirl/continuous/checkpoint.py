"""Pytrees <-> flat ``name -> array`` dicts, the format ``RunDir.save_checkpoint`` writes.

Names are JAX key paths (``.params.policy.mean['params']['Dense_0']['kernel']``), so a checkpoint
is readable with plain ``numpy.load``. Restoring needs a *template* pytree of the same structure
(a freshly initialised state, or just its shapes from ``jax.eval_shape``): it fixes the tree
structure, and every stored array is checked against the template's shape and dtype.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from trirl.errors import InvalidConfigError


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """``{key path: numpy array}`` for every leaf of ``tree``."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {prefix + jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def unflatten(template, arrays: Mapping[str, np.ndarray], prefix: str = ""):
    """Rebuild a pytree shaped like ``template`` from ``arrays``, checking names, shapes and dtypes."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    restored = []
    for path, leaf in leaves:
        name = prefix + jax.tree_util.keystr(path)
        if name not in arrays and ".env_state.metrics[" in name:
            # per-step diagnostics, recomputed by the next step: one added since the checkpoint
            # was written (e.g. ``non_finite``) starts at 0 (the template may hold shapes only)
            restored.append(jnp.zeros(np.shape(leaf), np.dtype(leaf.dtype)))
            continue
        if name not in arrays:
            raise InvalidConfigError(f"checkpoint: the array {name!r} is missing (was it written by another config?)")
        value = np.asarray(arrays[name])
        shape, dtype = tuple(np.shape(leaf)), np.dtype(leaf.dtype)
        if value.shape != shape or value.dtype != dtype:
            raise InvalidConfigError(
                f"checkpoint: {name!r} has shape {value.shape} and dtype {value.dtype}, expected {shape} and {dtype}"
            )
        restored.append(jnp.asarray(value))
    return jax.tree_util.tree_unflatten(treedef, restored)
