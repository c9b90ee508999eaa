"""Trust Region IRL on the exact engine (paper Algorithm 1, with Lemma 3.1 and Theorem 3.2).

One iteration, from an MCE pair ``(r^(i), pi^(i))``:

1. ``log_ratio = log(rho_E / rho_pi^(i))``, exact from the occupancies;
2. ``r_tilde = U_eps r^(i)`` (Eq. 2);
3. the trust-region policy for ``r_tilde`` around ``pi^(i)`` with multiplier ``eta`` is, by
   Lemma 3.1, the soft-optimal policy of ``r_eta = (r_tilde + eta log pi^(i)) / (1 + eta)``;
   ``eta`` comes from a schedule, or is solved so that the expected ``KL(pi || pi^(i))`` under
   the new policy's state occupancy equals the bound ``zeta`` (when the bound is active);
4. ``eps_tr = eps / (1 + eta)`` and ``r^(i+1) = U_{eps_tr} r^(i)`` (Theorem 3.2): the new
   policy is MCE-optimal for the corrected reward. ``correction_gap`` measures that identity:
   the largest log-policy difference to the soft-optimal policy of ``r^(i+1)``, recomputed
   from scratch. It is zero up to rounding for exact inner solves, and shows what breaks
   when ``inner_steps`` limits the inner solve to ``k`` warm-started backups.

``eta = 0`` is plain function-space MCE-IRL with a full solve per iteration (Arenz et al. 2016).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import brentq

from trirl import core
from trirl.errors import InvalidConfigError
from trirl.tabular.driver import Learner, Result, run
from trirl.tabular.mdp import MDP
from trirl.tabular.objectives import (
    check_beta,
    check_expert_occupancy,
    dual,
    log_ratio,
    policy_kl,
    reverse_kl_from_logs,
    safe_log,
)
from trirl.tabular.occupancy import log_occupancy, state_occupancy
from trirl.tabular.soft import SoftSolution, soft_bellman_backup, solve

INNER_METHODS = ("value_iteration", "policy_iteration")


@dataclass(frozen=True)
class TRIRLConfig:
    """TRIRL hyperparameters (paper notation).

    Attributes:
        eps: function-space step of Eq. 2, in (0, 1].
        beta: weight of the reverse KL in Eq. 1 (> 0); the reward's scale.
        eta: trust-region multiplier: a number >= 0 or a schedule ``iteration -> eta``
            (``trirl.core.ConstantEta``, ``LinearEta``, ``ExponentialEta`` or any callable).
            Ignored when ``kl_bound`` is set.
        kl_bound: ``zeta`` of Eq. 3; if set, ``eta`` is solved per iteration so that the
            expected ``KL(pi || pi_old)`` equals it whenever the unconstrained step exceeds it.
        inner_steps: ``None`` for an exact trust-region solve; ``k`` for only ``k`` warm-started
            soft Bellman backups (``inner_method="value_iteration"``) or policy-improvement steps.
        inner_method: ``"value_iteration"`` or ``"policy_iteration"``, used with ``inner_steps``.
        solver: exact soft solver, ``"auto"``, ``"value_iteration"`` or ``"policy_iteration"``.
    """

    eps: float = 1.0
    beta: float = 1.0
    eta: Any = 1.0
    kl_bound: float | None = None
    inner_steps: int | None = None
    inner_method: str = "value_iteration"
    solver: str = "auto"

    def __post_init__(self):
        if not (0.0 < float(self.eps) <= 1.0):
            raise InvalidConfigError(f"eps is {self.eps!r}, expected a number in (0, 1]")
        check_beta(self.beta)
        core.as_eta_schedule(self.eta)
        if isinstance(self.eta, (int, float)) and not (np.isfinite(self.eta) and self.eta >= 0):
            raise InvalidConfigError(f"eta is {self.eta!r}, expected a number >= 0 or a schedule")
        if self.kl_bound is not None and not (np.isfinite(self.kl_bound) and self.kl_bound > 0):
            raise InvalidConfigError(f"kl_bound is {self.kl_bound!r}, expected a number > 0 (or None)")
        if self.inner_steps is not None and not (isinstance(self.inner_steps, int) and self.inner_steps >= 1):
            raise InvalidConfigError(f"inner_steps is {self.inner_steps!r}, expected an integer >= 1 (or None)")
        if self.inner_method not in INNER_METHODS:
            raise InvalidConfigError(f"inner_method is {self.inner_method!r}, expected one of {INNER_METHODS}")

    @property
    def eta_schedule(self) -> Callable[[int], float]:
        return core.as_eta_schedule(self.eta)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (schedules by their repr)."""
        eta = self.eta if isinstance(self.eta, (int, float)) else repr(self.eta)
        return {
            "eps": self.eps,
            "beta": self.beta,
            "eta": eta,
            "kl_bound": self.kl_bound,
            "inner_steps": self.inner_steps,
            "inner_method": self.inner_method,
            "solver": self.solver,
        }


