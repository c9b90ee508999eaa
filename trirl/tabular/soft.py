"""Soft (maximum causal entropy) dynamic programming, exact, in log space.

With temperature ``T`` (1 unless a parameter says otherwise, as everywhere in trirl)::

    Q(s, a) = r(s, a) + gamma * sum_s' P(s'|s, a) V(s')
    V(s)    = T * logsumexp_a Q(s, a) / T
    log pi(a|s) = (Q(s, a) - V(s)) / T

Two exact solvers share one result type:

- :func:`soft_value_iteration` applies the soft Bellman backup until the sup-norm bound on the
  distance to the fixed point, ``gamma / (1 - gamma) * ||V_k+1 - V_k||``, is below ``tol``
  (relative to ``max(1, ||V_c||)``, see below); it needs about ``log(tol) / log(gamma)`` backups.
- :func:`soft_policy_iteration` evaluates the current soft policy by one linear solve and
  improves it by one backup; it is Newton's method on the soft Bellman equation and converges
  in a handful of iterations even at ``gamma = 0.999``.

:func:`solve` picks the faster one (``method="auto"``; see ``trirl bench tabular``).

Both solve for the reward centred at its mid-range, ``r_c = r - c`` with
``c = (max r + min r) / 2``, and add ``c / (1 - gamma)`` to ``V`` and ``Q`` at the end (every row
of ``P`` is a probability distribution, absorbing states included, so
``V_r = V_{r_c} + c / (1 - gamma)``; rows that :class:`MDP` accepted within 1e-8 of summing to
one are read as the distributions they stand for).
Their tolerances are relative to ``max(1, ||V_c||)``, which does not grow with a constant offset
of the reward: the soft-optimal policy of ``r + c`` is that of ``r`` for every ``c``, and so is
the point where the solvers stop. Policies are normalised in log space from ``Q - max_a Q``, so
every returned ``policy`` row sums to one to machine precision whatever ``|Q| / T``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trirl.errors import ConvergenceError, InvalidConfigError, describe_sum
from trirl.tabular.linsolve import solve_policy_system
from trirl.tabular.mdp import MDP
from trirl.tabular.threads import small_problem_threads


class SoftSolution(NamedTuple):
    """A soft-optimal (or soft-evaluated) solution. Shapes: ``q, log_policy, policy [S, A]``, ``v [S]``."""

    q: np.ndarray
    v: np.ndarray
    log_policy: np.ndarray
    policy: np.ndarray
    iterations: int
    residual: float
    backups: int
    solves: int


def check_reward(mdp: MDP, reward, name: str = "reward") -> np.ndarray:
    """Broadcast a state reward ``[S]`` or validate a state-action reward ``[S, A]``."""
    r = np.asarray(reward, dtype=float)
    if r.shape == (mdp.n_states,):
        r = np.broadcast_to(r[:, None], mdp.shape)
    if r.shape != mdp.shape:
        raise InvalidConfigError(f"{name} has shape {r.shape}, expected [S, A] = {list(mdp.shape)} or [S] = [{mdp.n_states}]")
    bad = np.argwhere(~np.isfinite(r))
    if len(bad):
        s, a = bad[0]
        raise InvalidConfigError(f"{name}[{s}, {a}] is {r[s, a]}, expected a finite number")
    return r


def check_policy(mdp: MDP, policy, name: str = "policy") -> np.ndarray:
    """Validate a stochastic policy ``pi[S, A]``: finite, non-negative rows summing to one."""
    pi = np.asarray(policy, dtype=float)
    if pi.shape != mdp.shape:
        raise InvalidConfigError(f"{name} has shape {pi.shape}, expected [S, A] = {list(mdp.shape)}")
    bad = np.argwhere(~np.isfinite(pi) | (pi < 0))
    if len(bad):
        s, a = bad[0]
        raise InvalidConfigError(f"{name}[{s}, {a}] is {pi[s, a]}, expected a probability >= 0")
    sums = pi.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-8)
    if len(bad):
        raise InvalidConfigError(f"{name}[{bad[0]}] sums to {describe_sum(sums[bad[0]])}, expected 1 (within 1e-8)")
    return pi


def _check_temperature(temperature: float) -> float:
    t = float(temperature)
    if not (np.isfinite(t) and t > 0):
        raise InvalidConfigError(f"temperature is {temperature!r}, expected a finite number > 0")
    return t


def soft_greedy(q: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``V(s) = T logsumexp_a Q(s, a) / T`` and ``log pi(a|s) = (Q(s, a) - V(s)) / T``; ``q [S, A]``.

    Computed from ``z = (Q - max_a Q) / T`` as ``log pi = z - log sum exp z``: subtracting the
    large ``V`` from the large ``Q`` would lose ``eps * |Q| / T`` of the log-probabilities, so that
    ``exp(log pi)`` no longer sums to one once ``|Q| / T`` is large (1e9 loses 1e-7). Here the
    largest ``z`` is exactly 0, ``sum exp z`` lies in ``[1, A]`` and every row of ``exp(log pi)``
    sums to one within a few ``eps``. This is the one place trirl turns ``Q`` into a policy.
    """
    # scipy's logsumexp is general and ~10x slower on small arrays; this is the hot loop of VI
    top = q.max(axis=1)
    z = (q - top[:, None]) / temperature
    log_norm = np.log(np.exp(z).sum(axis=1))
    return top + temperature * log_norm, z - log_norm[:, None]


