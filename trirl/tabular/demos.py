"""Sampled demonstrations and their empirical occupancy.

A demonstration set is ``n`` trajectories of ``horizon`` steps: ``states[n, horizon + 1]`` and
``actions[n, horizon]`` (integer indices). Its empirical occupancy counts each visit with weight
``gamma^t`` and is rescaled to the mass ``1 / (1 - gamma)`` of an occupancy measure.

Smoothing: unseen state-action pairs would give ``log rho_E = -inf`` and an infinitely negative
reward; :func:`empirical_occupancy` therefore mixes the normalised counts with the uniform
distribution over reachable pairs, ``rho = Z ((1 - smoothing) p_counts + smoothing u)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trirl.errors import InvalidConfigError, InvalidDemonstrationError
from trirl.tabular.mdp import MDP
from trirl.tabular.soft import check_policy

DEFAULT_SMOOTHING = 1e-2


class Trajectories(NamedTuple):
    """``states[n, horizon + 1]`` and ``actions[n, horizon]``, integer indices."""

    states: np.ndarray
    actions: np.ndarray


def _sample_rows(cumulative: np.ndarray, start: np.ndarray, stop: np.ndarray, rng) -> np.ndarray:
    """Draw one index per row of a CSR-like layout whose row r spans ``[start[r], stop[r])``."""
    base = np.where(start > 0, cumulative[np.maximum(start - 1, 0)], 0.0)
    total = cumulative[stop - 1] - base
    target = base + rng.random(len(start)) * total
    index = np.searchsorted(cumulative, target, side="right")
    return np.clip(index, start, stop - 1)


def sample_trajectories(mdp: MDP, policy, n: int, horizon: int, seed: int) -> Trajectories:
    """Sample ``n`` trajectories of ``horizon`` steps from ``mu0`` under ``policy`` (vectorised over ``n``)."""
    pi = check_policy(mdp, policy)
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise InvalidConfigError(f"n is {n!r}, expected an integer >= 1")
    if not (isinstance(horizon, (int, np.integer)) and horizon >= 1):
        raise InvalidConfigError(f"horizon is {horizon!r}, expected an integer >= 1")
    rng = np.random.default_rng(seed)
    S, A = mdp.shape
    matrix = mdp.transition_matrix
    cumulative = np.cumsum(matrix.data)
    policy_cum = np.cumsum(pi, axis=1)
    states = np.empty((n, horizon + 1), dtype=np.int64)
    actions = np.empty((n, horizon), dtype=np.int64)
    states[:, 0] = rng.choice(S, size=n, p=mdp.initial)
    for t in range(horizon):
        s = states[:, t]
        u = rng.random(n)[:, None]
        a = np.minimum((u > policy_cum[s]).sum(axis=1), A - 1)
        rows = s * A + a
        nz = _sample_rows(cumulative, matrix.indptr[rows], matrix.indptr[rows + 1], rng)
        actions[:, t] = a
        states[:, t + 1] = matrix.indices[nz]
    return Trajectories(states, actions)


def check_trajectories(mdp: MDP, trajectories) -> Trajectories:
    """Validate shapes, emptiness and index ranges of a demonstration set."""
    states, actions = (np.asarray(x) for x in trajectories)
    if states.ndim != 2 or actions.ndim != 2:
        raise InvalidDemonstrationError(
            f"trajectories have states {states.shape} and actions {actions.shape}, expected [n, horizon + 1] and [n, horizon]"
        )
    if actions.shape[0] == 0 or actions.shape[1] == 0:
        raise InvalidDemonstrationError(f"trajectories are empty (actions {actions.shape}); need n >= 1 and horizon >= 1")
    if states.shape != (actions.shape[0], actions.shape[1] + 1):
        raise InvalidDemonstrationError(
            f"trajectories.states has shape {states.shape}, expected [n, horizon + 1] = {[actions.shape[0], actions.shape[1] + 1]}"
        )
    for name, values, limit in (("states", states, mdp.n_states), ("actions", actions, mdp.n_actions)):
        if not np.issubdtype(values.dtype, np.integer):
            raise InvalidDemonstrationError(f"trajectories.{name} has dtype {values.dtype}, expected integers")
        bad = np.argwhere((values < 0) | (values >= limit))
        if len(bad):
            i, t = bad[0]
            raise InvalidDemonstrationError(
                f"trajectories.{name}[{i}, {t}] is {values[i, t]}, expected an index in [0, {limit})"
            )
    return Trajectories(states.astype(np.int64), actions.astype(np.int64))


def empirical_occupancy(mdp: MDP, trajectories, smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """Discount-weighted visit counts ``[S, A]`` with mass ``1 / (1 - gamma)``, smoothed (module doc)."""
    states, actions = check_trajectories(mdp, trajectories)
    if not (0.0 <= smoothing < 1.0):
        raise InvalidConfigError(f"smoothing is {smoothing!r}, expected a number in [0, 1)")
    S, A = mdp.shape
    weights = np.broadcast_to(mdp.discount ** np.arange(actions.shape[1]), actions.shape)
    counts = np.bincount((states[:, :-1] * A + actions).ravel(), weights=weights.ravel(), minlength=S * A)
    p = counts.reshape(S, A) / counts.sum()
    if smoothing > 0:
        uniform = np.repeat(mdp.reachable[:, None], A, axis=1).astype(float)
        p = (1.0 - smoothing) * p + smoothing * uniform / uniform.sum()
    return p * mdp.mass