class TRIRLState(NamedTuple):
    """``reward`` is ``r^(i)`` and ``log_policy`` its MCE policy ``pi^(i)`` (exactly, for exact steps)."""

    iteration: int
    reward: np.ndarray
    log_policy: np.ndarray
    log_rho: np.ndarray
    value: np.ndarray
    backups: int
    solves: int
    wall_time: float


def _inexact_policy(mdp: MDP, reward, warm: SoftSolution, log_policy_old, steps: int, method: str):
    """``steps`` warm-started backups or policy-improvement steps instead of a full solve."""
    if method == "value_iteration":
        v = warm.v
        for _ in range(steps):
            q, v = soft_bellman_backup(mdp, reward, v)
        log_pi = q - v[:, None]
        return log_pi, steps, 0
    log_pi = log_policy_old
    from trirl.tabular.soft import soft_policy_evaluation

    for _ in range(steps):
        evaluated = soft_policy_evaluation(mdp, np.exp(log_pi), reward, log_policy=log_pi)
        q, v = soft_bellman_backup(mdp, reward, evaluated.v)
        log_pi = q - v[:, None]
    return log_pi, steps, steps


def solve_eta(mdp: MDP, r_tilde, log_policy_old, kl_bound: float, solver: str = "auto", warm=None):
    """The ``eta >= 0`` whose trust-region policy has ``E_d[KL(pi || pi_old)] = kl_bound``.

    Returns ``(eta, solution, evaluations)``; ``eta = 0`` when the unconstrained step already
    satisfies the bound (inactive constraint). The KL decreases monotonically in ``eta``; the
    root is bracketed by doubling and found by Brent's method on ``log(1 + eta)``.
    """
    cache: dict[float, SoftSolution] = {}

    def excess(log1p_eta: float) -> float:
        eta = float(np.expm1(log1p_eta))
        reward = core.trust_region_reward(r_tilde, log_policy_old, eta)
        cache[log1p_eta] = solution = solve(mdp, reward, method=solver, warm_start=warm)
        return policy_kl(mdp, solution.log_policy, log_policy_old) - kl_bound

    if excess(0.0) <= 0:
        return 0.0, cache[0.0], len(cache)
    high = np.log1p(1.0)
    while excess(high) > 0:
        high *= 2.0
        if high > np.log1p(1e12):
            raise InvalidConfigError(f"kl_bound={kl_bound} cannot be met even with eta = 1e12")
    root = brentq(excess, 0.0, high, xtol=1e-12, rtol=1e-12)
    if root not in cache:
        excess(root)
    return float(np.expm1(root)), cache[root], len(cache)


