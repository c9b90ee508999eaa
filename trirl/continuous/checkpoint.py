"""Checkpoints of continuous learner states: :func:`trirl.rundir.flatten` and
:func:`~trirl.rundir.unflatten` (one generic copy for both halves) with the continuous half's one
tolerance: per-step environment diagnostics (``env_state.metrics``) added since a checkpoint was
written start at zero, so the committed experts keep loading; so does the discriminator buffer's
logit cache (``buffer.fixed_logits``, ``fixed_ready`` false), which the learner's ``restore`` refills.

:class:`BestEvaluation` keeps a run's best-evaluated state beside its newest checkpoints
(``checkpoints/best_step_XXXXXXXX.npz``), so that a run that peaks and then degrades keeps its
best policy (``trirl expert evaluate|collect --checkpoint RUN --best``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from trirl import rundir
from trirl.errors import UnreadableFileError
from trirl.rundir import (STATE_PREFIX, RunDir, best_checkpoint_file, checkpoint_file, checkpoint_files, checkpoint_step,
                          flatten, read_checkpoint)

#: leaves that may be missing from an older checkpoint: recomputed by the next step
OPTIONAL = (".env_state.metrics[", ".buffer.fixed_logits", ".buffer.fixed_ready")


def unflatten(template, arrays: Mapping[str, np.ndarray], prefix: str = ""):
    """:func:`trirl.rundir.unflatten` with :data:`OPTIONAL`."""
    return rundir.unflatten(template, arrays, prefix, optional=OPTIONAL)


class BestEvaluation:
    """The run's best-evaluated state, kept as ``checkpoints/best_step_XXXXXXXX.npz`` (one file).

    ``metric`` is a row's evaluation (``eval_return``, higher is better). :meth:`row` adds
    ``best_iteration`` and ``best_<metric>`` to every evaluated row (the best so far, this row
    included); :meth:`save` writes the state of a row that set a new best (a driver callback).

    A resumed run starts from what it holds: its best file when that file's iteration is among the
    rows kept (one written after the checkpoint resumed from is deleted: its row is gone, and the
    resumed run evaluates that iteration again); otherwise (a run from before best checkpoints were
    kept) the best evaluated of its kept ``step_*`` checkpoints that can be read, copied. Evaluations whose
    checkpoint was pruned before then cannot be restored, so they do not count.
    """

    def __init__(self, run: RunDir, metric: str = "eval_return", meta: Callable[[int], Mapping[str, Any]] | None = None):
        self.run, self.metric, self.meta = run, metric, meta or (lambda iteration: {})
        self.iteration: int | None = None
        self.value = -math.inf
        self._new = False
        evals = {row["iteration"]: row[metric] for row in run.metrics() if metric in row and "iteration" in row}
        held = best_checkpoint_file(run.path)
        if held is not None:
            step = checkpoint_step(held)
            if step in evals:
                self.iteration, self.value = step, evals[step]
                return
            held.unlink()  # beyond the checkpoint resumed from
        kept = [(evals[step], step) for step in map(checkpoint_step, checkpoint_files(run.path)) if step in evals]
        for value, step in sorted(kept, reverse=True):
            try:
                checkpoint = read_checkpoint(checkpoint_file(run.path, step))
            except UnreadableFileError:  # a damaged file (resuming falls back past it too): the next best
                continue
            run.save_best(step, checkpoint.arrays, {**checkpoint.meta, self.metric: value})
            self.iteration, self.value = step, value
            return

    def row(self, iteration: int, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with ``best_iteration`` and ``best_<metric>`` when it holds an evaluation."""
        self._new = False
        if self.metric not in row:
            return row
        if row[self.metric] > self.value:  # a NaN never is
            self.iteration, self.value, self._new = iteration, row[self.metric], True
        if self.iteration is None:
            return row
        return {**row, "best_iteration": self.iteration, f"best_{self.metric}": self.value}

    def save(self, state, row: Mapping[str, Any]) -> None:
        """Write ``state`` as the best checkpoint if ``row`` (its :meth:`row`) set a new best."""
        if self._new and row.get("best_iteration") == row.get("iteration"):
            from trirl.devices import to_host

            self.run.save_best(self.iteration, flatten(to_host(state), STATE_PREFIX),
                               {"iteration": self.iteration, **self.meta(self.iteration), self.metric: self.value})
            self._new = False


__all__ = ["OPTIONAL", "BestEvaluation", "flatten", "unflatten"]
