"""Reward classes: tabular, state-only and linear in given features.

A reward class is a linear map ``theta -> r = Phi theta`` from parameters to state-action rewards
``[S, A]``. The tabular class is the identity (``theta = r``), the state-only class broadcasts
``theta[S]`` over actions, and the linear class uses given features, per state ``[S, F]`` (then
``r(s, a) = phi(s) . theta``, a state-only reward) or per pair ``[S, A, F]``.

Every algorithm in ``trirl.tabular.algorithms`` uses the three operations of :class:`RewardClass`:

- ``reward(theta)`` (``Phi theta``) and ``adjoint(g)`` (``Phi^T g``, the chain rule of a reward
  gradient, e.g. MCE-IRL's ``rho_E - rho_pi``);
- ``project(target, weights)``: the weighted least-squares projection
  ``argmin_theta sum_{s,a} w(s, a) (Phi theta - target)^2``, used by TRIRL's function-space
  update (Eq. 2) when the reward is restricted to the class;
- ``metric_solve(v, weights)``: ``(Phi^T W Phi)^{-1} v``, the closed-form proximal step of PIRO.

TRIRL weights its projection by :func:`log_mean_weights` (see there: it keeps the projected
update a descent direction on the dual). The simpler weighting (:func:`projection_weights`,
used for PIRO's reward-change norm) is the normalised mixture of the agent's and the
expert's occupancies, ``w = (1 - gamma) (rho_pi + rho_E) / 2``, plus a tiny uniform floor. Why
this one: the dual ``G`` and the reverse KL only see a reward through expectations under these
two occupancies (``dG/dr = rho_pi - q_r``), so the projection should be accurate where either
puts mass and may be sloppy where neither goes; the mixture is positive on every reachable pair
(``rho_E`` is, by validation), so the projection is unique whenever the features are; the floor
only pins the reward at unreachable states, which no occupancy sees. It is also the weighting of
PIRO's reward-change norm, estimated on expert data and policy rollouts (arXiv 2509.23135).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trirl.errors import InvalidConfigError
from trirl.tabular.mdp import MDP

REWARD_CLASSES = ("tabular", "state_only", "linear")
WEIGHT_FLOOR = 1e-10


def projection_weights(mdp: MDP, rho, rho_expert, floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """``w[S, A] = (1 - gamma) (rho_pi + rho_E) / 2 + floor / (S A)``, summing to ``1 + floor`` (module doc)."""
    w = 0.5 * (1.0 - mdp.discount) * (np.asarray(rho, dtype=float) + np.asarray(rho_expert, dtype=float))
    return w + floor / w.size


def log_mean_weights(mdp: MDP, rho, tilted, floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """``w = (1 - gamma) (q - rho) / (log q - log rho)``, the logarithmic mean of two occupancies.

    TRIRL's weighting (``q`` is the tilted expert ``q_r`` of the dual gradient, ``= rho_E`` as
    ``beta -> inf``): with it ``w * beta log(q / rho) = -beta (rho - q) = -beta dG/dr``, so the
    projected function-space direction ``Pi (beta log_ratio - r)`` has inner product
    ``-beta g^T (Phi^T W Phi)^{-1} g <= 0`` (``g = Phi^T dG/dr``) with the dual's gradient: a
    descent direction on ``G`` in every class that contains the constants, whose fixed points are
    the class's dual stationary points ``Phi^T (rho_pi - q_r) = 0``. The plain mixture weighting
    lacks this and can make the projected iteration climb the dual. The logarithmic mean lies
    between the geometric and the arithmetic mean, so it is the mixture's close cousin and equals
    both where the occupancies agree.
    """
    p = np.asarray(rho, dtype=float)
    q = np.asarray(tilted, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_gap = np.log(q) - np.log(p)
        w = np.where(np.abs(log_gap) > 1e-6, (q - p) / log_gap, 0.5 * (p + q))
    w = np.where(np.isfinite(w), w, 0.0)
    return (1.0 - mdp.discount) * w + floor / w.size


@dataclass(frozen=True)
class RewardClass:
    """A linear reward class ``r = Phi theta`` (module doc).

    Attributes:
        kind: ``"tabular"``, ``"state_only"`` or ``"linear"``.
        shape: ``(S, A)``.
        features: for ``"linear"``, the ``[S * A, F]`` feature matrix ``Phi``; else ``None``.
    """

    kind: str
    shape: tuple[int, int]
    features: np.ndarray | None = None

    @property
    def param_shape(self) -> tuple[int, ...]:
        if self.kind == "tabular":
            return self.shape
        if self.kind == "state_only":
            return (self.shape[0],)
        return (self.features.shape[1],)

    def zeros(self) -> np.ndarray:
        return np.zeros(self.param_shape)

    def reward(self, theta) -> np.ndarray:
        """``r = Phi theta``, ``[S, A]``."""
        theta = np.asarray(theta, dtype=float)
        if self.kind == "tabular":
            return theta
        if self.kind == "state_only":
            return np.broadcast_to(theta[:, None], self.shape).copy()
        return (self.features @ theta).reshape(self.shape)

    def adjoint(self, g) -> np.ndarray:
        """``Phi^T g`` for a state-action array ``g[S, A]``: the gradient with respect to ``theta``."""
        g = np.asarray(g, dtype=float)
        if self.kind == "tabular":
            return g
        if self.kind == "state_only":
            return g.sum(axis=1)
        return self.features.T @ g.ravel()

    def metric_solve(self, v, weights) -> np.ndarray:
        """``(Phi^T W Phi)^{-1} v`` with ``W = diag(weights)`` (a tiny ridge keeps it defined)."""
        w = np.asarray(weights, dtype=float)
        if self.kind == "tabular":
            return np.asarray(v, dtype=float) / w
        if self.kind == "state_only":
            return np.asarray(v, dtype=float) / w.sum(axis=1)
        gram = self.features.T @ (w.ravel()[:, None] * self.features)
        ridge = 1e-12 * max(np.trace(gram) / len(gram), 1e-300)
        return np.linalg.solve(gram + ridge * np.eye(len(gram)), v)

    def project(self, target, weights) -> np.ndarray:
        """``argmin_theta sum w (Phi theta - target)^2``; exact (``theta = target``) for tabular."""
        t = np.asarray(target, dtype=float)
        w = np.asarray(weights, dtype=float)
        if self.kind == "tabular":
            return t.copy()
        if self.kind == "state_only":
            return (w * t).sum(axis=1) / w.sum(axis=1)
        return self.metric_solve(self.adjoint(w * t), w)

    def project_reward(self, target, weights) -> np.ndarray:
        """The projected reward ``Phi project(target)``, ``[S, A]``."""
        return self.reward(self.project(target, weights))


def projection_error(target, projected, weights) -> float:
    """``sqrt(sum w (target - projected)^2 / sum w)``: the weighted RMS part the class cannot represent."""
    w = np.asarray(weights, dtype=float)
    diff = np.asarray(target, dtype=float) - np.asarray(projected, dtype=float)
    return float(np.sqrt(np.sum(w * diff**2) / w.sum()))


def make_reward_class(mdp: MDP, reward_class: str = "tabular", features=None) -> RewardClass:
    """Validate and build a :class:`RewardClass`.

    Args:
        reward_class: ``"tabular"`` (default), ``"state_only"`` or ``"linear"``.
        features: for ``"linear"``: state features ``[S, F]`` or state-action features ``[S, A, F]``.

    Raises:
        InvalidConfigError: an unknown class, features given without ``"linear"`` (or missing
            with it), a wrong shape or non-finite entries.
    """
    if reward_class not in REWARD_CLASSES:
        raise InvalidConfigError(f"reward_class is {reward_class!r}, expected one of {REWARD_CLASSES}")
    if reward_class != "linear":
        if features is not None:
            raise InvalidConfigError(f"features were given but reward_class is {reward_class!r}; use reward_class='linear'")
        return RewardClass(reward_class, mdp.shape)
    if features is None:
        raise InvalidConfigError("reward_class='linear' needs features [S, F] or [S, A, F]")
    phi = np.asarray(features, dtype=float)
    S, A = mdp.shape
    if phi.ndim == 2 and phi.shape[0] == S:
        phi = np.broadcast_to(phi[:, None, :], (S, A, phi.shape[1]))
    if phi.ndim != 3 or phi.shape[:2] != (S, A) or phi.shape[2] < 1:
        raise InvalidConfigError(f"features has shape {np.shape(features)}, expected [S, F] = [{S}, F] or [S, A, F] = [{S}, {A}, F]")
    bad = np.argwhere(~np.isfinite(phi))
    if len(bad):
        raise InvalidConfigError(f"features[{', '.join(str(int(i)) for i in bad[0])}] is not finite")
    return RewardClass("linear", mdp.shape, np.ascontiguousarray(phi.reshape(S * A, -1)))
