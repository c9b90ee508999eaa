"""The finite MDP: transitions ``P[s, a, s']``, initial distribution ``mu0[s]``, discount ``gamma``.

Transitions are stored once as a ``[S * A, S]`` matrix (row ``s * A + a``), dense or sparse by the
problem (the rule; the timings behind its thresholds are in ``book/results/tabular-engine.md``):

- **dense** (a numpy array) when ``S * A * S <= DENSE_MAX_ENTRIES`` (tiny worlds), or when at least
  ``DENSE_MIN_DENSITY`` of the entries are non-zero and the array fits in ``DENSE_LIMIT_ENTRIES``
  (random MDPs, Garnets with many successors): above that density a dense product ``P V`` plus
  the policy matrix ``P_pi`` cost less than their sparse forms;
- **sparse** (scipy CSR) otherwise: grid worlds, Gymnasium tables, 16k-state grids.

``MDP(..., representation="dense" | "sparse")`` overrides the rule. The linear solves with
``I - gamma P_pi`` pick their own factorisation (:mod:`trirl.tabular.linsolve`). Absorbing states (paper Appendix C.4) are explicit:
every action loops back with probability one, the reward there is learnt like any other, and
the occupancy keeps accumulating discounted mass in them, so an episode that ends early is not
rewarded or punished by a hidden termination bias.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from trirl.errors import InvalidMDPError, describe_sum

PROBABILITY_ATOL = 1e-8
DENSE_MAX_ENTRIES = 250_000  # at most this many entries S * A * S: dense whatever the density
DENSE_MIN_DENSITY = 0.2  # measured crossover of P V plus P_pi between CSR and a dense array
DENSE_LIMIT_ENTRIES = 1 << 24  # 128 MiB: larger problems stay sparse whatever their density
REPRESENTATIONS = ("auto", "dense", "sparse")


def _fmt_index(index) -> str:
    return ", ".join(str(int(i)) for i in np.atleast_1d(index))


class MDP:
    """A validated finite MDP.

    Args:
        transitions: ``[S, A, S']`` array of probabilities, or a scipy sparse ``[S * A, S']``
            matrix whose row ``s * A + a`` is ``P[s, a, :]`` (then ``n_actions`` is required).
        initial: ``[S]`` initial state distribution ``mu0``.
        discount: ``gamma`` in ``[0, 1)``.
        absorbing: optional boolean mask ``[S]`` or sequence of state indices; each must loop
            to itself with probability one under every action.
        n_actions: number of actions when ``transitions`` is given as a sparse matrix.
        representation: ``"auto"`` (module doc), ``"dense"`` or ``"sparse"``: how ``P`` is stored.

    Raises:
        InvalidMDPError: naming the field and the first offending index.
    """

    def __init__(
        self,
        transitions,
        initial,
        discount: float,
        absorbing: Sequence[int] | np.ndarray | None = None,
        n_actions: int | None = None,
        representation: str = "auto",
    ):
        if representation not in REPRESENTATIONS:
            raise InvalidMDPError(f"representation is {representation!r}, expected one of {REPRESENTATIONS}")
        matrix, n_states, n_actions = _as_transition_matrix(transitions, n_actions)
        self.n_states = n_states
        self.n_actions = n_actions
        self.initial = _check_initial(initial, n_states)
        self.discount = _check_discount(discount)
        self.absorbing = _check_absorbing(absorbing, matrix, n_states, n_actions)
        self._reachable: np.ndarray | None = None
        if representation == "auto":
            representation = _pick_representation(matrix, n_states, n_actions)
        self.representation = representation
        if representation == "dense":
            self._dense = matrix.toarray() if sp.issparse(matrix) else matrix
            self._sparse = None
        else:
            self._dense = None
            self._sparse = matrix if sp.issparse(matrix) else sp.csr_matrix(matrix)
        # the last factorised policy system, reused while the policy is unchanged (linsolve.py)
        self._policy_system = None
        self._linear_solver: str | None = None
        self._iterative_solves = True  # dense systems try an iteration first, until one converges slowly
        self.factorisations = 0

    def __getstate__(self) -> dict:
        # a SuperLU factorisation does not pickle; the next solve rebuilds the policy system
        return {**self.__dict__, "_policy_system": None}

    # -- shapes and views ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(S, A)``: the shape of rewards, Q-values, policies and occupancies."""
        return (self.n_states, self.n_actions)

    @property
    def mass(self) -> float:
        """``Z = 1 / (1 - gamma)``: the total mass of every occupancy measure."""
        return 1.0 / (1.0 - self.discount)

    @property
    def transition_matrix(self) -> sp.csr_matrix:
        """``P`` as a sparse ``[S * A, S]`` CSR matrix (built once from the dense array if stored dense)."""
        if self._sparse is None:
            self._sparse = sp.csr_matrix(self._dense)
        return self._sparse

    @property
    def transitions(self) -> np.ndarray:
        """Dense ``P[s, a, s']`` (a new array of ``S * A * S`` floats; meant for small worlds)."""
        if self._dense is not None:
            return self._dense.reshape(self.n_states, self.n_actions, self.n_states).copy()
        return self._sparse.toarray().reshape(self.n_states, self.n_actions, self.n_states)

    def expected_next(self, values: np.ndarray) -> np.ndarray:
        """``(P V)[s, a] = sum_s' P[s, a, s'] V[s']`` for ``values`` of shape ``[S]``."""
        matrix = self._sparse if self._dense is None else self._dense
        return (matrix @ values).reshape(self.n_states, self.n_actions)

    def inflow(self, rho: np.ndarray) -> np.ndarray:
        """``(P^T rho)[s'] = sum_{s, a} rho[s, a] P[s, a, s']`` ``[S]`` for ``rho`` ``[S, A]``: the mass
        that a state-action measure sends to each state in one step."""
        matrix = self._sparse if self._dense is None else self._dense
        return matrix.T @ np.asarray(rho, dtype=float).ravel()

    def policy_transitions(self, policy: np.ndarray) -> sp.csr_matrix:
        """``P_pi[s, s'] = sum_a pi(a|s) P[s, a, s']`` as a sparse ``[S, S]`` matrix."""
        S, A = self.shape
        rows = np.repeat(np.arange(S), A)
        select = sp.csr_matrix((np.asarray(policy, dtype=float).ravel(), (rows, np.arange(S * A))), shape=(S, S * A))
        return (select @ self.transition_matrix).tocsr()

    def dense_policy_transitions(self, policy: np.ndarray) -> np.ndarray:
        """``P_pi`` as a dense ``[S, S]`` array (allocates ``S * S`` floats)."""
        S, A = self.shape
        pi = np.asarray(policy, dtype=float)
        if self._dense is not None:
            return np.einsum("sa,sat->st", pi, self._dense.reshape(S, A, S))
        # scatter the non-zeros, weighted by pi, into the [S, S] array: no sparse product
        matrix = self._sparse
        rows = np.repeat(np.arange(S * A), np.diff(matrix.indptr))
        flat = (rows // A) * S + matrix.indices
        return np.bincount(flat, weights=matrix.data * pi.ravel()[rows], minlength=S * S).reshape(S, S)

    @property
    def reachable(self) -> np.ndarray:
        """``[S]`` mask of states reachable from the support of ``mu0`` under some action sequence.

        Every soft policy gives every action positive probability, so this is also the support
        of every soft policy's state occupancy; outside it occupancies are exactly zero.
        """
        if self._reachable is None:
            S, A = self.shape
            # state adjacency: s -> s' if some action leads there with positive probability
            if self._dense is not None:
                adjacency = sp.csr_matrix((self._dense.reshape(S, A, S) > 0).any(axis=1).astype(float))
            else:
                matrix = self._sparse
                successors = sp.csr_matrix((np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape)
                collapse = sp.csr_matrix(
                    (np.ones(S * A), (np.repeat(np.arange(S), A), np.arange(S * A))), shape=(S, S * A)
                )
                adjacency = (collapse @ successors).tocsr()
                adjacency.data[:] = 1.0
            mask = np.zeros(S, dtype=bool)
            for start in np.flatnonzero(self.initial > 0):
                if not mask[start]:
                    order = breadth_first_order(adjacency, start, directed=True, return_predecessors=False)
                    mask[order] = True
            self._reachable = mask
        return self._reachable

    def with_discount(self, discount: float) -> MDP:
        """The same dynamics (and representation) with another discount."""
        matrix = self._sparse if self._dense is None else self._dense.reshape(self.n_states, self.n_actions, self.n_states)
        return MDP(matrix, self.initial, discount, self.absorbing, n_actions=self.n_actions,
                   representation=self.representation)

    def __repr__(self) -> str:
        n_abs = int(self.absorbing.sum())
        return (f"MDP(S={self.n_states}, A={self.n_actions}, discount={self.discount}, absorbing={n_abs}, "
                f"representation={self.representation!r})")


# ---------------------------------------------------------------------------------------------
# validation


def _pick_representation(matrix, n_states: int, n_actions: int) -> str:
    """``"dense"`` or ``"sparse"`` by the rule of the module doc."""
    entries = n_states * n_actions * n_states
    if entries <= DENSE_MAX_ENTRIES:
        return "dense"
    if entries > DENSE_LIMIT_ENTRIES:
        return "sparse"
    nnz = matrix.nnz if sp.issparse(matrix) else np.count_nonzero(matrix)
    return "dense" if nnz >= DENSE_MIN_DENSITY * entries else "sparse"


def _as_transition_matrix(transitions, n_actions):
    if sp.issparse(transitions):
        if n_actions is None:
            raise InvalidMDPError("n_actions is required when transitions is a sparse [S * A, S] matrix")
        matrix = sp.csr_matrix(transitions, dtype=float)
        rows, n_states = matrix.shape
        if n_actions < 1 or rows != n_states * n_actions:
            raise InvalidMDPError(
                f"transitions has shape {matrix.shape}, expected [S * A, S] = [{n_states} * {n_actions}, {n_states}]"
            )
        data = matrix.data
        if not np.all(np.isfinite(data)):
            flat = matrix.tocoo()
            bad = np.flatnonzero(~np.isfinite(flat.data))[0]
            r = flat.row[bad]
            raise InvalidMDPError(
                f"transitions[{r // n_actions}, {r % n_actions}, {flat.col[bad]}] is {flat.data[bad]}, expected a probability"
            )
        if np.any(data < 0):
            flat = matrix.tocoo()
            bad = np.flatnonzero(flat.data < 0)[0]
            r = flat.row[bad]
            raise InvalidMDPError(
                f"transitions[{r // n_actions}, {r % n_actions}, {flat.col[bad]}] is {flat.data[bad]:.6g}, expected >= 0"
            )
        matrix.eliminate_zeros()
    else:
        dense = np.array(transitions, dtype=float)  # a copy: the caller's array may change later
        if dense.ndim != 3 or dense.shape[0] != dense.shape[2] or dense.shape[0] < 1 or dense.shape[1] < 1:
            raise InvalidMDPError(f"transitions has shape {dense.shape}, expected [S, A, S] with S, A >= 1")
        n_states, n_actions = dense.shape[0], dense.shape[1]
        bad = np.argwhere(~np.isfinite(dense))
        if len(bad):
            raise InvalidMDPError(f"transitions[{_fmt_index(bad[0])}] is {dense[tuple(bad[0])]}, expected a probability")
        bad = np.argwhere(dense < 0)
        if len(bad):
            raise InvalidMDPError(f"transitions[{_fmt_index(bad[0])}] is {dense[tuple(bad[0])]:.6g}, expected >= 0")
        matrix = dense.reshape(n_states * n_actions, n_states)
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROBABILITY_ATOL)
    if len(bad):
        r = bad[0]
        raise InvalidMDPError(
            f"transitions[{r // n_actions}, {r % n_actions}] sums to {describe_sum(sums[r])}, expected 1 (within {PROBABILITY_ATOL:g})"
        )
    return matrix, n_states, n_actions


def _check_initial(initial, n_states):
    mu0 = np.asarray(initial, dtype=float)
    if mu0.shape != (n_states,):
        raise InvalidMDPError(f"initial has shape {mu0.shape}, expected [S] = [{n_states}]")
    bad = np.flatnonzero(~np.isfinite(mu0) | (mu0 < 0))
    if len(bad):
        raise InvalidMDPError(f"initial[{bad[0]}] is {mu0[bad[0]]}, expected a probability >= 0")
    total = mu0.sum()
    if abs(total - 1.0) > PROBABILITY_ATOL:
        raise InvalidMDPError(f"initial sums to {describe_sum(total)}, expected 1 (within {PROBABILITY_ATOL:g})")
    return mu0 / total


def _check_discount(discount):
    try:
        gamma = float(discount)
    except (TypeError, ValueError):
        raise InvalidMDPError(f"discount is {discount!r}, expected a number in [0, 1)") from None
    if not (0.0 <= gamma < 1.0):
        raise InvalidMDPError(f"discount is {gamma}, expected a number in [0, 1)")
    return gamma


def _check_absorbing(absorbing, matrix, n_states, n_actions):
    mask = np.zeros(n_states, dtype=bool)
    if absorbing is None:
        return mask
    given = np.asarray(absorbing)
    if given.dtype == bool:
        if given.shape != (n_states,):
            raise InvalidMDPError(f"absorbing mask has shape {given.shape}, expected [S] = [{n_states}]")
        mask = given.copy()
    else:
        if given.size and (not np.issubdtype(given.dtype, np.integer)):
            raise InvalidMDPError(f"absorbing must be a boolean mask [S] or integer state indices, got dtype {given.dtype}")
        for s in given.ravel():
            if not 0 <= s < n_states:
                raise InvalidMDPError(f"absorbing state {s} is out of range [0, {n_states})")
            mask[s] = True
    for s in np.flatnonzero(mask):
        for a in range(n_actions):
            if abs(matrix[s * n_actions + a, s] - 1.0) > PROBABILITY_ATOL:
                raise InvalidMDPError(
                    f"transitions[{s}, {a}, {s}] is {describe_sum(matrix[s * n_actions + a, s])}, "
                    f"expected 1 because state {s} is absorbing"
                )
    return mask
