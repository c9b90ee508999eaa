"""The tabular half's learners and its use of the one driver (:mod:`trirl.driver`).

An algorithm is a :class:`Learner`, a named bundle of pure functions (``init`` +
``step``, the protocol of :class:`trirl.driver.Learner`; the key is ignored); :func:`run` hands it
to :func:`trirl.driver.run`, which owns everything with side effects (the progress bar, the run
directory, checkpoints of the whole state, resumption), and adds the tabular hooks: the row of
iteration 0, measurements of the reward (``observe``), the
:class:`~trirl.errors.DualIncreaseWarning` and one BLAS thread for small problems.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from trirl import driver
from trirl.errors import DualIncreaseWarning, NonFiniteError
from trirl.rundir import RunDir
from trirl.tabular.threads import blas_threads

SHARED_METRICS = ("iteration", "eta", "eps_tr", "reverse_kl", "policy_kl", "dual")
PROGRESS_METRICS = ("reverse_kl", "dual", "eta", "eps_tr")
# an increase of the dual beyond this share of |dual| is reported (rounding stays far below it)
DUAL_RTOL = 1e-9


class Learner(NamedTuple):
    """A tabular algorithm as pure functions over an immutable state (a NamedTuple of numpy
    arrays and scalars, checkpointed whole by the driver).

    ``init(key=None) -> state`` (iteration 0), ``step(state, key=None) -> (state, metrics)``
    (:class:`trirl.driver.Learner`; exact algorithms need no key), ``metrics(state) -> dict``
    (the row logged for iteration 0), ``reward(state)`` ``[S, A]``, ``log_policy(state)`` ``[S, A]``.
    ``dual_advice``: for learners that report a ``dual``, why it can get worse and what to do
    about it; :func:`run` puts it in the :class:`~trirl.errors.DualIncreaseWarning` it raises.
    """

    name: str
    init: Callable[..., Any]
    step: Callable[..., tuple[Any, dict]]
    metrics: Callable[[Any], dict]
    reward: Callable[[Any], np.ndarray]
    log_policy: Callable[[Any], np.ndarray]
    dual_advice: str = ""


def dual_increased(previous: float, current: float) -> bool:
    """Did the dual get worse (beyond :data:`DUAL_RTOL` of its size)?"""
    return current - previous > DUAL_RTOL * max(abs(previous), abs(current))


def warn_dual_increase(learner: Learner, iteration: int, previous: float, current: float) -> None:
    """The :class:`~trirl.errors.DualIncreaseWarning` for the first iteration whose dual got worse."""
    advice = learner.dual_advice or "Cause unknown for this learner; lower its step size."
    warnings.warn(
        f"{learner.name}: the dual G(r) got worse at iteration {iteration}, from {previous:.10g} to {current:.10g} "
        f"(later increases in this run are not reported again; count them with np.diff(result.metric('dual')) > 0). "
        f"{advice}",
        DualIncreaseWarning, stacklevel=6,
    )


@dataclass
class Result:
    """What a run returns: the final reward and policy and the per-iteration history."""

    algorithm: str
    reward: np.ndarray
    log_policy: np.ndarray
    history: list[dict[str, Any]]
    state: Any = field(repr=False, default=None)

    @property
    def policy(self) -> np.ndarray:
        return np.exp(self.log_policy)

    def metric(self, name: str) -> np.ndarray:
        """One metric over iterations, ``nan`` where an iteration did not report it."""
        return np.array([row.get(name, np.nan) for row in self.history], dtype=float)


def format_metrics(metrics: Mapping[str, Any], keys=PROGRESS_METRICS) -> str:
    parts = []
    for key in keys:
        if key in metrics:
            value = metrics[key]
            digits = 8 if key == "dual" else 4  # the dual moves in late digits once converged
            parts.append(f"{key}={value:.{digits}g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


def run(
    learner: Learner,
    iterations: int,
    run_dir: RunDir | None = None,
    progress: bool = False,
    print_every: int = 0,
    checkpoint_every: int = 10,
    callback: Callable[[Any, dict], None] | None = None,
    until: Callable[[dict], bool] | None = None,
    observe: Callable[[np.ndarray], dict] | None = None,
) -> Result:
    """Run ``learner`` until iteration ``iterations``, resuming from ``run_dir``'s newest checkpoint.

    Every iteration's metrics go to ``run_dir`` (if any) and ``callback(state, metrics)``; a
    non-finite metric or state array stops the run with a checkpoint of the last good state and
    a :class:`~trirl.errors.NonFiniteError` naming it (:func:`trirl.driver.run`). ``until(metrics)``
    returning true stops the run early.
    ``observe(reward)`` adds metrics of the current reward ``[S, A]`` to every row (iteration 0
    included), e.g. :meth:`trirl.tabular.shaping.ShapingProjector.metrics` against a known true
    reward.
    The first iteration whose ``dual`` got worse raises a :class:`~trirl.errors.DualIncreaseWarning`
    with the learner's ``dual_advice`` (cause and remedy).
    """
    warned = False

    def first_row(state) -> dict[str, Any]:
        row = learner.metrics(state)
        return {**row, **observe(learner.reward(state))} if observe is not None else row

    def row(iteration: int, state, metrics: Mapping[str, Any], seconds: float, previous) -> dict[str, Any]:
        nonlocal warned
        row = {"iteration": iteration, **metrics}
        row.setdefault("step_time", seconds)
        if observe is not None:
            row.update(observe(learner.reward(state)))
        if not warned and previous is not None and "dual" in row and "dual" in previous:
            if dual_increased(previous["dual"], row["dual"]):
                warn_dual_increase(learner, iteration, previous["dual"], row["dual"])
                warned = True
        return row

    hooks = driver.Hooks(
        first_row=first_row, row=row, callback=callback, until=until,
        # small problems run with one BLAS thread (trirl.tabular.threads; TRIRL_BLAS_THREADS=off leaves it)
        context=lambda state: blas_threads(np.shape(learner.reward(state))[0]),
    )
    shown = driver.Progress(None if progress else False, postfix=format_metrics, print_every=print_every)
    outcome = driver.run(learner, iterations, run_dir=run_dir, checkpoint_every=checkpoint_every, hooks=hooks,
                         progress=shown)
    state = outcome.state
    return Result(learner.name, learner.reward(state), learner.log_policy(state), outcome.history, state)


__all__ = ["DUAL_RTOL", "Learner", "NonFiniteError", "Result", "dual_increased", "format_metrics", "run"]
