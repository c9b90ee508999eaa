"""Statistics over seeds, once: the interquartile mean and its bootstrap confidence intervals.

Both are rliable's (Agarwal et al., 2021, "Deep RL at the edge of the statistical precipice"),
the statistic the paper's Table 3 reports: :func:`iqm` is ``rliable.metrics.aggregate_iqm`` (the
25 % trimmed mean: ``n // 4`` values cut at each end, the plain mean for fewer than 4 values),
:func:`interval_estimates` is ``rliable.library.get_interval_estimates`` with stratified bootstrap
percentile intervals. Everything that reports a figure over seeds (``trirl train``'s evaluation
rows, ``trirl evaluate``, ``trirl bench table1``) calls these two.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def iqm(values) -> float:
    """Interquartile mean of ``values`` (any shape, flattened), non-finite entries left out.

    Returns:
        ``rliable.metrics.aggregate_iqm`` of the finite values; ``nan`` when none is finite.
    """
    from rliable import metrics

    values = np.asarray(values, np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(metrics.aggregate_iqm(values))


def interval_estimates(scores: dict[str, Any], reps: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """IQM and mean of each ``scores[key]`` (``[runs]``) with 95 % stratified bootstrap CIs.

    ``rliable.library.get_interval_estimates`` with ``rliable.metrics.aggregate_iqm`` and
    ``aggregate_mean``, percentile intervals and ``reps`` replications; each key's from its own
    generator seeded with ``seed``, so a CI does not change when other keys are added.

    Returns:
        ``{key: {"iqm", "iqm_ci": [low, high], "mean", "mean_ci": [low, high]}}`` (floats).
    """
    from rliable import library, metrics

    def iqm_and_mean(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

    estimates = {}
    for key, values in scores.items():  # seeded per key: a CI does not depend on the other keys
        # rliable's StratifiedBootstrap.update_indices draws from the global np.random and ignores
        # random_state (rliable 1.2), so the global generator is seeded for the call and restored
        saved = np.random.get_state()
        np.random.seed(seed)
        try:
            with warnings.catch_warnings():  # rliable hands arch a RandomState, which arch deprecates
                warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
                point, interval = library.get_interval_estimates(
                    {key: np.asarray(values, np.float64).reshape(-1, 1)}, iqm_and_mean, reps=reps,
                    random_state=np.random.RandomState(seed))
        finally:
            np.random.set_state(saved)
        estimates[key] = {"iqm": float(point[key][0]), "iqm_ci": [float(x) for x in interval[key][:, 0]],
                          "mean": float(point[key][1]), "mean_ci": [float(x) for x in interval[key][:, 1]]}
    return estimates
