"""The TRIRL maths shared by the tabular and the continuous halves.

Every function here is pure and uses only arithmetic, so it works unchanged on numpy arrays,
jax arrays and Python floats. Notation follows the paper (arXiv 2605.11020):

- ``reward`` is ``r^(i)``, ``log_ratio`` is ``log(rho_E / rho_pi^(i))`` (exact in the tabular
  engine, a discriminator's logits in the continuous one),
- ``eps`` is the function-space step of Eq. 2, ``beta`` the weight of the reverse KL in Eq. 1,
- ``eta`` the Lagrange multiplier of the trust region (Eq. 3), ``eps_tr = eps / (1 + eta)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from trirl.errors import InvalidConfigError

EtaSchedule = Callable[[int], float]


def function_space_update(reward, log_ratio, eps, beta):
    """Eq. 2: ``U_eps r = (1 - eps) r + eps * beta * log(rho_E / rho_pi)``.

    With ``eps = 1`` the reward jumps to the current estimate of the optimal reward
    ``r* = beta log(rho_E / rho_pi*)``; smaller steps average it with the old reward.
    """
    return (1.0 - eps) * reward + eps * beta * log_ratio


def corrected_step(eps, eta):
    """Theorem 3.2: the trust-region policy of ``U_eps r`` is MCE-optimal for ``U_{eps_tr} r``
    with ``eps_tr = eps / (1 + eta)``."""
    return eps / (1.0 + eta)


def scaled_step_eta(eta, alpha):
    """The multiplier of the fraction ``alpha`` (in ``(0, 1]``) of a trust-region step of multiplier
    ``eta``: the mean projection ``mu~ = mu_old + (mu - mu_old) / (1 + eta)`` (TRPL, Section 4.3)
    scaled by ``alpha`` is the projection with ``1 / (1 + eta_eff) = alpha / (1 + eta)``, so
    ``eta_eff = (1 + eta) / alpha - 1`` and Theorem 3.2's ``eps_tr = eps alpha / (1 + eta)``."""
    return (1.0 + eta) / alpha - 1.0


def trust_region_reward(reward, log_policy_old, eta):
    """Lemma 3.1: the optimum of the reverse-KL-penalised soft RL problem with multiplier
    ``eta`` around ``pi_old`` is the soft-optimal policy of
    ``r_eta = r / (1 + eta) + eta / (1 + eta) * log pi_old``."""
    return (reward + eta * log_policy_old) / (1.0 + eta)


def corrected_reward(reward, log_ratio, eps, beta, eta):
    """Algorithm 1, line 8: the corrected reward ``U_{eps / (1 + eta)} r``."""
    return function_space_update(reward, log_ratio, corrected_step(eps, eta), beta)


# ---------------------------------------------------------------------------------------------
# eta schedules: callables ``iteration -> eta`` (iteration counts from 0).


def _check_eta(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise InvalidConfigError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class ConstantEta:
    """``eta`` stays at ``value`` for every iteration."""

    value: float

    def __post_init__(self):
        _check_eta("eta", self.value)

    def __call__(self, iteration: int) -> float:
        return float(self.value)


@dataclass(frozen=True)
class LinearEta:
    """``eta`` decays linearly from ``start`` to ``end`` over ``steps`` iterations, then stays."""

    start: float
    end: float
    steps: int

    def __post_init__(self):
        _check_eta("eta start", self.start)
        _check_eta("eta end", self.end)
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise InvalidConfigError(f"eta schedule steps must be an integer >= 1, got {self.steps!r}")

    def __call__(self, iteration: int) -> float:
        frac = min(max(iteration, 0) / self.steps, 1.0)
        return float(self.start + frac * (self.end - self.start))


@dataclass(frozen=True)
class ExponentialEta:
    """``eta = end + (start - end) * decay**iteration``: geometric decay towards ``end``."""

    start: float
    decay: float
    end: float = 0.0

    def __post_init__(self):
        _check_eta("eta start", self.start)
        _check_eta("eta end", self.end)
        if not (0.0 < self.decay <= 1.0):
            raise InvalidConfigError(f"eta decay must be in (0, 1], got {self.decay!r}")
        if self.end > self.start:
            # the schedule would raise eta towards end: not a decay, and not what was asked for
            raise InvalidConfigError(
                f"eta end ({self.end:g}) is above eta start ({self.start:g}): an exponential schedule decays eta "
                f"from start towards end; choose end <= start (a rising eta is 'linear:START:END:STEPS')"
            )

    def __call__(self, iteration: int) -> float:
        return float(self.end + (self.start - self.end) * self.decay ** max(iteration, 0))


def as_eta_schedule(eta) -> EtaSchedule:
    """Accept a number (constant ``eta``), a schedule object or any callable ``iteration -> eta``."""
    if callable(eta):
        return eta
    if isinstance(eta, (int, float)):
        return ConstantEta(float(eta))
    raise InvalidConfigError(
        f"eta must be a number >= 0 or a callable iteration -> eta, got {type(eta).__name__}"
    )


def parse_eta_schedule(spec: str) -> EtaSchedule:
    """Parse the command-line form of a schedule.

    ``"2.0"`` (constant), ``"linear:START:END:STEPS"``, ``"exp:START:DECAY[:END]"``.
    """
    parts = spec.split(":")
    try:
        if len(parts) == 1:
            return ConstantEta(float(parts[0]))
        kind, args = parts[0], parts[1:]
        if kind == "linear" and len(args) == 3:
            return LinearEta(float(args[0]), float(args[1]), int(args[2]))
        if kind == "exp" and len(args) in (2, 3):
            return ExponentialEta(*(float(a) for a in args))
    except ValueError as err:
        if isinstance(err, InvalidConfigError):
            raise
        raise InvalidConfigError(f"eta schedule {spec!r}: {err}") from None
    raise InvalidConfigError(
        f"eta schedule {spec!r} not understood; expected a number, "
        "'linear:START:END:STEPS' or 'exp:START:DECAY[:END]'"
    )