def make_trirl(mdp: MDP, rho_expert, config: TRIRLConfig) -> Learner:
    """TRIRL as a :class:`Learner` over :class:`TRIRLState` (module doc)."""
    rho_expert = check_expert_occupancy(mdp, rho_expert)
    log_rho_expert = safe_log(rho_expert)
    schedule = config.eta_schedule
    beta, eps = float(config.beta), float(config.eps)

    def measure(state: TRIRLState) -> dict[str, Any]:
        return {
            "reverse_kl": reverse_kl_from_logs(state.log_rho, log_rho_expert),
            "dual": dual(mdp, state.reward, rho_expert, beta, value=state.value),
        }

    def init() -> TRIRLState:
        # r^(0) = 0 and its MCE policy, the uniform one (V is the same in every state)
        reward = np.zeros(mdp.shape)
        solution = solve(mdp, reward, method=config.solver)
        log_rho = log_occupancy(mdp, solution.log_policy)
        return TRIRLState(0, reward, solution.log_policy, log_rho, solution.v, solution.backups, solution.solves, 0.0)

    def initial_metrics(state: TRIRLState) -> dict[str, Any]:
        return {
            "iteration": 0, "eta": 0.0, "eps_tr": 0.0, "policy_kl": 0.0, "correction_gap": 0.0,
            "backups": state.backups, "solves": state.solves, "wall_time": 0.0, **measure(state),
        }

    def step(state: TRIRLState) -> tuple[TRIRLState, dict[str, Any]]:
        tick = time.perf_counter()
        ratio = log_ratio(log_rho_expert, state.log_rho)
        r_tilde = core.function_space_update(state.reward, ratio, eps, beta)
        warm = SoftSolution(None, state.value, state.log_policy, None, 0, 0.0, 0, 0)
        backups = solves = 0
        if config.kl_bound is not None:
            eta, solution, evaluations = solve_eta(mdp, r_tilde, state.log_policy, config.kl_bound, config.solver, warm)
            log_pi = solution.log_policy
            backups, solves = evaluations * solution.backups, evaluations * solution.solves
        else:
            eta = float(schedule(state.iteration))
            if not (np.isfinite(eta) and eta >= 0):
                raise InvalidConfigError(f"the eta schedule gave {eta} at iteration {state.iteration}, expected a finite number >= 0")
            r_eta = core.trust_region_reward(r_tilde, state.log_policy, eta)
            if config.inner_steps is None:
                solution = solve(mdp, r_eta, method=config.solver, warm_start=warm)
                log_pi, backups, solves = solution.log_policy, solution.backups, solution.solves
            else:
                log_pi, backups, solves = _inexact_policy(
                    mdp, r_eta, warm, state.log_policy, config.inner_steps, config.inner_method
                )
        eps_tr = core.corrected_step(eps, eta)
        reward = core.function_space_update(state.reward, ratio, eps_tr, beta)
        elapsed = time.perf_counter() - tick
        # bookkeeping below is measurement, not algorithm: it is not counted in backups or wall time
        reference = solve(mdp, reward, method=config.solver, warm_start=SoftSolution(None, state.value, log_pi, None, 0, 0.0, 0, 0))
        gap = float(np.max(np.abs(log_pi - reference.log_policy)))
        log_rho = log_occupancy(mdp, log_pi)
        kl_step = policy_kl(mdp, log_pi, state.log_policy, state_occupancy(mdp, np.exp(log_pi)))
        new_state = TRIRLState(
            state.iteration + 1, reward, log_pi, log_rho, reference.v,
            state.backups + backups, state.solves + solves, state.wall_time + elapsed,
        )
        metrics = {
            "eta": eta, "eps_tr": eps_tr, "policy_kl": kl_step, "correction_gap": gap,
            "backups": new_state.backups, "solves": new_state.solves, "wall_time": new_state.wall_time,
            **measure(new_state),
        }
        return new_state, metrics

    def arrays(state: TRIRLState) -> dict[str, np.ndarray]:
        return {"reward": state.reward, "log_policy": state.log_policy, "value": state.value}

    def restore(saved, meta) -> TRIRLState:
        log_pi = np.asarray(saved["log_policy"])
        return TRIRLState(
            int(meta["iteration"]), np.asarray(saved["reward"]), log_pi, log_occupancy(mdp, log_pi),
            np.asarray(saved["value"]), int(meta.get("backups", 0)), int(meta.get("solves", 0)), float(meta.get("wall_time", 0.0)),
        )

    def meta(state: TRIRLState) -> dict[str, Any]:
        return {"iteration": state.iteration, "backups": state.backups, "solves": state.solves, "wall_time": state.wall_time}

    return Learner("trirl", init, step, initial_metrics, arrays, meta, restore, lambda s: s.reward, lambda s: s.log_policy)


def trirl(
    mdp: MDP,
    rho_expert,
    eps: float = 1.0,
    beta: float = 1.0,
    eta: Any = 1.0,
    iterations: int = 100,
    kl_bound: float | None = None,
    inner_steps: int | None = None,
    inner_method: str = "value_iteration",
    solver: str = "auto",
    run_dir=None,
    progress: bool = False,
    print_every: int = 0,
    callback=None,
    until=None,
) -> Result:
    """Run exact TRIRL (Algorithm 1) for ``iterations`` iterations; see :class:`TRIRLConfig`.

    Returns a :class:`~trirl.tabular.driver.Result` with the final (corrected) ``reward``, its
    MCE ``policy`` and the per-iteration ``history`` (``iteration, eta, eps_tr, reverse_kl,
    policy_kl, dual, correction_gap, backups, solves, wall_time``). ``until(metrics)`` stops early.
    """
    if not (isinstance(iterations, int) and iterations >= 0):
        raise InvalidConfigError(f"iterations is {iterations!r}, expected an integer >= 0")
    config = TRIRLConfig(eps, beta, eta, kl_bound, inner_steps, inner_method, solver)
    learner = make_trirl(mdp, rho_expert, config)
    return run(learner, iterations, run_dir=run_dir, progress=progress, print_every=print_every, callback=callback, until=until)
