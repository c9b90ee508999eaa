"""Comparing rewards up to potential shaping, scale and offset: the exact projection for ``r(s, a)``.

IRL identifies a reward only up to the transformations that leave every optimal (and every
soft-optimal) policy unchanged: a positive scale (with the temperature), a constant, and
potential-based shaping (Ng, Harada and Russell 1999, "Policy invariance under reward
transformations"). For a reward of ``(s, a)`` the shaping class is the *expected* one,

    r'(s, a) = r(s, a) + gamma (P Phi)(s, a) - Phi(s),   (P Phi)(s, a) = sum_s' P(s'|s, a) Phi(s'),

since soft value iteration only sees a reward through ``r(s, a) + gamma E_{s'} V(s')``. So a
learned reward is compared with the true one by the weighted least-squares fit

    min_{c, b, Phi}  sum_{(s, a)} w(s, a) (r_learned(s, a) - c r_true(s, a) - b - gamma (P Phi)(s, a) + Phi(s))^2

(:func:`shaping_fit`): ``c`` is the fitted scale, ``b`` the offset, ``Phi`` the potential, and
``r_learned - b - (gamma P Phi - Phi)`` (the learned reward with its fitted shaping removed) is
what a figure should draw beside ``c r_true``. The fit is exact linear algebra on the model ``P``.

Shaping-invariant distance. Following EPIC (Gleave, Dennis, Legg, Russell and Leike 2021,
"Quantifying Differences in Reward Functions"), both rewards are first *canonicalised*, here by
the exact ``w``-orthogonal projection ``C`` that removes constants and expected shaping, then
compared by the Pearson distance ``D = sqrt((1 - rho) / 2)`` of the canonical rewards, ``rho``
their ``w``-weighted correlation. ``D`` is in ``[0, 1]``, is unchanged by shaping, offset and
positive scale of either reward, is 0 exactly when ``r_learned = c r_true + b + shaping`` with
``c > 0`` and 1 when ``c < 0`` (the reward is reversed); unrelated rewards give about
``sqrt(1/2) = 0.71``. EPIC's own canonicalisation acts on ``R(s, a, s')`` and samples ``s, s'``
from a coverage distribution independent of ``(s, a)``; it removes ``gamma Phi(s') - Phi(s)``
exactly, but a reward of ``(s, a)`` has no ``s'``, and the expected term ``gamma (P Phi)(s, a)``
differs from ``gamma Phi(s')`` by zero-mean transition noise that EPIC's independent samples do
not cancel. Two ``(s, a)``-rewards with the same soft-optimal policies in this MDP can therefore
be far apart in EPIC; the projection above uses ``P`` and removes the class exactly.

Weighting. The default ``w`` is uniform over the reachable pairs (every action of every state
reachable from ``mu0``); unreachable states are left out, since no policy ever visits them and no
reward there is identified. Why uniform rather than the expert's occupancy: a soft-optimal
expert puts positive mass on every reachable pair, so with its exact occupancy the reward is
identified (up to the class) on all of them, and the occupancy weighting would discount pairs off
the expert's path by orders of magnitude (the ice the expert walks around on ``icy_goal``),
hiding errors exactly where a transferred reward is tested; and a weighting that depends on the
MDP alone scores every method on the same footing (EPIC likewise fixes its coverage
distribution independently of the rewards compared). Pass ``weights=rho_expert`` for the
on-path view. The two views differ in practice: on ``icy_goal`` PIRO's reward (300 iterations,
its policy within 4e-9 of the expert's) is at ``D = 0.67`` uniformly but ``D = 0`` weighted by
``rho_E``; it is wrong only on pairs the expert almost never takes (stepping into lava), where
both policies are vanishingly small but their logarithms differ (book chapter 7).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import lsmr

from trirl.errors import InvalidConfigError
from trirl.tabular.mdp import MDP

# a canonical reward this much smaller than the reward itself is treated as zero (pure shaping)
ZERO_TOL = 1e-9
# pairs x potential entries up to which the fit uses a dense SVD (exact); above, sparse LSMR
DENSE_LIMIT = 4_000_000


class ShapingFit(NamedTuple):
    """The fit of :func:`shaping_fit` (module doc); arrays are ``[S, A]`` unless stated.

    Attributes:
        scale: ``c``, the fitted scale of the true reward (0 when the learned reward is pure
            shaping plus a constant, e.g. the initial ``r = 0``).
        offset: ``b``; the potential's free constant is fixed by ``sum_{reachable s} Phi(s) = 0``.
        potential: ``Phi[S]`` (0 at unreachable states).
        unshaped: ``r_learned - b - (gamma P Phi - Phi)``, the learned reward with its fitted
            shaping and offset removed; ``~ c r_true`` on the reachable pairs when the fit is good.
        residual: ``r_learned - (c r_true + b + gamma P Phi - Phi)``, 0 where ``w = 0``.
        relative_residual: ``||residual||_w / ||r_learned - mean_w r_learned||_w``, the share of the
            learned reward's spread the class does not explain (0 for a constant reward).
        correlation: ``rho``, the ``w``-weighted correlation of the canonical rewards.
        distance: ``D = sqrt((1 - rho) / 2)`` in ``[0, 1]``, the shaping-invariant distance.
    """

    scale: float
    offset: float
    potential: np.ndarray
    unshaped: np.ndarray
    residual: np.ndarray
    relative_residual: float
    correlation: float
    distance: float


def reachable_weights(mdp: MDP) -> np.ndarray:
    """``w[S, A]``: uniform over the pairs of reachable states, summing to 1 (module doc)."""
    w = np.repeat(mdp.reachable[:, None], mdp.n_actions, axis=1).astype(float)
    return w / w.sum()


class NoPreferenceError(InvalidConfigError):
    """The true reward is potential shaping plus a constant on the weighted pairs: every policy is
    equally good under it (e.g. a world whose goal cannot be reached), so a learned reward has
    nothing to be compared with."""


class NoPreferenceWarning(UserWarning):
    """A run goes on although its true reward gives no preference (:class:`NoPreferenceError`)."""


class ShapingProjector:
    """:func:`shaping_fit` for many learned rewards against one true reward (a factorisation reused).

    Args:
        mdp: the MDP whose transitions define the shaping class.
        true_reward: ``r_true[S, A]``.
        weights: ``w[S, A] >= 0`` (default :func:`reachable_weights`); pairs with ``w = 0`` are
            left out of the fit.

    Attributes:
        dense: whether the fit is a dense SVD (exact, the factorisation reused by every call) or,
            for pairs x states above ``DENSE_LIMIT``, sparse LSMR (iterative, slower per call).

    Raises:
        InvalidConfigError: a wrong shape, non-finite entries, or negative or all-zero weights;
            :class:`NoPreferenceError` for a true reward that is itself shaping plus a constant on
            the weighted pairs.
    """

    def __init__(self, mdp: MDP, true_reward, weights=None):
        S, A = mdp.shape
        self.mdp = mdp
        self.true_reward = _check(true_reward, "true_reward", mdp.shape)
        w = reachable_weights(mdp) if weights is None else _check(weights, "weights", mdp.shape)
        if np.any(w < 0) or not np.any(w > 0):
            raise InvalidConfigError("weights must be >= 0 with at least one positive entry")
        self.weights = w
        pairs = np.flatnonzero(w.ravel() > 0)
        states = pairs // A
        # the potential lives on the states of the weighted pairs and the states they reach
        P = mdp.transition_matrix[pairs]
        support = np.union1d(states, P.nonzero()[1])
        self.support = support
        column = np.full(S, -1)
        column[support] = np.arange(len(support))
        sqrt_w = np.sqrt(w.ravel()[pairs])
        # design [1, gamma P - E] over the pairs, weighted; rank-deficient by one for gamma < 1
        # (a constant potential is an offset), hence the SVD (dense) or LSMR (large worlds)
        unit = sp.csr_matrix((np.ones(len(pairs)), (np.arange(len(pairs)), column[states])), shape=(len(pairs), len(support)))
        shaping = mdp.discount * P[:, support] - unit
        design = sp.diags(sqrt_w) @ sp.hstack([sp.csr_matrix(np.ones((len(pairs), 1))), shaping]).tocsr()
        self.dense = len(pairs) * len(support) <= DENSE_LIMIT
        if self.dense:
            U, sv, Vt = np.linalg.svd(design.toarray(), full_matrices=False)
            rank = int(np.sum(sv > sv[0] * max(design.shape) * np.finfo(float).eps))
            self._U, self._sv, self._Vt = U[:, :rank], sv[:rank], Vt[:rank]
        self._design, self._pairs, self._sqrt_w = design, pairs, sqrt_w
        self._true = self._weighted(self.true_reward)
        self._theta_true = self._solve(self._true)
        self._canonical_true = self._true - design @ self._theta_true
        if np.linalg.norm(self._canonical_true) <= ZERO_TOL * np.linalg.norm(self._true):
            raise NoPreferenceError(
                "true_reward is a potential shaping plus a constant on the weighted pairs: every policy is "
                "equally good under it, so no learned reward can be compared with it"
            )

    def _weighted(self, reward: np.ndarray) -> np.ndarray:
        return self._sqrt_w * reward.ravel()[self._pairs]

    def _solve(self, y: np.ndarray) -> np.ndarray:
        """The minimum-norm ``theta = (b, Phi)`` of ``min ||design theta - y||``."""
        if self.dense:
            return self._Vt.T @ ((self._U.T @ y) / self._sv)
        return lsmr(self._design, y, atol=1e-14, btol=1e-14, maxiter=100 * self._design.shape[1])[0]

    def __call__(self, reward) -> ShapingFit:
        mdp = self.mdp
        reward = _check(reward, "reward", mdp.shape)
        y = self._weighted(reward)
        theta_y = self._solve(y)
        u_true, u = self._canonical_true, y - self._design @ theta_y
        spread = np.linalg.norm(y - self._sqrt_w * (self._sqrt_w @ y) / (self._sqrt_w @ self._sqrt_w))
        norm_u, norm_true = np.linalg.norm(u), np.linalg.norm(u_true)
        if norm_u <= ZERO_TOL * np.linalg.norm(y):
            scale, rho = 0.0, 0.0  # pure shaping: it says nothing about which behaviour is better
        else:
            scale = float(u @ u_true / norm_true**2)
            rho = float(np.clip(u @ u_true / (norm_u * norm_true), -1.0, 1.0))
        # b and Phi of r - c r_true (the solve is linear), then the potential's free constant
        theta = theta_y - scale * self._theta_true
        offset, potential_support = float(theta[0]), theta[1:]
        shift = potential_support.mean()
        potential_support = potential_support - shift
        offset += (mdp.discount - 1.0) * shift
        potential = np.zeros(mdp.n_states)
        potential[self.support] = potential_support
        shaping = (mdp.discount * (mdp.transition_matrix @ potential)).reshape(mdp.shape) - potential[:, None]
        unshaped = reward - offset - shaping
        residual = np.where(self.weights > 0, unshaped - scale * self.true_reward, 0.0)
        residual_norm = np.sqrt(np.sum(self.weights * residual**2))
        return ShapingFit(
            scale=scale,
            offset=offset,
            potential=potential,
            unshaped=unshaped,
            residual=residual,
            relative_residual=float(residual_norm / spread) if spread > 0 else 0.0,
            correlation=rho,
            distance=float(np.sqrt((1.0 - rho) / 2.0)),
        )

    def metrics(self, reward) -> dict[str, float]:
        """``{"reward_distance": D, "reward_scale": c}`` for a metrics row (``metrics.jsonl``)."""
        fit = self(reward)
        return {"reward_distance": fit.distance, "reward_scale": fit.scale}


def shaping_fit(mdp: MDP, reward, true_reward, weights=None) -> ShapingFit:
    """Fit ``reward ~ c true_reward + b + gamma P Phi - Phi`` by ``w``-weighted least squares.

    Args:
        mdp: the MDP (its transitions ``P`` and discount ``gamma`` define the shaping class).
        reward: the learned reward ``r_learned[S, A]``.
        true_reward: ``r_true[S, A]``.
        weights: ``w[S, A] >= 0``; default uniform over the reachable pairs (module doc).

    Returns:
        A :class:`ShapingFit`: scale ``c``, offset ``b``, potential ``Phi[S]``, the learned reward
        with its shaping removed, the residual, and the shaping-invariant EPIC-style distance.

    Raises:
        InvalidConfigError: a wrong shape or non-finite entries (naming the argument), bad
            weights, or a true reward that is pure shaping.
    """
    return ShapingProjector(mdp, true_reward, weights)(reward)


def _check(array, name: str, shape: tuple[int, int]) -> np.ndarray:
    array = np.asarray(array, dtype=float)
    if array.shape != shape:
        raise InvalidConfigError(f"{name} has shape {array.shape}, expected [S, A] = {list(shape)}")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        raise InvalidConfigError(f"{name}[{', '.join(str(int(i)) for i in bad[0])}] is {array[tuple(bad[0])]}, expected a finite number")
    return array


__all__ = ["ShapingFit", "ShapingProjector", "reachable_weights", "shaping_fit"]
