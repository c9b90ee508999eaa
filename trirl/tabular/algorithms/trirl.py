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

Steps 2-4 are :func:`trust_region_step`, a function a reader can call on its own; the learner
of :func:`make_trirl` adds step 1, the safeguard and the metrics around it.

``eta = 0`` is plain function-space MCE-IRL with a full solve per iteration (Arenz et al. 2016).

Cost of one exact iteration: the trust-region solve (policy iteration warm-started at
``pi^(i)``, whose first evaluation reuses the factorisation left by the previous iteration), one
evaluation of the new policy for ``V`` of the corrected reward, and one occupancy solve with the
same factorisation, which both the next ``log_ratio`` and ``policy_kl``'s weighting use: the
history's ``factorisations`` grows by the number of policy-iteration steps, usually 2-3.

Two extensions:

- **Safeguard** (``safeguard=True``, the default). The tabular dual ``G`` is exact, so a step can
  be checked: if the corrected reward's dual exceeds the previous one, ``eps`` is halved and the
  trust-region policy and corrected reward are recomputed, up to ``max_backtracks`` times (a step
  that still fails is rejected: the iteration keeps ``(r^(i), pi^(i))``). The dual is then
  monotone by construction, whatever the effective step ``alpha = eps * beta / (1 + eta)``. An
  accepted step lets the next iteration start from twice its ``eps`` (at most ``config.eps``), so
  a world that needs a small step does not pay the halvings again in every iteration, and a world
  where the full step is fine never halves: there the iterates are those of the fixed step, bit
  for bit. The check needs ``V`` of the corrected reward, which every iteration computes anyway
  (its policy is the trust-region policy, by Theorem 3.2, so the solve is one evaluation with the
  factorisation that the next occupancy reuses and one backup that confirms it); the safeguard
  adds the ``logsumexp`` of the dual, and the attempts it rejects. The metric ``backtracks``
  counts the halvings of one iteration and ``total_backtracks`` their sum; ``eps`` is the step
  accepted. Every attempt's solves count in ``backups``, and so does the solve that gives the
  dual its ``V``. ``safeguard=False`` is the paper's fixed step (Algorithm 1 as written), whose
  dual rises on worlds where ``alpha`` is too large for the occupancies (book/findings.md).
