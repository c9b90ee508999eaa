"""Pieces shared by the tabular algorithms: the expert record, the cost record, inexact policy
steps, the MCE dual, measurements and the one wrapper that runs any of them from keywords.

Cost accounting is the same everywhere (:data:`COSTS`, :func:`charge`): ``backups`` counts soft Bellman backups
(:func:`~trirl.tabular.soft.soft_bellman_backup`, one per value-iteration sweep or per
policy-improvement step) and ``solves`` counts linear policy-evaluation solves, both cumulative.
The one occupancy solve per iteration that every method needs (the exact stand-in for sampling
rollouts) is not counted, nor is measurement (the metrics ``dual``, ``reverse_kl``).

What a linear solve costs depends on whether its policy is new: the first solve with a policy
factorises ``I - gamma P_pi`` (an LU, :mod:`trirl.tabular.linsolve`), later ones with the same
policy, either way round (evaluation or occupancy), reuse it for two triangular solves. TRIRL
reports ``factorisations``, cumulative, counting everything its iterations factorise
(occupancies and measurement included): the figure that tracks wall time on large or dense MDPs.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from trirl.errors import InvalidConfigError
from trirl.tabular.driver import Learner, Result, run
from trirl.tabular.mdp import MDP
from trirl.tabular.objectives import check_expert_occupancy, policy_kl, safe_log
from trirl.tabular.soft import soft_bellman_backup, soft_greedy, soft_policy_evaluation

INNER_METHODS = ("value_iteration", "policy_iteration")


class Expert(NamedTuple):
    """The expert's occupancy as every learner reads it: ``rho`` ``[S, A]`` (validated, mass
    ``1 / (1 - gamma)``), ``log_rho`` ``[S, A]`` (:func:`~trirl.tabular.objectives.safe_log`) and
    the normalised ``p = (1 - gamma) rho`` ``[S, A]`` (mass 1) of the discriminators' losses."""

    rho: np.ndarray
    log_rho: np.ndarray
    p: np.ndarray


def expert_record(mdp: MDP, rho_expert) -> Expert:
    """:class:`Expert` of ``rho_expert`` ``[S, A]``.

    Raises:
        InvalidConfigError: as :func:`~trirl.tabular.objectives.check_expert_occupancy`.
    """
    rho = check_expert_occupancy(mdp, rho_expert)
    return Expert(rho, safe_log(rho), (1.0 - mdp.discount) * rho)


# -- the one cost record ------------------------------------------------------------------------

#: the cumulative cost fields of every tabular learner's state and metrics (module doc)
COSTS = ("backups", "solves", "wall_time")


class Work(NamedTuple):
    """The work of one piece of an iteration: soft Bellman ``backups`` and linear ``solves``
    (:class:`PolicySteps`, :class:`~trirl.tabular.soft.SoftSolution` and TRIRL's step carry the
    same two fields)."""

    backups: int = 0
    solves: int = 0

    def plus(self, other) -> Work:
        return Work(self.backups + other.backups, self.solves + other.solves)


def charge(state, work, tick: float) -> dict[str, Any]:
    """The cost fields of ``state`` after ``work`` (anything with ``backups`` and ``solves``)
    begun at ``tick`` (:func:`time.perf_counter`, seconds): keywords for the next state."""
    return {"backups": state.backups + work.backups, "solves": state.solves + work.solves,
            "wall_time": state.wall_time + time.perf_counter() - tick}


def costs(state) -> dict[str, Any]:
    """The cost metrics of a state, :data:`COSTS` (cumulative; ``wall_time`` in seconds)."""
    return {name: getattr(state, name) for name in COSTS}


class PolicySteps(NamedTuple):
    """The result of :func:`soft_policy_steps`: ``log_policy [S, A]``, ``value [S]`` (the last
    backed-up soft value, a warm start for the next call) and the work done."""

    log_policy: np.ndarray
    value: np.ndarray
    backups: int
    solves: int


def soft_policy_steps(mdp: MDP, reward, value, log_policy, steps: int, method: str = "value_iteration") -> PolicySteps:
    """``steps`` warm-started soft policy-improvement steps for ``reward`` instead of a full solve.

    ``"value_iteration"``: ``steps`` soft Bellman backups from ``value``; ``"policy_iteration"``:
    ``steps`` rounds of exact soft evaluation of the current policy (one linear solve) followed by
    one backup (soft-greedy improvement) from ``log_policy``.
    """
    if method == "value_iteration":
        v = np.asarray(value, dtype=float)
        q = None
        for _ in range(steps):
            q, v = soft_bellman_backup(mdp, reward, v)
        if q is None:
            q = np.asarray(reward, dtype=float) + mdp.discount * mdp.expected_next(v)
        v, log_pi = soft_greedy(q)
        return PolicySteps(log_pi, v, steps, 0)
    if method != "policy_iteration":
        raise InvalidConfigError(f"inner_method is {method!r}, expected one of {INNER_METHODS}")
    log_pi = np.asarray(log_policy, dtype=float)
    v = value
    for _ in range(steps):
        evaluated = soft_policy_evaluation(mdp, np.exp(log_pi), reward, log_policy=log_pi)
        q, _ = soft_bellman_backup(mdp, reward, evaluated.v)
        v, log_pi = soft_greedy(q)
    return PolicySteps(log_pi, v, steps, steps)


