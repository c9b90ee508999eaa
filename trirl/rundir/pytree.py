"""A learner's state as named arrays and back: any pytree flattened to ``{key path: array}``.

:func:`flatten` names every leaf by its path (``state.reward``,
``state.ppo.params.policy.mean['params']['Dense_0']['kernel']``, JAX's key-path spelling), so a
checkpoint is a plain ``.npz`` readable with ``numpy.load``; :func:`unflatten` restores it into a
*template* of the same structure (a freshly initialised state, or only its shapes from
``jax.eval_shape``), checking every name, shape and dtype. Without JAX loaded (the tabular half)
NamedTuples, dicts, lists and tuples are walked here in JAX's order and spelling.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from trirl.errors import InvalidConfigError

STATE_PREFIX = "state"


def _is_namedtuple(node) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def tree_leaves_with_path(tree) -> list[tuple[str, Any]]:
    """``[(path, leaf)]`` of a pytree, paths spelt as ``jax.tree_util.keystr`` spells them.

    With JAX loaded, JAX flattens (any registered pytree: flax structs, ``mjx.Data``); without it
    (the tabular half needs only numpy), NamedTuples (``.field``), dicts (``['key']``, sorted keys)
    and lists and tuples (``[i]``) are walked here in the same order and spelling, ``None`` being
    an empty node as in JAX.
    """
    if "jax" in sys.modules:
        import jax

        leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
        return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves]
    return list(_walk(tree, ""))


def _walk(node, path: str):
    if node is None:
        return
    if _is_namedtuple(node):
        for name, child in zip(node._fields, node):
            yield from _walk(child, f"{path}.{name}")
    elif isinstance(node, dict):
        for key in sorted(node):
            yield from _walk(node[key], f"{path}[{key!r}]")
    elif isinstance(node, (list, tuple)):
        for index, child in enumerate(node):
            yield from _walk(child, f"{path}[{index}]")
    else:
        yield path, node


def _rebuild(template, leaves: dict[str, Any], path: str = ""):
    """``template`` with every leaf replaced by ``leaves[path]`` (the numpy-only twin of ``tree_unflatten``)."""
    if template is None:
        return None
    if _is_namedtuple(template):
        return type(template)(*(_rebuild(c, leaves, f"{path}.{n}") for n, c in zip(template._fields, template)))
    if isinstance(template, dict):
        return type(template)({k: _rebuild(template[k], leaves, f"{path}[{k!r}]") for k in template})
    if isinstance(template, (list, tuple)):
        return type(template)(_rebuild(c, leaves, f"{path}[{i}]") for i, c in enumerate(template))
    return leaves[path]


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """``{prefix + key path: numpy array}`` for every leaf of the pytree ``tree`` (scalars as 0-d arrays)."""
    return {prefix + path: np.asarray(leaf) for path, leaf in tree_leaves_with_path(tree)}


def unflatten(template, arrays: Mapping[str, np.ndarray], prefix: str = "", optional: tuple[str, ...] = ()):
    """Rebuild a pytree shaped like ``template`` from ``arrays`` (as :func:`flatten` wrote them).

    Every leaf must be present with the template leaf's shape and dtype; it comes back as the
    template leaf's kind: a JAX array for a JAX array or ``ShapeDtypeStruct``, a Python ``int``,
    ``float`` or ``bool`` for one, a numpy array otherwise. A missing leaf whose name contains one
    of the ``optional`` substrings starts at zero (e.g. a diagnostic added since the checkpoint
    was written).

    Raises:
        InvalidConfigError: naming a missing array, or one whose shape or dtype differs.
    """
    restored = {}
    for path, leaf in tree_leaves_with_path(template):
        name = prefix + path
        python = isinstance(leaf, (bool, int, float)) and not isinstance(leaf, np.generic)
        shape = () if python else tuple(np.shape(leaf))
        dtype = np.asarray(leaf).dtype if python or isinstance(leaf, (np.ndarray, np.generic)) else np.dtype(leaf.dtype)
        if name in arrays:
            value = np.asarray(arrays[name])
        elif any(part in name for part in optional):
            value = np.zeros(shape, dtype)
        else:
            raise InvalidConfigError(f"checkpoint: the array {name!r} is missing (was it written by another config?)")
        if value.shape != shape or (value.dtype != dtype and not python):
            raise InvalidConfigError(
                f"checkpoint: {name!r} has shape {value.shape} and dtype {value.dtype}, expected {shape} and {dtype}"
            )
        if python:
            value = type(leaf)(value.item())
        elif isinstance(leaf, np.generic):
            value = value[()]
        elif not isinstance(leaf, np.ndarray):  # a JAX array or shape: JAX is loaded
            import jax.numpy as jnp

            value = jnp.asarray(value)
        restored[path] = value
    if "jax" in sys.modules:
        import jax

        leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
        return jax.tree_util.tree_unflatten(treedef, [restored[jax.tree_util.keystr(p)] for p, _ in leaves])
    return _rebuild(template, restored)
