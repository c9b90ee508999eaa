"""The baselines and problems of the tabular benchmark (:mod:`trirl.bench.tabular`).

The way teaching code usually does it: soft value iteration on a dense ``P[S, A, S]``
(:func:`dense_soft_value_iteration`), occupancies by forward propagation
(:func:`forward_occupancy`) and a TRIRL iteration built from them
(:func:`teaching_trirl_iteration`); imitation 1.0.1's finite-horizon MCE-IRL iteration, in
process, in a subprocess (:func:`imitation_baseline`) or transcribed to numpy
(:func:`numpy_mce_irl_iteration`); and the problems the figures share (the dense random MDP,
Gymnasium's Taxi).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from trirl.tabular.mdp import MDP

TOL = 1e-10


def timed(fn, repeats: int) -> tuple[float, object]:
    """The median wall seconds of ``repeats`` calls of ``fn()``, and the last call's result."""
    times, out = [], None
    for _ in range(repeats):
        tick = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - tick)
    return statistics.median(times), out


def dense_soft_value_iteration(P: np.ndarray, reward: np.ndarray, gamma: float, tol: float = TOL) -> np.ndarray:
    """The soft-optimal ``log pi`` ``[S, A]`` of ``reward`` ``[S, A]`` on a dense ``P[S, A, S]`` by
    soft value iteration with einsum, until the value's error bound is below ``tol`` (relative)."""
    v = np.zeros(P.shape[0])
    while True:
        q = reward + gamma * np.einsum("sat,t->sa", P, v)
        top = q.max(axis=1)
        v_new = top + np.log(np.exp(q - top[:, None]).sum(axis=1))
        if np.max(np.abs(v_new - v)) * gamma / (1 - gamma) <= tol * max(1.0, np.abs(v_new).max()):
            return q - v_new[:, None]
        v = v_new


def forward_occupancy(mdp: MDP, policy: np.ndarray, tol: float = TOL) -> np.ndarray:
    """``d = sum_t gamma^t mu_t`` by propagating ``mu_t`` until the tail is below ``tol``."""
    p_pi_t = mdp.policy_transitions(policy).T.tocsr()
    mu, d, weight = mdp.initial.copy(), np.zeros(mdp.n_states), 1.0
    while weight / (1 - mdp.discount) > tol:
        d += weight * mu
        mu = p_pi_t @ mu
        weight *= mdp.discount
    return d[:, None] * policy


def teaching_trirl_iteration(mdp: MDP, reward, log_policy, log_rho_expert, eps, beta, eta):
    """One TRIRL iteration as teaching code writes it: soft VI + forward-propagated occupancy."""
    log_rho = np.log(np.maximum(forward_occupancy(mdp, np.exp(log_policy)), 1e-300))
    ratio = log_rho_expert - log_rho
    r_tilde = (1 - eps) * reward + eps * beta * ratio
    r_eta = (r_tilde + eta * log_policy) / (1 + eta)
    from trirl.tabular import soft_value_iteration

    new = soft_value_iteration(mdp, r_eta, tol=TOL)
    eps_tr = eps / (1 + eta)
    return (1 - eps_tr) * reward + eps_tr * beta * ratio, new.log_policy


DENSE_STATES, DENSE_ACTIONS, DENSE_DISCOUNT, MCE_HORIZON = 1024, 4, 0.99, 100


def dirichlet_transitions(seed: int, n_states: int, n_actions: int, concentration: float = 0.3) -> np.ndarray:
    """``P[s, a, :] ~ Dirichlet(concentration)`` over all ``n_states`` next states: a dense random MDP."""
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(n_states, concentration), size=(n_states, n_actions))


def dense_problem(seed: int = 0):
    """The dense 1,024 x 4 MDP, a random reward, its expert occupancy (state-action, discounted)."""
    P = dirichlet_transitions(seed, DENSE_STATES, DENSE_ACTIONS)
    mu0 = np.full(DENSE_STATES, 1.0 / DENSE_STATES)
    mdp = MDP(P, mu0, DENSE_DISCOUNT)
    reward = np.random.default_rng(seed + 1).normal(size=mdp.shape)
    return P, mu0, mdp, reward


