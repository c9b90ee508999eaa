"""What every violation measure shares: the float64 unit, the scale a value error is relative
to, and the current MCE pair of an IRL case with its Eq. 2 target."""

from __future__ import annotations

import numpy as np

from trirl import core
from trirl.tabular import objectives as obj
from trirl.tabular import occupancies as occ
from trirl.tabular import soft
from trirl.verify import strategies as vs

EPS = float(np.finfo(float).eps)


def scale(*values) -> float:
    """``max(1, ||v||_inf)`` over the arrays ``values``: what a value error is measured against."""
    return max(1.0, *(float(np.max(np.abs(v))) for v in values))


def current_pair(case: vs.IRLCase):
    """The current MCE pair of ``case``: ``(solution, log_ratio, r_tilde)``, where ``solution`` is the
    soft-optimal solve of ``r^(i)`` (``v`` ``[S]``, ``log_policy`` ``[S, A]``), ``log_ratio`` ``[S, A]`` is
    ``log(rho_E / rho_pi^(i))`` and ``r_tilde = U_eps r^(i)`` ``[S, A]`` the Eq. 2 target."""
    mdp = case.mdp
    old = soft.solve(mdp, case.reward)
    ratio = obj.log_ratio(obj.safe_log(case.rho_expert), occ.log_occupancy(mdp, old.log_policy))
    r_tilde = core.function_space_update(case.reward, ratio, case.eps, case.beta)
    return old, ratio, r_tilde