- **Reward classes** (``reward_class="state_only"`` or ``"linear"`` with ``features``, see
  :mod:`trirl.tabular.rewards`). The targets ``U_eps r`` and ``U_{eps_tr} r`` are projected onto
  the class by least squares weighted by the logarithmic mean of ``rho_pi`` and the tilted
  expert ``q_r`` (``~ rho_E`` for large ``beta``), :func:`~trirl.tabular.rewards.log_mean_weights`,
  which keeps the projected step a descent direction on the dual ``G`` (the plain mixture
  ``(rho_pi + rho_E) / 2`` does not: on a random linear class its dual rises after a few
  iterations). The projection ``Pi`` is linear
  and fixes ``r^(i)`` (which is in the class), so ``Pi U_eps r = (1 - eps) r + eps beta Pi log_ratio``
  and Theorem 3.2 carries over to the projected rewards with the same ``eps_tr``: the identity
  holds up to the projection's rounding, which ``correction_gap`` reports. What the class loses
  is the part of the update it cannot represent, ``projection_error`` (weighted RMS of
  ``U_eps r - Pi U_eps r``); the fixed point is then a moment-matching one
  (``Phi^T (rho_pi - q_r) = 0``), not the expert, unless the expert's reward lies in the class.
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
from trirl.tabular.driver import Learner
from trirl.tabular.mdp import MDP
from trirl.tabular.objectives import (
    check_beta,
    _expert_term,
    dual_from_logs,
    log_ratio,
    policy_kl,
    reverse_kl_from_logs,
    safe_log,
)
from trirl.tabular.algorithms.common import (
    DUAL_RTOL, Work, check_inner_method, costs, expert_record, runner, soft_policy_steps,
)
from trirl.tabular.occupancies import log_occupancy, log_occupancy_from_state, state_occupancy
from trirl.tabular.rewards import REWARD_CLASSES, RewardClass, log_mean_weights, make_reward_class, projection_error
from trirl.tabular.soft import SoftSolution, solve



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
        safeguard: ``True`` (default): halve ``eps`` until the dual of the corrected reward does
            not increase, and let it grow back after accepted steps (module doc); the dual is
            then monotone by construction on any MDP. ``False``: the paper's fixed step, whose
            dual can rise (book/findings.md).
        max_backtracks: the most halvings per iteration before the step is rejected.
        reward_class: ``"tabular"``, ``"state_only"`` or ``"linear"`` (features passed to
            :func:`make_trirl`); updates are projected onto the class (module doc).
    """

    # The recommended values, read by the CLI, the comparison, the widgets and the book: alpha =
    # eps * beta / (1 + eta) = 0.1 is the largest effective step of the reward update. Large beta
    # makes Eq. 1's optimum the expert itself. No fixed alpha is safe on every world a user can
    # write (the safe step is nu = eps_tr + alpha * lambda_max(d log rho / d r) < 2, and
    # lambda_max grows with 1/(1-gamma) and where rho_expert is tiny; book/findings.md): 0.1 is
    # monotone on the shipped worlds and fails on a 5 x 9 maze with one lava cell, so the
    # safeguard is on by default and shrinks the step only where the exact dual asks for it.
    eps: float = 0.5
    beta: float = 1e4
    eta: Any = 49_999.0
    kl_bound: float | None = None
    inner_steps: int | None = None
    inner_method: str = "value_iteration"
    solver: str = "auto"
    safeguard: bool = True
    max_backtracks: int = 30
    reward_class: str = "tabular"

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
        check_inner_method(self.inner_method)
        if not isinstance(self.safeguard, (bool, np.bool_)):
            raise InvalidConfigError(f"safeguard is {self.safeguard!r}, expected True (the default) or False (the paper's fixed step)")
        if not (isinstance(self.max_backtracks, int) and self.max_backtracks >= 0):
            raise InvalidConfigError(f"max_backtracks is {self.max_backtracks!r}, expected an integer >= 0")
        if self.reward_class not in REWARD_CLASSES:
            raise InvalidConfigError(f"reward_class is {self.reward_class!r}, expected one of {REWARD_CLASSES}")

    @property
    def eta_schedule(self) -> Callable[[int], float]:
        return core.as_eta_schedule(self.eta)


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
    backtracks: int = 0
    factorisations: int = 0
    next_eps: float = 0.0  # the safeguard's first try in the next iteration (0: config.eps)


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


class TrustRegionStep(NamedTuple):
    """One trust-region step (Algorithm 1, lines 4-8) with a given ``eps``.

    ``log_policy`` ``[S, A]`` is the trust-region policy ``pi^(i+1)``, ``reward`` ``[S, A]`` the
    corrected reward ``r^(i+1) = U_{eps_tr} r^(i)`` of Theorem 3.2 (its MCE policy), ``eta`` the
    multiplier used, ``eps_tr = eps / (1 + eta)``, ``projection_error`` the reward class's
    projection error (0 for tabular rewards), ``backups`` and ``solves`` the soft solver's cost."""

    log_policy: np.ndarray
    reward: np.ndarray
    eta: float
    eps_tr: float
    projection_error: float
    backups: int
    solves: int


