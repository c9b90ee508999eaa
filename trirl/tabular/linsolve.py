"""The policy system ``(I - gamma P_pi) x = b`` and its transpose, factorised once per policy.

Soft policy evaluation solves ``(I - gamma P_pi) V = r_pi`` and the exact occupancy solves
``(I - gamma P_pi^T) d = mu0`` (:mod:`trirl.tabular.occupancies`): the same matrix, transposed. One LU factorisation
serves both, and every later solve with the same policy costs two triangular solves. The
factorisation is chosen by the problem:

- **dense LU** (LAPACK ``getrf``/``getrs`` through :func:`scipy.linalg.lu_factor` and
  :func:`~scipy.linalg.lu_solve` with ``trans=1`` for the transpose) when ``P`` is stored dense
  (:mod:`trirl.tabular.mdp`), or when the sparse LU of the policy matrix fills in: a random or
  Garnet MDP, even with one to four successors per pair, has no structure that SuperLU can keep
  sparse (its factors hold a large share of ``S^2`` entries) and the dense LU is then faster;
- **sparse LU** (SuperLU, :func:`scipy.sparse.linalg.splu`, ``trans="T"`` for the transpose)
  when its factors keep below ``FILL_FRACTION`` of ``S^2`` entries: grid worlds and Gymnasium
  tables (the fills and timings behind the threshold: ``book/results/tabular-engine.md``).

Dense problems of at least ``ITERATIVE_MIN_STATES`` states first try an iterative solve that
needs no factorisation: Richardson iteration preconditioned by the rank-one ``M = I - gamma 1 w^T``
(``w`` uniform; ``M^-1 y = y + gamma / (1 - gamma) mean(y)`` by Sherman-Morrison), which removes
the slow direction of the constant vector, so the error shrinks by ``gamma |lambda_2(P_pi)|`` per
step. A dense random MDP mixes fast (small ``|lambda_2|``), so a few products with ``P_pi`` reach
a residual at the rounding floor, for less than the LU costs. The iteration stops when ``||b - A x||_inf <= 4 eps (||b|| + 2 ||x||)``; when the
residual shrinks by less than half per step (a slowly mixing MDP) it gives up, the system is
factorised, and the MDP uses the LU from then on. Either way the answer is exact to rounding.

The fill of a soft policy's matrix does not depend on the policy (every action has positive
probability, so ``P_pi`` has the pattern of ``P`` summed over actions): the first sparse
factorisation of an MDP decides for all later ones. Problems above ``DENSE_SOLVE_MAX_STATES``
states always use SuperLU (a dense LU would need ``8 S^2`` bytes).

The MDP keeps its last policy system (``MDP.factorisations`` counts the LU factorisations): a
solve with the same policy array reuses it, so TRIRL's value of the corrected reward, the occupancy of the new policy
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

FILL_FRACTION = 0.15  # between the fills of grids and of random sparse MDPs (book/results/tabular-engine.md)
DENSE_SOLVE_MAX_STATES = 4096  # a dense LU of S x S floats: 128 MiB at 4,096 states
ITERATIVE_MIN_STATES = 256  # below, an LU costs no more than the ~10 products of the iteration
ITERATIVE_MAX_STEPS = 60  # 2 S^2 flops each: at 1,024 states still below a (2/3) S^3 LU


class PolicySystem:
    """``I - gamma P_pi`` for one policy ``[S, A]``, factorised or solved iteratively (module doc);
    :meth:`solve` for ``x`` or its transpose."""

    def __init__(self, mdp: MDP, policy: np.ndarray, solver: str):
        self.policy = policy
        self.solver = solver
        self._mdp = mdp
        self._lu = None
        n = mdp.n_states
        if solver == "dense":
            self._p_pi = mdp.dense_policy_transitions(policy)
            self.fill = 1.0
            if not (mdp._iterative_solves and n >= ITERATIVE_MIN_STATES):
                self._factorise()
        else:
            matrix = (sp.identity(n, format="csc") - mdp.discount * mdp.policy_transitions(policy)).tocsc()
            self._lu = spla.splu(matrix)
            self.fill = (self._lu.L.nnz + self._lu.U.nnz) / float(n * n)

    def _factorise(self) -> None:
        matrix, self._p_pi = self._p_pi, None
        matrix *= -self._mdp.discount
        matrix[np.diag_indices(self._mdp.n_states)] += 1.0
        self._lu = la.lu_factor(matrix, overwrite_a=True, check_finite=False)
        self._mdp.factorisations += 1

    def _iterate(self, b: np.ndarray, transpose: bool) -> np.ndarray | None:
        """Preconditioned Richardson iteration (module doc); ``None`` when it converges too slowly."""
        gamma = self._mdp.discount
        c = gamma / (1.0 - gamma)
        p_pi = self._p_pi.T if transpose else self._p_pi
        # M^-1 y = y + c 1 mean(y), and M^-T y = y + c w sum(y) is the same for a uniform w
        x = b + c * b.mean()
        scale_b = float(np.max(np.abs(b)))
        previous = np.inf
        for step in range(ITERATIVE_MAX_STEPS):
            r = b - x + gamma * (p_pi @ x)
            norm = float(np.max(np.abs(r)))
            floor = np.finfo(float).eps * (scale_b + 2.0 * float(np.max(np.abs(x))))
            if norm <= 4.0 * floor:
                return x
            if step >= 3 and norm > 0.5 * previous:
                # stalled: at the rounding floor it is done, above it the MDP mixes too slowly
                return x if norm <= 256.0 * floor else None
            previous = norm
            x += r + c * r.mean()
        return None

    def solve(self, rhs: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``x`` with ``(I - gamma P_pi) x = rhs``, or ``(I - gamma P_pi)^T x = rhs`` when ``transpose``."""
        rhs = np.asarray(rhs, dtype=float)
        if self.solver == "dense":
            if self._lu is None:
                x = self._iterate(rhs, transpose)
                if x is not None and np.all(np.isfinite(x)):
                    return x
                self._mdp._iterative_solves = False  # this MDP mixes slowly: LU from now on
                self._factorise()
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
    if system.solver == "sparse":
        mdp.factorisations += 1
    mdp._policy_system = system
    return system


def solve_policy_system(mdp: MDP, policy, rhs, transpose: bool = False) -> np.ndarray:
    """``(I - gamma P_pi) x = rhs`` (``transpose=False``: policy evaluation) or
    ``(I - gamma P_pi^T) x = rhs`` (``transpose=True``: the occupancy's flow equations)."""
    return policy_system(mdp, policy).solve(rhs, transpose)
