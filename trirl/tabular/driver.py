"""The thin driver shared by every tabular algorithm: loop, log, checkpoint, stop on NaN.

An algorithm is a :class:`Learner`, a named bundle of pure functions (STYLE.md: ``init`` +
``step``); the driver owns everything with side effects: the progress bar, the run directory
(``trirl.rundir``), checkpoints and resumption.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from trirl.errors import DualIncreaseWarning, TrirlError
from trirl.rundir import RunDir
from trirl.tabular.threads import blas_threads

SHARED_METRICS = ("iteration", "eta", "eps_tr", "reverse_kl", "policy_kl", "dual")
PROGRESS_METRICS = ("reverse_kl", "dual", "eta", "eps_tr")
# an increase of the dual beyond this share of |dual| is reported (rounding stays far below it)
DUAL_RTOL = 1e-9


class NonFiniteError(TrirlError, FloatingPointError):
    """A metric or state array became NaN or infinite; the message says which and where."""


class Learner(NamedTuple):
    """A tabular algorithm as pure functions over an immutable state.

    ``init() -> state`` (iteration 0), ``step(state) -> (state, metrics)``,
    ``metrics(state) -> dict`` (the row logged for iteration 0), ``arrays(state) -> dict`` and
    ``meta(state) -> dict`` (JSON scalars, ``iteration`` included) and
    ``restore(arrays, meta) -> state`` for checkpoints; ``reward(state)``, ``log_policy(state)``.
    ``dual_advice``: for learners that report a ``dual``, why it can get worse and what to do
    about it; :func:`run` puts it in the :class:`~trirl.errors.DualIncreaseWarning` it raises.
    """

    name: str
    init: Callable[[], Any]
    step: Callable[[Any], tuple[Any, dict]]
    metrics: Callable[[Any], dict]
    arrays: Callable[[Any], dict[str, np.ndarray]]
    meta: Callable[[Any], dict[str, Any]]
    restore: Callable[[Mapping[str, np.ndarray], Mapping[str, Any]], Any]
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
        DualIncreaseWarning, stacklevel=4,
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


def _check_finite(metrics: Mapping[str, Any], arrays: Mapping[str, np.ndarray], iteration: int, name: str):
    for key, value in metrics.items():
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            raise NonFiniteError(f"{name}: metric '{key}' is {value} at iteration {iteration}")
    for key, value in arrays.items():
        value = np.asarray(value)
        if value.dtype.kind == "f":
            # log-policies may hold -inf only where a probability is exactly zero; rewards never
            bad = np.isnan(value) if key.startswith("log_") else ~np.isfinite(value)
            if bad.any():
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                raise NonFiniteError(f"{name}: state array '{key}' is {value[index]} at index {index}, iteration {iteration}")


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
    a :class:`NonFiniteError` naming it. ``until(metrics)`` returning true stops the run early.
    ``observe(reward)`` adds metrics of the current reward ``[S, A]`` to every row (iteration 0
    included), e.g. :meth:`trirl.tabular.shaping.ShapingProjector.metrics` against a known true
    reward.
    The first iteration whose ``dual`` got worse raises a :class:`~trirl.errors.DualIncreaseWarning`
    with the learner's ``dual_advice`` (cause and remedy).
    """
    history: list[dict[str, Any]] = []
    checkpoint = run_dir.latest_checkpoint() if run_dir is not None else None
    if checkpoint is not None:
        state = learner.restore(checkpoint.arrays, checkpoint.meta)
        history = run_dir.metrics()
        start = checkpoint.step
    else:
        state = learner.init()
        row = learner.metrics(state)
        if observe is not None:
            row = {**row, **observe(learner.reward(state))}
        history.append(row)
        if run_dir is not None:
            run_dir.log(row)
            run_dir.save_checkpoint(0, learner.arrays(state), learner.meta(state))
        start = 0
    # small problems run with one BLAS thread (trirl.tabular.threads; TRIRL_BLAS_THREADS=off leaves it)
    with blas_threads(np.shape(learner.reward(state))[0]):
        # disable=None: a bar on terminals only; logs and pipes get the per-iteration lines instead
        bar = tqdm(total=iterations, initial=start, desc=learner.name, disable=None if progress else True, dynamic_ncols=True)
        # ``state`` is always the state whose metrics row was logged last (iteration ``logged``), so
        # whatever stops the loop (Ctrl-C, an error, a NaN), its checkpoint matches metrics.jsonl
        logged, saved = start, start
        warned = False
        try:
            for iteration in range(start + 1, iterations + 1):
                tick = time.perf_counter()
                new_state, metrics = learner.step(state)
                metrics = {"iteration": iteration, **metrics}
                metrics.setdefault("step_time", time.perf_counter() - tick)
                if observe is not None:
                    metrics.update(observe(learner.reward(new_state)))
                _check_finite(metrics, learner.arrays(new_state), iteration, learner.name)
                if not warned and "dual" in metrics and "dual" in history[-1]:
                    if dual_increased(history[-1]["dual"], metrics["dual"]):
                        warn_dual_increase(learner, iteration, history[-1]["dual"], metrics["dual"])
                        warned = True
                history.append(metrics)
                if run_dir is not None:
                    run_dir.log(metrics)
                state, logged = new_state, iteration
                if run_dir is not None and (iteration % checkpoint_every == 0 or iteration == iterations):
                    run_dir.save_checkpoint(iteration, learner.arrays(state), learner.meta(state))
                    saved = iteration
                if callback is not None:
                    callback(state, metrics)
                bar.update(1)
                bar.set_postfix_str(format_metrics(metrics), refresh=False)
                done = until is not None and until(metrics)
                if print_every and (iteration % print_every == 0 or iteration == iterations or done):
                    bar.write(f"iter {iteration:4d}  {format_metrics(metrics)}")
                if done:
                    if run_dir is not None and saved != iteration:
                        run_dir.save_checkpoint(iteration, learner.arrays(state), learner.meta(state))
                    break
        except BaseException:
            # never lose work: keep the last logged state, whatever stopped the run, and drop a row
            # written after it (an interrupt between the write and the bookkeeping)
            if run_dir is not None:
                if saved != logged:
                    run_dir.save_checkpoint(logged, learner.arrays(state), learner.meta(state))
                run_dir.truncate_metrics(logged)
            raise
        finally:
            bar.close()
    return Result(learner.name, learner.reward(state), learner.log_policy(state), history, state)