def trust_region_step(mdp: MDP, state: TRIRLState, ratio, eps: float, beta: float, eta: float | None = None, *,
                      kl_bound: float | None = None, solver: str = "auto", inner_steps: int | None = None,
                      inner_method: str = "value_iteration", reward_class: RewardClass | None = None,
                      weights=None) -> TrustRegionStep:
    """Algorithm 1, lines 4-8, from the MCE pair ``(state.reward, state.log_policy)``.

    1. ``r_tilde = (1 - eps) r + eps beta ratio`` (Eq. 2, :func:`trirl.core.function_space_update`);
    2. the trust-region policy: soft-optimal for ``r_eta = (r_tilde + eta log pi_old) / (1 + eta)``
       (Lemma 3.1), exactly or by ``inner_steps`` warm-started steps; with ``kl_bound``, ``eta``
       is solved so that ``E_d[KL(pi || pi_old)] = kl_bound`` (Eq. 3, :func:`solve_eta`);
    3. the corrected reward ``r^(i+1) = (1 - eps_tr) r + eps_tr beta ratio`` whose MCE policy it
       is (Theorem 3.2, :func:`trirl.core.corrected_reward`).

    Args:
        mdp: the MDP (``S`` states, ``A`` actions).
        state: the current iterate; its ``value`` warm-starts the solver.
        ratio: ``[S, A]`` log-ratio ``log(rho_E / rho_pi)`` of the current policy.
        eps, beta: Eq. 2's step in (0, 1] and Eq. 1's weight ``> 0``.
        eta: the multiplier ``>= 0`` (ignored, and may be ``None``, when ``kl_bound`` is set).
        kl_bound, solver, inner_steps, inner_method: as in :class:`TRIRLConfig`.
        reward_class: a non-tabular class projects both rewards onto it, with ``weights``.

    Raises:
        InvalidConfigError: for an ``eta`` that is not a finite number ``>= 0``.
    """
    tabular = reward_class is None or reward_class.kind == "tabular"
    target = core.function_space_update(state.reward, ratio, eps, beta)
    r_tilde = target if tabular else reward_class.project_reward(target, weights)
    warm = SoftSolution(None, state.value, state.log_policy, None, 0, 0.0, 0, 0)
    if kl_bound is not None:
        eta, solution, evaluations = solve_eta(mdp, r_tilde, state.log_policy, kl_bound, solver, warm)
        log_pi = solution.log_policy
        backups, solves = evaluations * solution.backups, evaluations * solution.solves
    else:
        if eta is None or not (np.isfinite(eta) and eta >= 0):
            raise InvalidConfigError(f"the eta schedule gave {eta} at iteration {state.iteration}, expected a finite number >= 0")
        eta = float(eta)
        r_eta = core.trust_region_reward(r_tilde, state.log_policy, eta)
        if inner_steps is None:
            solution = solve(mdp, r_eta, method=solver, warm_start=warm)
            log_pi, backups, solves = solution.log_policy, solution.backups, solution.solves
        else:
            steps = soft_policy_steps(mdp, r_eta, state.value, state.log_policy, inner_steps, inner_method)
            log_pi, backups, solves = steps.log_policy, steps.backups, steps.solves
    eps_tr = core.corrected_step(eps, eta)
    reward = core.corrected_reward(state.reward, ratio, eps, beta, eta)
    error = 0.0
    if not tabular:
        reward = reward_class.project_reward(reward, weights)
        error = projection_error(target, r_tilde, weights)
    return TrustRegionStep(log_pi, reward, eta, eps_tr, error, backups, solves)