def _centre(mdp: MDP, r: np.ndarray, temperature: float) -> tuple[np.ndarray, float]:
    """``r - c`` with ``c`` the mid-range of ``r`` and the value offset ``c / (1 - gamma)``.

    Raises:
        InvalidConfigError: when the soft values of ``reward`` overflow float64.
    """
    shift = 0.5 * float(r.max()) + 0.5 * float(r.min())  # halves first: max + min may overflow
    centred = r - shift
    with np.errstate(over="ignore"):
        bound = (float(np.max(np.abs(centred))) + temperature * np.log(mdp.n_actions)) * mdp.mass
        offset = shift * mdp.mass
    if not (np.isfinite(bound) and np.isfinite(offset) and np.isfinite(bound + abs(offset))):
        raise InvalidConfigError(
            f"reward spans [{r.min():.6g}, {r.max():.6g}]: its soft values, up to "
            f"(max |r| + temperature * log A) / (1 - discount), overflow float64 (max {np.finfo(float).max:.3g}); "
            "rescale the reward"
        )
    return centred, offset


def _check_finite_values(v: np.ndarray, solver: str, iteration: int) -> None:
    if not np.all(np.isfinite(v)):
        raise ConvergenceError(
            f"{solver}: the values became non-finite (overflow or NaN) at iteration {iteration}; "
            "the reward or temperature is outside what float64 can represent, rescale it",
            residual=float("nan"),
            iterations=iteration,
        )


def soft_bellman_backup(mdp: MDP, reward: np.ndarray, v: np.ndarray, temperature: float = 1.0):
    """One soft Bellman backup: ``Q = r + gamma P V`` and ``V' = T logsumexp(Q / T)``."""
    q = reward + mdp.discount * mdp.expected_next(v)
    v_new, _ = soft_greedy(q, temperature)
    return q, v_new


def _scale(v: np.ndarray) -> float:
    return max(1.0, float(np.max(np.abs(v))))


@small_problem_threads
def soft_value_iteration(
    mdp: MDP,
    reward,
    temperature: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 200_000,
    v0: np.ndarray | None = None,
) -> SoftSolution:
    """Soft value iteration to ``gamma / (1 - gamma) * ||V_k+1 - V_k|| <= tol * max(1, ||V_c||)``,
    with ``V_c`` the values of the centred reward (module docstring): a constant added to the
    reward changes neither the stopping point nor the policy.

    Raises:
        InvalidConfigError: when the reward is so large that its soft values overflow float64.
        ConvergenceError: with the last residual, when ``max_iter`` backups do not suffice, or
            when the values become non-finite.
    """
    r = check_reward(mdp, reward)
    temperature = _check_temperature(temperature)
    gamma = mdp.discount
    r, offset = _centre(mdp, r, temperature)
    v = np.zeros(mdp.n_states) if v0 is None else np.asarray(v0, dtype=float) - offset
    residual = np.inf
    for iteration in range(1, max_iter + 1):
        q, v_new = soft_bellman_backup(mdp, r, v, temperature)
        _check_finite_values(v_new, "soft value iteration", iteration)
        residual = float(np.max(np.abs(v_new - v)))
        v = v_new
        if gamma == 0.0 or residual * gamma / (1.0 - gamma) <= tol * _scale(v):
            break
    else:
        raise ConvergenceError(
            f"soft value iteration did not converge in max_iter={max_iter} backups "
            f"(residual {residual:.3g}, discount {gamma}); raise max_iter or use soft_policy_iteration",
            residual=residual,
            iterations=max_iter,
        )
    q = r + gamma * mdp.expected_next(v)
    v, log_policy = soft_greedy(q, temperature)
    return SoftSolution(q + offset, v + offset, log_policy, np.exp(log_policy), iteration, residual, iteration + 1, 0)


def _solve_policy_system(mdp: MDP, policy: np.ndarray, rhs: np.ndarray, transpose: bool) -> np.ndarray:
    """Solve ``(I - gamma P_pi) x = rhs`` (or its transpose) with the factorisation the problem
    calls for, reused while the policy is unchanged (:mod:`trirl.tabular.linsolve`)."""
    return solve_policy_system(mdp, policy, rhs, transpose)


