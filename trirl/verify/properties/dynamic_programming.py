"""Properties of the exact engine: occupancy measures (Bellman flow) and soft dynamic programming
(soft value iteration, soft policy iteration, soft optimality, shaping and offset invariance)."""

from __future__ import annotations

import numpy as np

from trirl.tabular import occupancies as occ
from trirl.tabular import soft
from trirl.verify import reference as ref
from trirl.verify.properties.measures import EPS, scale


def check_occupancy_flow(mdp, policy) -> float:
    """Occupancy measures (book chapter 2): for every MDP and every policy ``pi``, ``rho = occupancy(pi)``
    satisfies the Bellman flow constraints ``sum_a rho(s', a) = mu0(s') + gamma sum_{s,a}
    P(s'|s, a) rho(s, a)``, is non-negative, has ``rho(s, a) = pi(a|s) d(s)`` and mass
    ``1 / (1 - gamma)``. Violation: the largest of these errors, relative to ``Z``."""
    P = ref.dense_transitions(mdp)
    d = occ.state_occupancy(mdp, policy)
    rho = occ.occupancy(mdp, policy)
    flow = np.max(np.abs(ref.flow_residual(P, mdp.initial, mdp.discount, rho)))
    product = np.max(np.abs(rho - policy * d[:, None]))
    mass = abs(rho.sum() - mdp.mass)
    negative = max(0.0, -float(rho.min()))
    return float(max(flow, product, mass, negative) / mdp.mass)


def check_soft_vi_fixed_point(mdp, reward) -> float:
    """Soft value iteration: for every MDP and reward, the returned ``V`` is the soft Bellman
    fixed point, ``||T V - V||_inf <= tol`` with ``T V = logsumexp_a(r + gamma P V)`` written
    independently, and ``log pi = Q - V`` with ``Q = r + gamma P V``. Violation relative to the
    scale of ``V``."""
    solution = soft.soft_value_iteration(mdp, reward)
    P = ref.dense_transitions(mdp)
    r = np.broadcast_to(np.asarray(reward, dtype=float).reshape(mdp.n_states, -1), mdp.shape)
    bellman = np.max(np.abs(ref.soft_backup(P, mdp.discount, r, solution.v) - solution.v))
    q = r + mdp.discount * P @ solution.v
    policy = np.max(np.abs(solution.log_policy - (q - solution.v[:, None])))
    return float(max(bellman, policy) / scale(solution.v))


def check_soft_pi_agrees_with_vi(mdp, reward) -> float:
    """Soft policy iteration and soft value iteration: for every MDP and reward they return the
    same ``V`` and ``log pi`` (both solve the soft Bellman equation). Violation: the largest
    difference, relative to the scale of ``V``."""
    vi = soft.soft_value_iteration(mdp, reward)
    pi = soft.soft_policy_iteration(mdp, reward)
    return float(max(np.max(np.abs(vi.v - pi.v)), np.max(np.abs(vi.log_policy - pi.log_policy))) / scale(vi.v))


def check_soft_optimal_dominates(mdp, reward, policy) -> float:
    """Soft optimality: for every MDP, reward and policy ``pi``, the entropy-regularised value
    of ``pi`` (evaluated independently, ``V_pi = sum_a pi (r - log pi) + gamma P_pi V_pi``) is at
    most the soft-optimal ``V*`` in every state. Violation: ``max_s (V_pi - V*)^+`` relative."""
    best = soft.solve(mdp, reward)
    P = ref.dense_transitions(mdp)
    r = np.broadcast_to(np.asarray(reward, dtype=float).reshape(mdp.n_states, -1), mdp.shape)
    v_pi, _ = ref.policy_values(P, mdp.discount, r, policy, np.log(policy))
    return float(max(0.0, np.max(v_pi - best.v)) / scale(best.v))


def check_shaping_invariance(mdp, reward, potential) -> float:
    """Potential shaping (Ng et al. 1999, soft version): for every MDP, reward ``r`` and state
    potential ``Phi``, ``r + gamma P Phi - Phi`` has the same soft-optimal policy as ``r`` and
    the value ``V - Phi``. Violation: the largest log-policy or value difference, relative."""
    base = soft.solve(mdp, reward)
    r = np.broadcast_to(np.asarray(reward, dtype=float).reshape(mdp.n_states, -1), mdp.shape)
    shaped = soft.solve(mdp, r + mdp.discount * mdp.expected_next(potential) - potential[:, None])
    policy = np.max(np.abs(base.log_policy - shaped.log_policy))
    value = np.max(np.abs(base.v - potential - shaped.v))
    return float(max(policy, value) / scale(base.v, shaped.v))


def check_reward_offset_invariance(mdp, reward, offset) -> float:
    """Offset invariance: for every MDP, reward ``r`` and constant ``c``, ``r + c`` has the
    soft-optimal policy of ``r`` (every row of ``P`` sums to one, so ``V`` shifts by
    ``c / (1 - gamma)`` and ``Q - V`` does not move). Compared with the reward ``r + c`` actually
    represents, ``fl(r + c) - c``, so the rounding of the offset itself is not counted; by
    :func:`~trirl.tabular.soft.solve` and, up to discount 0.99, by soft value iteration. Every
    returned policy must also sum to one within ``64 eps``. Violation: the largest policy
    difference or row-sum error."""
    r = np.broadcast_to(np.asarray(reward, dtype=float).reshape(mdp.n_states, -1), mdp.shape)
    shifted = r + offset
    represented = shifted - offset
    solvers = [soft.solve]
    if mdp.discount <= 0.99:
        solvers.append(soft.soft_value_iteration)
    worst = 0.0
    for solver in solvers:
        a, b = solver(mdp, shifted), solver(mdp, represented)
        sums = max(np.max(np.abs(a.policy.sum(axis=1) - 1.0)), np.max(np.abs(b.policy.sum(axis=1) - 1.0)))
        worst = max(worst, float(np.max(np.abs(a.policy - b.policy))), max(0.0, float(sums) - 64 * EPS))
    return worst