def make_trirl(mdp: MDP, rho_expert, config: TRIRLConfig, features=None) -> Learner:
    """TRIRL as a :class:`Learner` over :class:`TRIRLState` (module doc).

    ``features`` (``[S, F]`` or ``[S, A, F]``) are required by ``config.reward_class="linear"``.
    """
    expert = expert_record(mdp, rho_expert)
    schedule = config.eta_schedule
    beta = float(config.beta)
    reward_class = make_reward_class(mdp, config.reward_class, features)
    tabular = reward_class.kind == "tabular"
    name = "trirl" if config.safeguard else "trirl-fixed"

    log_expert = safe_log(expert.rho / mdp.mass)
    # the last accepted reward and its dual, so that the safeguard does not evaluate it twice; kept
    # here, not in the state, which a learner rebuilt with another beta (the stepper's sliders) reuses
    checked: dict[str, Any] = {"reward": None, "dual": None}

    def state_dual(state: TRIRLState) -> float:
        if checked["reward"] is state.reward:
            return checked["dual"]
        return dual_from_logs(mdp, state.reward, log_expert, beta, state.value)

    def measure(state: TRIRLState) -> dict[str, Any]:
        return {"reverse_kl": reverse_kl_from_logs(state.log_rho, expert.log_rho), "dual": state_dual(state)}

    def init(key=None) -> TRIRLState:
        # r^(0) = 0 (in every class) and its MCE policy, the uniform one (V is the same in every state)
        reward = np.zeros(mdp.shape)
        factorised = mdp.factorisations
        solution = solve(mdp, reward, method=config.solver)
        log_rho = log_occupancy(mdp, solution.log_policy)
        return TRIRLState(0, reward, solution.log_policy, log_rho, solution.v, solution.backups, solution.solves, 0.0,
                          0, mdp.factorisations - factorised, float(config.eps))

    def initial_metrics(state: TRIRLState) -> dict[str, Any]:
        metrics = {
            "iteration": 0, "eta": 0.0, "eps_tr": 0.0, "policy_kl": 0.0, "correction_gap": 0.0,
            **costs(state), "factorisations": state.factorisations, **measure(state),
        }
        if config.safeguard:
            metrics.update(eps=0.0, backtracks=0, total_backtracks=0)
        if not tabular:
            metrics["projection_error"] = 0.0
        return metrics

    def attempt(state: TRIRLState, ratio, weights, eps: float) -> TrustRegionStep:
        eta = None if config.kl_bound is not None else float(schedule(state.iteration))
        return trust_region_step(mdp, state, ratio, eps, beta, eta, kl_bound=config.kl_bound, solver=config.solver,
                                 inner_steps=config.inner_steps, inner_method=config.inner_method,
                                 reward_class=None if tabular else reward_class, weights=weights)

    def step(state: TRIRLState, key=None) -> tuple[TRIRLState, dict[str, Any]]:
        tick = time.perf_counter()
        factorised = mdp.factorisations
        ratio = log_ratio(expert.log_rho, state.log_rho)
        weights = None
        if not tabular:
            _, tilted = _expert_term(mdp, state.reward, expert.rho, beta)
            weights = log_mean_weights(mdp, np.exp(state.log_rho), tilted)
        # the safeguard starts from the step its last iteration earned (module doc)
        start = min(float(config.eps), float(state.next_eps)) if config.safeguard and state.next_eps > 0 else float(config.eps)
        eps, halvings, work = start, 0, Work()
        previous_dual = state_dual(state) if config.safeguard else None
        while True:
            trial = attempt(state, ratio, weights, eps)
            work = work.plus(trial)
            # V of the corrected reward: the warm start is (by Theorem 3.2) its MCE policy already
            reference = solve(mdp, trial.reward, method=config.solver,
                              warm_start=SoftSolution(None, state.value, trial.log_policy, None, 0, 0.0, 0, 0))
            if not config.safeguard:
                break
            # the safeguard needs this solve to evaluate the dual: it is part of the algorithm's cost
            work = work.plus(reference)
            new_dual = dual_from_logs(mdp, trial.reward, log_expert, beta, reference.v)
            if new_dual <= previous_dual + DUAL_RTOL * max(1.0, abs(previous_dual)):
                checked.update(reward=trial.reward, dual=new_dual)
                break
            if halvings == config.max_backtracks:
                # reject the step: keep (r^(i), pi^(i)), which has the previous dual
                trial = TrustRegionStep(state.log_policy, state.reward, trial.eta, 0.0, 0.0, 0, 0)
                reference = SoftSolution(None, state.value, state.log_policy, None, 0, 0.0, 0, 0)
                eps = 0.0
                break
            eps, halvings = 0.5 * eps, halvings + 1
        elapsed = time.perf_counter() - tick
        # bookkeeping below is measurement, not algorithm: it is not counted in backups or wall time
        log_pi = trial.log_policy
        gap = float(np.max(np.abs(log_pi - reference.log_policy)))
        # one occupancy solve serves the next step's log_ratio and policy_kl's weighting; it reuses
        # the factorisation of the reference solve's evaluation of the same policy (linsolve.py)
        d = state_occupancy(mdp, np.exp(log_pi))
        log_rho = log_occupancy_from_state(mdp, d, log_pi)
        kl_step = policy_kl(mdp, log_pi, state.log_policy, state_weights=d)
        new_state = TRIRLState(
            state.iteration + 1, trial.reward, log_pi, log_rho, reference.v,
            state.backups + work.backups, state.solves + work.solves, state.wall_time + elapsed,
            state.backtracks + halvings, state.factorisations + mdp.factorisations - factorised,
            _next_eps(config, eps, start),
        )
        metrics = {
            "eta": trial.eta, "eps_tr": trial.eps_tr, "policy_kl": kl_step, "correction_gap": gap,
            **costs(new_state), "factorisations": new_state.factorisations,
            **measure(new_state),
        }
        if config.safeguard:
            metrics.update(eps=eps, backtracks=halvings, total_backtracks=new_state.backtracks)
        if not tabular:
            metrics["projection_error"] = trial.projection_error
        return new_state, metrics

    return Learner(name, init, step, initial_metrics, lambda s: s.reward, lambda s: s.log_policy, dual_advice(config))