@small_problem_threads
def soft_policy_evaluation(mdp: MDP, policy, reward, temperature: float = 1.0, log_policy=None) -> SoftSolution:
    """Soft values of a fixed policy by one linear solve.

    ``V = sum_a pi (r - T log pi) + gamma P_pi V``; ``Q = r + gamma P V``. Pass ``log_policy`` to
    avoid ``log 0`` for tiny probabilities. The returned ``log_policy`` is the evaluated policy's.
    """
    pi = check_policy(mdp, policy)
    r = check_reward(mdp, reward)
    temperature = _check_temperature(temperature)
    if log_policy is None:
        with np.errstate(divide="ignore"):
            log_policy = np.log(pi)
    log_policy = np.asarray(log_policy, dtype=float)
    # 0 * log 0 = 0: an action never taken contributes no entropy
    entropy_reward = np.where(pi > 0, r - temperature * log_policy, 0.0)
    rhs = np.sum(pi * entropy_reward, axis=1)
    v = _solve_policy_system(mdp, pi, rhs, transpose=False)
    q = r + mdp.discount * mdp.expected_next(v)
    return SoftSolution(q, v, log_policy, pi, 0, 0.0, 0, 1)


@small_problem_threads
def soft_policy_iteration(
    mdp: MDP,
    reward,
    temperature: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 200,
    log_policy0: np.ndarray | None = None,
) -> SoftSolution:
    """Soft policy iteration (evaluate by a linear solve, improve by a soft-greedy step).

    Stops when the Bellman residual ``||T V_pi - V_pi||`` bounds the value error,
    ``||T V_pi - V_pi|| / (1 - gamma)``, below ``tol * max(1, ||V_c||)``, or when the residual
    has reached the rounding floor of the linear solve (it stops halving while already below
    ``min(sqrt(tol), 1e3 eps / (1 - gamma)) * max(1, ||V_c||)``, a thousand times the floor
    ``cond(I - gamma P_pi) eps ||V_c||``); ``residual`` reports where it ended. ``V_c`` are the values
    of the centred reward (module docstring), so a constant added to the reward changes neither
    test nor policy.

    Raises:
        InvalidConfigError: when the reward is so large that its soft values overflow float64.
        ConvergenceError: with the last residual, when ``max_iter`` iterations do not suffice, or
            when the values become non-finite.
    """
    r = check_reward(mdp, reward)
    temperature = _check_temperature(temperature)
    gamma = mdp.discount
    r, offset = _centre(mdp, r, temperature)
    if log_policy0 is None:
        log_policy = np.full(mdp.shape, -np.log(mdp.n_actions))
    else:
        log_policy = np.asarray(log_policy0, dtype=float)
    residual = previous = np.inf
    for iteration in range(1, max_iter + 1):
        pi = np.exp(log_policy)
        rhs = np.sum(pi * (r - temperature * log_policy), axis=1)
        v_pi = _solve_policy_system(mdp, pi, rhs, transpose=False)
        q, v_greedy = soft_bellman_backup(mdp, r, v_pi, temperature)
        _check_finite_values(v_greedy, "soft policy iteration", iteration)
        residual = float(np.max(np.abs(v_greedy - v_pi)))
        v, log_policy = soft_greedy(q, temperature)
        scale = _scale(v)
        # Newton's method converges quadratically until the linear solve's rounding floor,
        # about cond(I - gamma P_pi) * eps * ||V|| ~ 1e-16 ||V|| / (1 - gamma); stop there too,
        # but nowhere above it: a slow phase of Newton's method far from the fixed point is no
        # floor, and stopping there returned a wrong policy
        floor = min(np.sqrt(tol), 1e3 * np.finfo(float).eps / (1.0 - gamma)) * scale
        stalled = residual > 0.5 * previous and residual <= floor
        if residual / (1.0 - gamma) <= tol * scale or stalled:
            break
        previous = residual
    else:
        raise ConvergenceError(
            f"soft policy iteration did not converge in max_iter={max_iter} iterations "
            f"(residual {residual:.3g}, discount {gamma})",
            residual=residual,
            iterations=max_iter,
        )
    return SoftSolution(q + offset, v + offset, log_policy, np.exp(log_policy), iteration, residual, iteration, iteration)


@small_problem_threads
def solve(
    mdp: MDP,
    reward,
    temperature: float = 1.0,
    method: str = "auto",
    tol: float = 1e-10,
    warm_start: SoftSolution | None = None,
) -> SoftSolution:
    """The soft-optimal solution by the faster exact solver.

    ``method="auto"`` uses policy iteration, except for discounts below 0.5 where value
    iteration needs only a few dozen backups; ``"value_iteration"`` / ``"policy_iteration"``
    force one. ``warm_start`` (a previous solution) seeds either solver.
    """
    if method == "auto":
        method = "value_iteration" if mdp.discount < 0.5 else "policy_iteration"
    if method == "value_iteration":
        v0 = None if warm_start is None else warm_start.v
        return soft_value_iteration(mdp, reward, temperature, tol=tol, v0=v0)
    if method == "policy_iteration":
        lp0 = None if warm_start is None else warm_start.log_policy
        return soft_policy_iteration(mdp, reward, temperature, tol=tol, log_policy0=lp0)
    raise InvalidConfigError(f"method is {method!r}, expected 'auto', 'value_iteration' or 'policy_iteration'")
