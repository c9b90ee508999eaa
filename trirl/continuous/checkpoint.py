"""Checkpoints of continuous learner states: :func:`trirl.rundir.flatten` and
:func:`~trirl.rundir.unflatten` (one generic copy for both halves) with the continuous half's one
tolerance: per-step environment diagnostics (``env_state.metrics``) added since a checkpoint was
written start at zero, so the committed experts keep loading; so does the discriminator buffer's
logit cache (``buffer.fixed_logits``, ``fixed_ready`` false), which the learner's ``restore`` refills.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trirl import rundir
from trirl.rundir import flatten

#: leaves that may be missing from an older checkpoint: recomputed by the next step
OPTIONAL = (".env_state.metrics[", ".buffer.fixed_logits", ".buffer.fixed_ready")


def unflatten(template, arrays: Mapping[str, np.ndarray], prefix: str = ""):
    """:func:`trirl.rundir.unflatten` with :data:`OPTIONAL`."""
    return rundir.unflatten(template, arrays, prefix, optional=OPTIONAL)


__all__ = ["OPTIONAL", "flatten", "unflatten"]