def _next_eps(config: TRIRLConfig, accepted: float, tried: float) -> float:
    """The safeguard's first ``eps`` for the next iteration: twice the accepted step, at most
    ``config.eps``; after a rejected step (``accepted = 0``), the smallest step it tried."""
    if accepted == 0.0:
        return tried * 0.5 ** config.max_backtracks
    return min(float(config.eps), 2.0 * accepted)


def dual_advice(config: TRIRLConfig) -> str:
    """Why TRIRL's dual can get worse under ``config``, and the remedy (the text of the
    :class:`~trirl.errors.DualIncreaseWarning` that :func:`trirl.tabular.driver.run` raises)."""
    if config.safeguard:
        return ("Cause: the safeguard accepts a step only if the exact dual does not increase, so this is rounding "
                f"in the soft solves beyond its tolerance (rtol {DUAL_RTOL:g}). Remedy: a tighter solver tolerance.")
    if config.kl_bound is not None:
        step = f"eps * beta / (1 + eta) with eta solved from kl_bound={config.kl_bound}"
    elif isinstance(config.eta, (int, float, core.ConstantEta)):
        eta = float(config.eta.value if isinstance(config.eta, core.ConstantEta) else config.eta)
        step = f"alpha = eps * beta / (1 + eta) = {float(config.eps) * float(config.beta) / (1.0 + eta):.3g}"
    else:
        step = f"alpha = eps * beta / (1 + eta_i) under the schedule {config.eta!r}"
    causes = [
        f"the effective step {step} is too large for this problem: the dual decreases only while "
        "eps_tr + alpha * lambda_max(d log rho / d r) stays below about 2, and lambda_max is large where rho_expert "
        "is tiny (e.g. smoothed sampled demonstrations: smoothing puts a tiny mass on every unvisited pair; book/findings.md)"
    ]
    if config.inner_steps is not None:
        causes.append(f"inner_steps={config.inner_steps} leave the policy short of the trust-region optimum (Lemma 3.1)")
    if config.reward_class != "tabular":
        causes.append(f"the projection onto the {config.reward_class!r} reward class")
    return ("Cause: " + "; or ".join(causes) + ". Remedy: safeguard=True (the default; `trirl grid --safeguard on`), "
            "which halves eps until the exact dual does not increase; or a smaller step (smaller eps, larger eta or a "
            "kl_bound); with demonstrations, also a smaller smoothing.")


trirl = runner(make_trirl, TRIRLConfig, "trirl", """Run exact TRIRL (Algorithm 1): ``trirl(mdp, rho_expert, iterations=100, *,
**fields, config=None, features=None, run_dir=None, progress=False, print_every=0, callback=None,
until=None, observe=None)``.

``mdp`` has ``S`` states and ``A`` actions; ``rho_expert`` ``[S, A]`` is the expert occupancy
(mass ``1 / (1 - gamma)``); the fields are :class:`TRIRLConfig`'s, with its defaults (the
recommended ``eps = 0.5, beta = 1e4, eta = 49_999`` with the safeguard on;
``safeguard=False`` is the paper's fixed step), or ``config`` gives them all; ``features``
(``[S, F]`` or ``[S, A, F]``) serve ``reward_class="linear"``; the run options are
:func:`trirl.tabular.driver.run`'s (``until(metrics)`` stops early, ``observe(reward)`` adds
metrics of each iteration's reward).

Returns a :class:`~trirl.tabular.driver.Result` with the final (corrected) ``reward`` ``[S, A]``,
its MCE ``policy`` and the per-iteration ``history`` (``iteration, eta, eps_tr, reverse_kl,
policy_kl, dual, correction_gap, backups, solves, factorisations, wall_time``; with ``safeguard``
also ``eps, backtracks, total_backtracks``; with a non-tabular ``reward_class`` also
``projection_error``).

Raises:
    InvalidConfigError: a bad field (named), ``iterations`` not an integer ``>= 0``, a bad
        ``rho_expert``, or an eta schedule that gives a non-finite value.
""")
