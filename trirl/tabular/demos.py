"""Sampled demonstrations and their empirical occupancy.

A demonstration set is ``n`` episodes of at most ``horizon`` steps: ``states[n, horizon + 1]``
and ``actions[n, horizon]`` (integer indices), optionally ``lengths[n]`` (episode ``i`` has
``lengths[i]`` actions and ``lengths[i] + 1`` states; entries past them are padding and ignored)
and ``absorbed[n]`` (the episode ended by entering an absorbing state; checked against
``mdp.absorbing``, which decides).

The estimator (:func:`empirical_occupancy`) averages one occupancy per episode. Episode ``i``
counts each observed step ``(s_t, a_t)`` with weight ``gamma^t`` and then, by the rule that
applies to how it ended:

- **Absorbed** (it reached an absorbing state ``s`` at step ``t_a``; it stays there forever): its
  remaining mass ``sum_{k >= t_a} gamma^k = gamma^{t_a} / (1 - gamma)`` goes to ``s`` exactly.
  Across actions it is split by the actions the demonstrations took in ``s`` (pooled over all
  episodes; uniform if none was observed). The episode's occupancy has mass ``1 / (1 - gamma)``
  with nothing estimated but that split.
- **Truncated** (cut after ``L`` steps outside an absorbing state): the tail's mass
  ``gamma^L / (1 - gamma)`` is unknown. The rule is to *renormalise the observed part*: its counts
  are divided by ``1 - gamma^L``, i.e. the tail is assumed to be distributed like the observed
  discounted visits. When the truncated episodes carry more than
  :data:`TRUNCATION_WARNING_MASS` of the total mass, a :class:`~trirl.errors.DemonstrationWarning`
  names the horizon and ``gamma^horizon``.

Bias and variance. The episodes are i.i.d., so the estimator is a mean of ``n`` i.i.d. per-episode
occupancies ``rho_i``: its variance is ``Var[rho_i(s, a)] / n`` per pair (and its covariance
``Cov[rho_i] / n``). If every episode is absorbed (or the horizon is infinite) each ``rho_i`` is
unbiased for the state occupancy, so the estimator is unbiased (up to the pooled action split in
absorbing states, exact whenever the expert's policy there does not depend on the episode). The
renormalised tail of a truncated episode is biased: with ``p_obs`` and ``p_tail`` the normalised
observed and tail occupancies, ``E[rho_hat] - rho = Z gamma^L (p_obs - p_tail)`` in expectation,
so ``||E[rho_hat] - rho||_1 <= 2 gamma^L / (1 - gamma)``: at most ``2 gamma^L`` of the
normalised occupancy, which is what the warning reports. ``tests/tabular/test_tabular_demos.py`` checks
both statements against Monte Carlo.

Before this rule, the observed counts of all episodes were pooled and rescaled to ``1 / (1 - gamma)``;
an episode absorbed early then lost its exactly known tail (on a 4-state corridor absorbed after 3
steps, 200 episodes of 10 steps gave ``[10.46, 10.35, 10.25, 68.94]`` for the exact
``[1, 0.99, 0.98, 97.03]``).

Smoothing: unseen state-action pairs would give ``log rho_E = -inf`` and an infinitely negative
reward; :func:`empirical_occupancy` therefore mixes the normalised estimate with the uniform
distribution over reachable pairs, ``rho = Z ((1 - smoothing) p_hat + smoothing u)``.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from trirl.errors import DemonstrationWarning, InvalidConfigError, InvalidDemonstrationError
from trirl.tabular.mdp import MDP
from trirl.tabular.soft import check_policy
from trirl.text import plural

DEFAULT_SMOOTHING = 1e-2
# share of the estimate's mass that may come from renormalised (truncated) tails without a warning
TRUNCATION_WARNING_MASS = 0.01


class Trajectories(NamedTuple):
    """Episodes as integer indices (module doc).

    Attributes:
        states: ``[n, horizon + 1]`` state indices.
        actions: ``[n, horizon]`` action indices.
        lengths: ``[n]`` actions per episode, in ``[1, horizon]``; ``None``: every episode is full.
        absorbed: ``[n]`` bool, the episode ended by entering an absorbing state (checked against
            ``mdp.absorbing``); ``None``: read from ``mdp.absorbing`` alone.
    """

    states: np.ndarray
    actions: np.ndarray
    lengths: np.ndarray | None = None
    absorbed: np.ndarray | None = None


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
    """Validate shapes, emptiness, lengths and index ranges of a demonstration set (padding ignored)."""
    fields = tuple(trajectories) + (None,) * (4 - len(tuple(trajectories)))
    states, actions = np.asarray(fields[0]), np.asarray(fields[1])
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
    n, horizon = actions.shape
    lengths = np.full(n, horizon, dtype=np.int64) if fields[2] is None else np.asarray(fields[2])
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer):
        raise InvalidDemonstrationError(f"trajectories.lengths has shape {lengths.shape} and dtype {lengths.dtype}, expected [n] = [{n}] integers")
    bad = np.flatnonzero((lengths < 1) | (lengths > horizon))
    if len(bad):
        raise InvalidDemonstrationError(f"trajectories.lengths[{bad[0]}] is {lengths[bad[0]]}, expected an integer in [1, {horizon}]")
    valid_actions = np.arange(horizon)[None, :] < lengths[:, None]
    valid_states = np.arange(horizon + 1)[None, :] <= lengths[:, None]
    for name, values, valid, limit in (("states", states, valid_states, mdp.n_states),
                                       ("actions", actions, valid_actions, mdp.n_actions)):
        if not np.issubdtype(values.dtype, np.integer):
            raise InvalidDemonstrationError(f"trajectories.{name} has dtype {values.dtype}, expected integers")
        bad = np.argwhere(valid & ((values < 0) | (values >= limit)))
        if len(bad):
            i, t = bad[0]
            raise InvalidDemonstrationError(
                f"trajectories.{name}[{i}, {t}] is {values[i, t]}, expected an index in [0, {limit})"
            )
    # padding may hold anything: make it a harmless index so that later lookups need no mask
    states = np.where(valid_states, states, 0).astype(np.int64)
    actions = np.where(valid_actions, actions, 0).astype(np.int64)
    absorbed = fields[3]
    if absorbed is not None:
        absorbed = np.asarray(absorbed)
        if absorbed.shape != (n,) or absorbed.dtype != bool:
            raise InvalidDemonstrationError(f"trajectories.absorbed has shape {absorbed.shape} and dtype {absorbed.dtype}, expected [n] = [{n}] booleans")
        last = states[np.arange(n), lengths]
        bad = np.flatnonzero(absorbed & ~mdp.absorbing[last])
        if len(bad):
            i = bad[0]
            raise InvalidDemonstrationError(
                f"trajectories.absorbed[{i}] is True but episode {i} ends in state {last[i]}, which the MDP does not "
                f"make absorbing (absorbing states: {np.flatnonzero(mdp.absorbing).tolist()})"
            )
    return Trajectories(states, actions, lengths.astype(np.int64), absorbed)


class EpisodeEnds(NamedTuple):
    """How each episode of a demonstration set ended (module doc): ``[n]`` arrays."""

    absorbed: np.ndarray  # bool: entered an absorbing state at step ``stop``
    stop: np.ndarray  # first absorbing step, or the episode's length if truncated
    truncated_mass: float  # share of the estimate's mass that comes from renormalised tails


def episode_ends(mdp: MDP, trajectories: Trajectories) -> EpisodeEnds:
    """Where each (checked) episode enters an absorbing state, and the mass its truncation leaves unknown."""
    states, _, lengths, _ = trajectories
    n, width = states.shape
    inside = mdp.absorbing[states] & (np.arange(width)[None, :] <= lengths[:, None])
    absorbed = inside.any(axis=1)
    stop = np.where(absorbed, inside.argmax(axis=1), lengths)
    truncated_mass = float(np.mean(np.where(absorbed, 0.0, mdp.discount ** lengths.astype(float))))
    return EpisodeEnds(absorbed, stop, truncated_mass)


def empirical_occupancy(mdp: MDP, trajectories, smoothing: float = DEFAULT_SMOOTHING, warn: bool = True) -> np.ndarray:
    """The empirical occupancy ``[S, A]`` of demonstrations, mass ``1 / (1 - gamma)`` (module doc).

    Absorbed episodes contribute their exact discounted tail; truncated ones are renormalised,
    with a :class:`~trirl.errors.DemonstrationWarning` (if ``warn``) when their unknown tails
    exceed :data:`TRUNCATION_WARNING_MASS` of the mass. ``smoothing`` in ``[0, 1)`` mixes in the
    uniform distribution over reachable pairs.

    Raises:
        InvalidDemonstrationError: malformed trajectories (the field and index are named).
        InvalidConfigError: ``smoothing`` outside ``[0, 1)``.
    """
    demos = check_trajectories(mdp, trajectories)
    if not (0.0 <= smoothing < 1.0):
        raise InvalidConfigError(f"smoothing is {smoothing!r}, expected a number in [0, 1)")
    S, A = mdp.shape
    gamma = mdp.discount
    states, actions, lengths, _ = demos
    n, horizon = actions.shape
    ends = episode_ends(mdp, demos)
    t = np.arange(horizon)[None, :]
    # per-episode scale: 1 if absorbed (its tail is added exactly below), 1 / (1 - gamma^L) if truncated
    scale = np.where(ends.absorbed, 1.0, 1.0 / -np.expm1(lengths * np.log(gamma) if gamma > 0 else -np.inf))
    weights = np.where(t < ends.stop[:, None], gamma ** t * scale[:, None], 0.0)
    pairs = (states[:, :-1] * A + actions).ravel()
    counts = np.bincount(pairs, weights=weights.ravel(), minlength=S * A).reshape(S, A)
    if ends.absorbed.any():
        rows = np.flatnonzero(ends.absorbed)
        tail_states = states[rows, ends.stop[rows]]
        tail_mass = np.bincount(tail_states, weights=gamma ** ends.stop[rows].astype(float) * mdp.mass, minlength=S)
        # the split over actions: the actions taken in absorbing states, pooled over episodes
        in_absorbing = mdp.absorbing[states[:, :-1]] & (t < lengths[:, None])
        taken = np.bincount(pairs[in_absorbing.ravel()], minlength=S * A).reshape(S, A).astype(float)
        seen = taken.sum(axis=1, keepdims=True)
        split = np.where(seen > 0, taken / np.maximum(seen, 1.0), 1.0 / A)
        counts += tail_mass[:, None] * split
    if warn and ends.truncated_mass > TRUNCATION_WARNING_MASS:
        cut = int((~ends.absorbed).sum())
        longest = int(lengths[~ends.absorbed].max())
        need = int(np.ceil(np.log(TRUNCATION_WARNING_MASS) / np.log(gamma))) if gamma > 0 else 1
        warnings.warn(
            f"{cut} of {plural(n, 'demonstration')} end{'s' if cut == 1 else ''} outside an absorbing state (horizon {longest}, "
            f"gamma^horizon = {gamma ** longest:.3g} at discount {gamma}): {ends.truncated_mass:.1%} of the "
            f"empirical occupancy's mass is extrapolated by renormalising the observed steps, a bias of up to "
            f"{2 * ends.truncated_mass:.2g} in L1 distance (at most 2) on the normalised occupancy. Remedy: longer demonstrations "
            f"(horizon >= {need} keeps it under {TRUNCATION_WARNING_MASS:.0%}) or episodes that end in an absorbing state.",
            DemonstrationWarning, stacklevel=2,
        )
    p = counts / (n * mdp.mass)
    if smoothing > 0:
        uniform = np.repeat(mdp.reachable[:, None], A, axis=1).astype(float)
        p = (1.0 - smoothing) * p + smoothing * uniform / uniform.sum()
    return p * mdp.mass
