"""The policy system ``(I - gamma P_pi) x = b`` and its transpose, factorised once per policy.

Soft policy evaluation solves ``(I - gamma P_pi) V = r_pi`` and the exact occupancy solves
``(I - gamma P_pi^T) d = mu0`` (DESIGN.md): the same matrix, transposed. One LU factorisation
serves both, and every later solve with the same policy costs two triangular solves. The
factorisation is chosen by the problem:

- **dense LU** (LAPACK ``getrf``/``getrs`` through :func:`scipy.linalg.lu_factor` and
  :func:`~scipy.linalg.lu_solve` with ``trans=1`` for the transpose) when ``P`` is stored dense
  (:mod:`trirl.tabular.mdp`), or when the sparse LU of the policy matrix fills in: a random or
  Garnet MDP, even with one to four successors per pair, has no structure that SuperLU can keep
  sparse (its factors hold 20-80 % of ``S^2`` entries) and the dense LU is then 1-4x faster;
- **sparse LU** (SuperLU, :func:`scipy.sparse.linalg.splu`, ``trans="T"`` for the transpose)
  when its factors keep below ``FILL_FRACTION`` of ``S^2`` entries: grid worlds (2-6 % at
  400-4,096 states, where SuperLU is 10-170x faster than a dense LU) and Gymnasium tables.

The fill of a soft policy's matrix does not depend on the policy (every action has positive
probability, so ``P_pi`` has the pattern of ``P`` summed over actions): the first sparse
factorisation of an MDP decides for all later ones. Problems above ``DENSE_SOLVE_MAX_STATES``
states always use SuperLU (a dense LU would need ``8 S^2`` bytes).

The MDP keeps its last factorisation (``MDP.factorisations`` counts them): a solve with the same
policy array reuses it, so TRIRL's value of the corrected reward, the occupancy of the new policy
and the first policy evaluation of the next iteration share one factorisation. The reuse is a
memo of a pure function (the same matrix is factorised the same way), so results do not depend
on the order of calls.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from trirl.tabular.mdp import MDP

FILL_FRACTION = 0.15  # grids fill 2-6 % of S^2, random sparse MDPs 20-80 % (measured, module doc)
DENSE_SOLVE_MAX_STATES = 4096  # a dense LU of S x S floats: 128 MiB at 4,096 states


class PolicySystem:
    """``I - gamma P_pi`` factorised for one policy ``[S, A]``; :meth:`solve` for ``x`` or its transpose."""

    def __init__(self, mdp: MDP, policy: np.ndarray, solver: str):
        self.policy = policy
        self.solver = solver
        n = mdp.n_states
        if solver == "dense":
            matrix = mdp.dense_policy_transitions(policy)
            matrix *= -mdp.discount
            matrix[np.diag_indices(n)] += 1.0
            self._lu = la.lu_factor(matrix, overwrite_a=True, check_finite=False)
            self.fill = 1.0
        else:
            matrix = (sp.identity(n, format="csc") - mdp.discount * mdp.policy_transitions(policy)).tocsc()
            self._lu = spla.splu(matrix)
            self.fill = (self._lu.L.nnz + self._lu.U.nnz) / float(n * n)

    def solve(self, rhs: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``x`` with ``(I - gamma P_pi) x = rhs``, or ``(I - gamma P_pi)^T x = rhs`` when ``transpose``."""
        rhs = np.asarray(rhs, dtype=float)
        if self.solver == "dense":
            return la.lu_solve(self._lu, rhs, trans=1 if transpose else 0, check_finite=False)
        return self._lu.solve(rhs, trans="T" if transpose else "N")


def linear_solver(mdp: MDP) -> str | None:
    """``"dense"`` or ``"sparse"``: the factorisation ``mdp`` uses (``None`` until its first sparse LU decides)."""
    if mdp._linear_solver is None:
        if mdp.representation == "dense":
            mdp._linear_solver = "dense"
        elif mdp.n_states > DENSE_SOLVE_MAX_STATES:
            mdp._linear_solver = "sparse"
    return mdp._linear_solver


def policy_system(mdp: MDP, policy) -> PolicySystem:
    """The factorised ``I - gamma P_pi`` of ``policy``, reused when the MDP's last one has the same policy."""
    pi = np.asarray(policy, dtype=float)
    cached = mdp._policy_system
    if cached is not None and cached.policy.shape == pi.shape and np.array_equal(cached.policy, pi):
        return cached
    solver = linear_solver(mdp)
    system = PolicySystem(mdp, pi.copy(), solver or "sparse")
    if solver is None:
        mdp._linear_solver = "dense" if system.fill >= FILL_FRACTION else "sparse"
    mdp._policy_system = system
    mdp.factorisations += 1
    return system


def solve_policy_system(mdp: MDP, policy, rhs, transpose: bool = False) -> np.ndarray:
    """``(I - gamma P_pi) x = rhs`` (``transpose=False``: policy evaluation) or
    ``(I - gamma P_pi^T) x = rhs`` (``transpose=True``: the occupancy's flow equations)."""
    return policy_system(mdp, policy).solve(rhs, transpose)
