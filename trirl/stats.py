"""Statistics over seeds, once: the interquartile mean and its bootstrap confidence intervals.

Both are rliable's (Agarwal et al., 2021, "Deep RL at the edge of the statistical precipice"),
the statistic the paper's Table 3 reports: :func:`iqm` is ``rliable.metrics.aggregate_iqm`` (the
25 % trimmed mean: ``n // 4`` values cut at each end, the plain mean for fewer than 4 values),
:func:`interval_estimates` is ``rliable.library.get_interval_estimates`` with stratified bootstrap
percentile intervals. Everything that reports a figure over seeds (``trirl train``'s evaluation
rows, ``trirl evaluate``, ``trirl bench table1``) calls these two. Over a suite of tasks
(``trirl bench suite``): :func:`aggregate_estimates` (IQM and mean over runs and tasks),
:func:`performance_profiles` and :func:`probability_of_improvement`, rliable's too.
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
    estimates = {}
    for key, values in scores.items():  # seeded per key: a CI does not depend on the other keys
        point, interval = _bootstrap({key: np.asarray(values, np.float64).reshape(-1, 1)}, _iqm_and_mean, reps, seed)
        estimates[key] = {"iqm": float(point[key][0]), "iqm_ci": [float(x) for x in interval[key][:, 0]],
                          "mean": float(point[key][1]), "mean_ci": [float(x) for x in interval[key][:, 1]]}
    return estimates


def _iqm_and_mean(x):
    from rliable import metrics

    return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])


def _bootstrap(scores: dict[str, Any], func, reps: int, seed: int):
    """``rliable.library.get_interval_estimates`` (95 % percentile intervals) seeded with ``seed``.

    rliable's StratifiedBootstrap.update_indices draws from the global np.random and ignores
    random_state (rliable 1.2), so the global generator is seeded for the call and restored."""
    from rliable import library

    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # rliable hands arch a RandomState, which arch deprecates
            warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
            return library.get_interval_estimates(scores, func, reps=reps, random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(saved)


def aggregate_estimates(scores: dict[str, Any], reps: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Aggregate IQM and mean over runs and tasks of each ``scores[key]`` (``[runs, tasks]``), with
    95 % stratified bootstrap CIs (runs resampled within each task: rliable's protocol for a suite).

    Returns:
        ``{key: {"iqm", "iqm_ci": [low, high], "mean", "mean_ci": [low, high]}}`` (floats).
    """
    estimates = {}
    for key, values in scores.items():
        values = np.asarray(values, np.float64)
        point, interval = _bootstrap({key: values.reshape(values.shape[0], -1)}, _iqm_and_mean, reps, seed)
        estimates[key] = {"iqm": float(point[key][0]), "iqm_ci": [float(x) for x in interval[key][:, 0]],
                          "mean": float(point[key][1]), "mean_ci": [float(x) for x in interval[key][:, 1]]}
    return estimates


def performance_profiles(scores: dict[str, Any], tau, reps: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Score distributions (rliable's performance profiles): for each ``scores[key]``
    (``[runs, tasks]``) the fraction of runs scoring above each threshold in ``tau``, with 95 %
    stratified bootstrap CIs (``rliable.library.create_performance_profile``).

    Returns:
        ``{key: {"fraction": [len(tau)], "ci": [[low...], [high...]]}}`` (non-increasing in tau).
    """
    from rliable import library

    tau = np.asarray(tau, np.float64)
    profiles = {}
    for key, values in scores.items():
        values = np.asarray(values, np.float64)
        saved = np.random.get_state()
        np.random.seed(seed)
        try:
            point, interval = library.create_performance_profile({key: values.reshape(values.shape[0], -1)}, tau, reps=reps)
        finally:
            np.random.set_state(saved)
        profiles[key] = {"fraction": [float(x) for x in point[key]], "ci": np.asarray(interval[key], np.float64).tolist()}
    return profiles


def probability_of_improvement(pairs: dict[str, tuple[Any, Any]], reps: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """``P(X > Y)`` of each ``pairs[key] = (x, y)`` (``[runs, tasks]`` each, the same tasks): the
    Mann-Whitney probability that a run of X beats a run of Y on a task, averaged over tasks
    (``rliable.metrics.probability_of_improvement``), with a 95 % stratified independent bootstrap CI.

    Returns:
        ``{key: {"value", "ci": [low, high]}}`` (floats in [0, 1]).
    """
    from rliable import metrics

    def poi(x, y):
        return np.array([metrics.probability_of_improvement(x, y)])

    estimates = {}
    for key, (x, y) in pairs.items():
        x, y = (np.asarray(v, np.float64) for v in (x, y))
        point, interval = _bootstrap({key: (x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1))}, poi, reps, seed)
        estimates[key] = {"value": float(point[key][0]), "ci": [float(v) for v in interval[key][:, 0]]}
    return estimates