def numpy_mce_irl_iteration(P, mu0, theta, demo_state_om, horizon: int, lr: float = 1e-2):
    """One iteration of finite-horizon MCE-IRL as imitation 1.0.1's ``MCEIRL._train_step`` does it,
    in numpy: the soft backward pass (``mce_partition_fh``: ``Q_t = r + P V_{t+1}``, ``V_t =
    logsumexp Q_t``), the forward state visitation (``mce_occupancy_measures``, undiscounted) and a
    gradient step on a tabular state reward (plain gradient descent in place of Adam)."""
    from scipy.special import logsumexp

    S, A, _ = P.shape
    V = np.empty((horizon, S))
    Q = np.empty((horizon, S, A))
    Q[-1] = theta[:, None]
    V[-1] = logsumexp(Q[-1], axis=1)
    for t in reversed(range(horizon - 1)):
        Q[t] = theta[:, None] + P @ V[t + 1]
        V[t] = logsumexp(Q[t], axis=1)
    pi = np.exp(Q - V[:, :, None])
    D = np.zeros((horizon + 1, S))
    D[0] = mu0
    for t in range(horizon):
        for a in range(A):
            D[t + 1] += (D[t] * pi[t, :, a]) @ P[:, a, :]
    visitations = D.sum(axis=0)
    return theta - lr * (visitations - demo_state_om), visitations


def imitation_mce_iteration_seconds(seed: int, repeats: int) -> float:
    """Median seconds of one ``MCEIRL._train_step`` of imitation on :func:`dense_problem` (needs imitation)."""
    import torch as th
    from imitation.algorithms import mce_irl
    from imitation.rewards import reward_nets
    from seals import base_envs

    th.set_num_threads(1)  # as every figure here: one thread, the faster setting on a shared 2-core machine
    P, mu0, _, reward = dense_problem(seed)
    env = base_envs.TabularModelPOMDP(
        transition_matrix=P, observation_matrix=np.eye(DENSE_STATES, dtype=np.float32),
        reward_matrix=reward.max(axis=1), horizon=MCE_HORIZON, initial_state_dist=mu0,
    )
    _, demo_om = mce_irl.mce_occupancy_measures(env)
    net = reward_nets.BasicRewardNet(env.observation_space, env.action_space, hid_sizes=[],
                                     use_action=False, use_done=False, use_next_state=False)
    trainer = mce_irl.MCEIRL(demo_om, env, net, rng=np.random.default_rng(seed), log_interval=None)
    obs = th.as_tensor(env.observation_matrix, dtype=net.dtype, device=net.device)
    trainer._train_step(obs)  # warm-up: torch's first call allocates
    seconds, _ = timed(lambda: trainer._train_step(obs), repeats)
    return seconds


def imitation_baseline(seed: int, repeats: int, path: Path | None) -> tuple[float | None, str]:
    """imitation's iteration time, in process or from ``path`` in a subprocess; ``(None, why)`` if unavailable."""
    try:
        return imitation_mce_iteration_seconds(seed, repeats), "in process"
    except ImportError as error:
        if path is None:
            return None, f"imitation not importable ({error}); pass --imitation-path DIR"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(path), str(Path(__file__).resolve().parents[2]),
                                          os.environ.get("PYTHONPATH", "")])}
    code = ("import json, sys; from trirl.bench.tabular_baselines import imitation_mce_iteration_seconds as f; "
            f"print(json.dumps(f({seed}, {repeats})))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"imitation from {path} failed: {done.stderr.strip().splitlines()[-1:]}"
    return float(done.stdout.strip().splitlines()[-1]), f"subprocess with {path} first on PYTHONPATH"


def taxi_problem():
    """``(name, mdp, reward)`` of Gymnasium's Taxi at discount 0.99 (ImportError without gymnasium)."""
    import gymnasium

    from trirl.tabular.gym import from_gymnasium

    # Gymnasium 1.x renamed it Taxi-v4 (deterministic by default, as v3 was)
    name = next(i for i in ("Taxi-v4", "Taxi-v3") if i in gymnasium.registry)
    taxi = from_gymnasium(name, discount=0.99)
    return name, taxi.mdp, taxi.reward