def mce_dual(mdp: MDP, reward, rho_expert, value) -> float:
    """The MCE-IRL dual ``G_inf(r) = E_mu0[V_r(s0)] - sum rho_E r``, the ``beta -> inf`` limit of
    :func:`trirl.tabular.objectives.dual` (its expert term tends to ``-sum rho_E r``).

    It equals minus the discounted expert log-likelihood ``sum rho_E log pi_r`` (the soft Bellman
    equation telescopes), the objective of ML-IRL and PIRO; ``value`` must be the soft-optimal ``V_r``.
    """
    return float(mdp.initial @ value - np.sum(rho_expert * reward))


def check_iterations(iterations) -> int:
    if not (isinstance(iterations, (int, np.integer)) and iterations >= 0):
        raise InvalidConfigError(f"iterations is {iterations!r}, expected an integer >= 0")
    return int(iterations)


def check_positive(name: str, value, allow_zero: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidConfigError(f"{name} is {value!r}, expected a number") from None
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise InvalidConfigError(f"{name} is {value!r}, expected a finite number {'>=' if allow_zero else '>'} 0")
    return x


def check_inner_method(value: str) -> str:
    """``inner_method`` is one of :data:`INNER_METHODS`."""
    if value not in INNER_METHODS:
        raise InvalidConfigError(f"inner_method is {value!r}, expected one of {INNER_METHODS}")
    return value


def check_steps(name: str, value) -> int:
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise InvalidConfigError(f"{name} is {value!r}, expected an integer >= 1")
    return int(value)


DUAL_RTOL = 1e-11  # rounding allowance of the safeguards' "dual did not increase" test (TRIRL, MCE-IRL)


def namedtuple_learner(name: str, state_type, init, step, metrics, dual_advice: str = "") -> Learner:
    """A :class:`Learner` whose state is a NamedTuple with ``reward`` and ``log_policy`` fields
    (the driver checkpoints the whole state; ``state_type`` documents it)."""
    return Learner(name, init, step, metrics, lambda s: s.reward, lambda s: s.log_policy, dual_advice)


# -- the state and measurements shared by the reward-gradient learners (MCE-IRL, ML-IRL, PIRO) --


class RewardGradientState(NamedTuple):
    """``params`` are the reward parameters ``theta`` (``reward = Phi theta``); ``log_policy`` is
    the current policy (MCE-optimal for ``reward`` only when the inner solve is exact), ``value``
    the soft value the next inner step starts from; ``mu`` and ``change`` are PIRO's proximal
    weight and last reward change (unused elsewhere); ``next_lr`` and ``backtracks`` are
    MCE-IRL's safeguard: the step its next iteration tries first and the halvings so far."""

    iteration: int
    params: np.ndarray
    reward: np.ndarray
    log_policy: np.ndarray
    value: np.ndarray
    backups: int
    solves: int
    wall_time: float
    mu: float = 0.0
    change: float = 0.0
    next_lr: float = 0.0  # 0: not set (the configured lr)
    backtracks: int = 0


def warm(value, log_policy):
    """A :class:`~trirl.tabular.soft.SoftSolution` that only carries a warm start."""
    from trirl.tabular.soft import SoftSolution

    return SoftSolution(None, value, log_policy, None, 0, 0.0, 0, 0)


def measure(mdp: MDP, reward, log_policy, rho_expert, log_rho_expert, solver: str = "auto", value=None) -> dict[str, float]:
    """``reverse_kl`` of the policy's occupancy and the MCE ``dual`` of the reward (measurement only).

    ``value`` may pass the soft-optimal ``V_r`` when the caller has it; otherwise one warm-started
    exact solve provides it (not counted as the algorithm's work).
    """
    from trirl.tabular.objectives import reverse_kl_from_logs
    from trirl.tabular.occupancies import log_occupancy
    from trirl.tabular.soft import solve

    if value is None:
        value = solve(mdp, reward, method=solver, warm_start=warm(np.zeros(mdp.n_states), log_policy)).v
    return {
        "reverse_kl": reverse_kl_from_logs(log_occupancy(mdp, log_policy), log_rho_expert),
        "dual": mce_dual(mdp, reward, rho_expert, value),
    }


def metrics_row(mdp: MDP, expert: Expert, state, solver: str = "auto", value=None, **extra) -> dict[str, Any]:
    """The metrics of a state with ``iteration``, ``reward`` and ``log_policy`` fields and the
    cost record: ``iteration, policy_kl`` (0, the step's own is added by :func:`step_row`),
    ``extra``, :data:`COSTS` and :func:`measure`'s ``reverse_kl, dual``."""
    return {"iteration": state.iteration, "policy_kl": 0.0, **extra, **costs(state),
            **measure(mdp, state.reward, state.log_policy, expert.rho, expert.log_rho, solver, value)}


def step_row(mdp: MDP, metrics: Callable[[Any], dict], state, new_state, **extra) -> dict[str, Any]:
    """``metrics(new_state)`` with the step's ``policy_kl`` (new policy against ``state``'s,
    :func:`~trirl.tabular.objectives.policy_kl`) and ``extra``."""
    return {**metrics(new_state), **extra, "policy_kl": policy_kl(mdp, new_state.log_policy, state.log_policy)}


# -- the one wrapper: run an algorithm from keywords ---------------------------------------------

#: the keywords that go to :func:`trirl.tabular.driver.run`, not to the algorithm's config
RUN_OPTIONS = {"run_dir": None, "progress": False, "print_every": 0, "callback": None, "until": None, "observe": None}


def configured(config_type: type, config, overrides: dict[str, Any], name: str):
    """``config`` as given, or ``config_type(**overrides)``; an unknown keyword is named.

    Raises:
        InvalidConfigError: for both a ``config`` and field keywords, or a keyword that is neither
            a field of ``config_type`` nor a run option.
    """
    fields = [f.name for f in dataclasses.fields(config_type)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise InvalidConfigError(f"{name}() got {', '.join(map(repr, unknown))}, expected fields of "
                                 f"{config_type.__name__} ({', '.join(fields)}) or run options ({', '.join(RUN_OPTIONS)})")
    if config is None:
        return config_type(**overrides)
    if overrides:
        raise InvalidConfigError(f"{name}() got config= and {', '.join(sorted(overrides))}; expected one or the other")
    if not isinstance(config, config_type):
        raise InvalidConfigError(f"{name}(config=...) is a {type(config).__name__}, expected a {config_type.__name__}")
    return config


def runner(make: Callable[..., Learner], config_type: type, name: str, doc: str) -> Callable[..., Result]:
    """The function that runs ``make``'s learner: ``name(mdp, rho_expert, iterations=100, *,
    config=None, **fields, features=None, **run_options) -> Result``.

    The config is ``config`` or ``config_type(**fields)`` (its defaults are the function's,
    stated once in the dataclass); ``features`` go to ``make`` where it takes them; the run options
    (:data:`RUN_OPTIONS`) go to :func:`trirl.tabular.driver.run`. ``iterations`` is an integer
    ``>= 0`` (:class:`~trirl.errors.InvalidConfigError` otherwise, as for a bad field).
    """
    takes_features = "features" in inspect.signature(make).parameters

    def run_algorithm(mdp: MDP, rho_expert, iterations: int = 100, *, config=None, features=None, **keywords) -> Result:
        options = {key: keywords.pop(key) for key in RUN_OPTIONS if key in keywords}
        iterations = check_iterations(iterations)
        config = configured(config_type, config, keywords, name)
        if features is not None and not takes_features:
            raise InvalidConfigError(f"{name}() got features, expected none: its reward is not linear in features")
        learner = make(mdp, rho_expert, config, **({"features": features} if takes_features else {}))
        return run(learner, iterations, **options)

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("mdp", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=MDP),
        inspect.Parameter("rho_expert", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("iterations", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=100, annotation=int),
        *(inspect.Parameter(f.name, keyword, default=f.default, annotation=f.type) for f in dataclasses.fields(config_type)),
        inspect.Parameter("config", keyword, default=None, annotation=f"{config_type.__name__} | None"),
        *([inspect.Parameter("features", keyword, default=None)] if takes_features else []),
        *(inspect.Parameter(key, keyword, default=default) for key, default in RUN_OPTIONS.items()),
    ]
    run_algorithm.__signature__ = inspect.Signature(parameters, return_annotation=Result)
    run_algorithm.__name__ = run_algorithm.__qualname__ = name
    run_algorithm.__module__ = make.__module__
    run_algorithm.__doc__ = doc
    return run_algorithm
