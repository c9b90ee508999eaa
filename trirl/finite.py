"""The stop at the first NaN or infinity, for the driver of either half: which state leaves hold one
(:func:`nonfinite_leaves`, numpy or inside ``jax.jit``) and the error naming them with the metrics
(:func:`check_finite`). Imports no JAX."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from trirl.errors import NonFiniteError
from trirl.rundir import tree_leaves_with_path


def nonfinite_leaves(tree, log_may_be_minus_inf: bool = True) -> dict[str, Any]:
    """``{key path: bool}`` for every floating leaf of ``tree``: does it hold a NaN or an infinity?

    With ``log_may_be_minus_inf``, a leaf named ``log_*`` may hold ``-inf`` (the log of an exactly
    zero probability, e.g. a tabular log-policy); only NaN and ``+inf`` are bad there. Works on
    numpy trees and, inside ``jax.jit``, on JAX ones (the flags then stay on the device until the
    caller reads them).
    """
    flags = {}
    for path, leaf in tree_leaves_with_path(tree):
        if not hasattr(leaf, "dtype"):
            leaf = np.asarray(leaf)
        if np.dtype(leaf.dtype).kind != "f":
            continue
        bad = (leaf != leaf) | (leaf == math.inf)
        if not (log_may_be_minus_inf and path.rsplit(".", 1)[-1].startswith("log_")):
            bad = bad | (leaf == -math.inf)
        flags[path] = bad.any()
    return flags


def check_finite(metrics: Mapping[str, Any], bad_leaves: Mapping[str, Any], iteration: int, name: str = "",
                 may_be_nan: Mapping[str, str] | None = None) -> None:
    """Raise :class:`~trirl.errors.NonFiniteError` naming the non-finite metrics and state leaves.

    ``metrics`` are numbers or arrays (one entry per seed); ``bad_leaves`` maps leaf names to flags
    (:func:`nonfinite_leaves`). ``may_be_nan`` maps a metric that is a mean over a count to that
    count's metric (``{"episode_return": "episodes"}``): it may be NaN where the count is 0.
    """
    bad_metrics = []
    for key, value in metrics.items():
        value = np.asarray(value)
        if value.dtype.kind != "f":
            continue
        bad = ~np.isfinite(value)
        if may_be_nan and key in may_be_nan:
            bad = bad & (np.asarray(metrics.get(may_be_nan[key], 1.0)) > 0)
        if np.any(bad):
            bad_metrics.append(key)
    leaves = sorted(k for k, v in bad_leaves.items() if np.any(np.asarray(v)))
    if bad_metrics or leaves:
        raise NonFiniteError(
            f"{name + ': ' if name else ''}non-finite values at iteration {iteration}: "
            f"metrics {sorted(bad_metrics) or 'none'}; "
            f"state leaves {leaves[:10] or 'none'}{' ...' if len(leaves) > 10 else ''}",
            iteration=iteration, metrics=sorted(bad_metrics), leaves=leaves)
