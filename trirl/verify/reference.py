"""Independent dense references for the properties: they share no code with the engine.

Everything here works on the dense ``P[s, a, s']`` with plain ``numpy.linalg.solve`` and is
written from the definitions, not from the engine's identities, so that a property comparing
the two can fail. In particular nothing here uses Lemma 3.1 or Theorem 3.2:

- :func:`soft_return` evaluates the entropy-regularised return of a softmax policy and its exact
  gradient with respect to the logits (the entropy-regularised policy-gradient theorem);
- :func:`penalised_optimum` maximises the KL-penalised objective of Eq. 3 over policy logits
  with L-BFGS (scipy);
- :func:`constrained_optimum` maximises the constrained form of Eq. 3 with SLSQP (scipy);
- :func:`eq1_optimum` maximises the primal of Eq. 1 (entropy minus ``beta`` times the reverse
  KL to the expert) over policy logits with L-BFGS, without any reward or dual variable.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp


def dense_transitions(mdp) -> np.ndarray:
    return mdp.transition_matrix.toarray().reshape(mdp.n_states, mdp.n_actions, mdp.n_states)


def flow_residual(P: np.ndarray, mu0: np.ndarray, gamma: float, rho: np.ndarray) -> np.ndarray:
    """Bellman flow: ``sum_a rho(s', a) - mu0(s') - gamma sum_{s,a} P(s'|s,a) rho(s,a)`` ``[S]``."""
    return rho.sum(axis=1) - mu0 - gamma * np.einsum("sat,sa->t", P, rho)


def state_occupancy(P: np.ndarray, mu0: np.ndarray, gamma: float, pi: np.ndarray) -> np.ndarray:
    """``d = sum_t gamma^t mu_t``: ``d(s') = mu0(s') + gamma sum_s d(s) P_pi(s, s')``."""
    p_pi = np.einsum("sa,sat->st", pi, P)
    return np.linalg.solve(np.eye(len(mu0)) - gamma * p_pi.T, mu0)


def soft_backup(P: np.ndarray, gamma: float, r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(T V)(s) = logsumexp_a [r(s, a) + gamma sum_s' P(s'|s, a) V(s')]``."""
    return logsumexp(r + gamma * P @ v, axis=1)


def policy_values(P: np.ndarray, gamma: float, r: np.ndarray, pi: np.ndarray, log_pi: np.ndarray, tau: float = 1.0):
    """Soft values of a fixed policy: ``V = sum_a pi (r - tau log pi) + gamma P_pi V``; returns ``(V, Q)``."""
    p_pi = np.einsum("sa,sat->st", pi, P)
    c = np.sum(np.where(pi > 0, pi * (r - tau * log_pi), 0.0), axis=1)
    v = np.linalg.solve(np.eye(len(c)) - gamma * p_pi, c)
    return v, r + gamma * P @ v


class SoftReturn(NamedTuple):
    value: float
    gradient: np.ndarray  # [S, A], with respect to the logits
    v: np.ndarray
    d: np.ndarray


def soft_return(P, mu0, gamma, r, logits, tau: float = 1.0) -> SoftReturn:
    """``J(pi) = E_mu0[V_pi(s0)] = sum_{s,a} rho_pi(s,a) (r(s,a) - tau log pi(a|s))`` for
    ``pi = softmax(logits)``, and ``dJ/dlogits(s,a) = d(s) pi(a|s) (Q(s,a) - tau log pi(a|s) - V(s))``
    (entropy-regularised policy-gradient theorem; checked against finite differences in the tests)."""
    log_pi = log_softmax(logits, axis=1)
    pi = np.exp(log_pi)
    v, q = policy_values(P, gamma, r, pi, log_pi, tau)
    d = state_occupancy(P, mu0, gamma, pi)
    grad = d[:, None] * pi * (q - tau * log_pi - v[:, None])
    return SoftReturn(float(mu0 @ v), grad, v, d)


def penalised_objective(P, mu0, gamma, r, log_pi_old, eta, logits) -> SoftReturn:
    """Eq. 3 with multiplier ``eta``: ``E_{d_pi}[H(pi) + E_pi r - eta KL(pi || pi_old)]``.

    Per step that is ``r + eta log pi_old - (1 + eta) log pi``: a soft return with reward
    ``r + eta log pi_old`` and temperature ``1 + eta`` (a regrouping of terms, not Lemma 3.1).
    """
    return soft_return(P, mu0, gamma, r + eta * log_pi_old, logits, tau=1.0 + eta)


def _centred(r: np.ndarray, gamma: float) -> tuple[np.ndarray, float]:
    """``r`` minus its mid-range and the objective scale ``max(1, span r) / (1 - gamma)``.

    A constant in ``r`` moves every return by ``c / (1 - gamma)`` and no optimum, but it would
    inflate ``|f|`` and so loosen the optimisers' relative stopping tests (``ftol``); removing it
    keeps the references' accuracy independent of reward offsets."""
    r = np.asarray(r, dtype=float)
    centred = r - (0.5 * r.max() + 0.5 * r.min())
    return centred, max(1.0, float(np.ptp(r))) / (1.0 - gamma)


def penalised_optimum(P, mu0, gamma, r, log_pi_old, eta, logits0=None, gtol: float = 1e-10, maxiter: int = 500) -> np.ndarray:
    """Log-policy maximising :func:`penalised_objective` by L-BFGS over the logits.

    It can only ever under-shoot the maximum, so a property that asks "did L-BFGS find a higher
    objective?" stays sound when ``maxiter`` stops it early."""
    S, A = r.shape
    x0 = (log_pi_old if logits0 is None else logits0).ravel()
    r, scale = _centred(r, gamma)

    def fun(x):
        out = penalised_objective(P, mu0, gamma, r, log_pi_old, eta, x.reshape(S, A))
        return -out.value / scale, -out.gradient.ravel() / scale

    res = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter, "gtol": gtol, "ftol": 1e-15})
    return log_softmax(res.x.reshape(S, A), axis=1)


def constrained_optimum(P, mu0, gamma, r, log_pi_old, kl_bound, logits0=None) -> np.ndarray:
    """Log-policy maximising ``E_{d_pi}[H(pi) + E_pi r]`` s.t. ``E_{d_pi}[KL(pi || pi_old)] <= kl_bound``
    (Eq. 3, constrained form) by SLSQP over the logits, from ``pi_old`` (feasible)."""
    S, A = r.shape
    x0 = (log_pi_old if logits0 is None else logits0).ravel()
    r, scale = _centred(r, gamma)

    def objective(x):
        out = soft_return(P, mu0, gamma, r, x.reshape(S, A))
        return -out.value / scale, -out.gradient.ravel() / scale

    def kl(x):
        # E_d[KL(pi || pi_old)] = -(soft return of reward log pi_old): sum rho (log pi - log pi_old)
        out = soft_return(P, mu0, gamma, log_pi_old, x.reshape(S, A))
        return -out.value * (1.0 - gamma), -out.gradient.ravel() * (1.0 - gamma)

    constraint = {"type": "ineq", "fun": lambda x: kl_bound - kl(x)[0], "jac": lambda x: -kl(x)[1]}
    res = minimize(
        objective, x0, jac=True, method="SLSQP", constraints=[constraint], options={"maxiter": 2000, "ftol": 1e-14}
    )
    return log_softmax(res.x.reshape(S, A), axis=1)


def expected_kl(P, mu0, gamma, log_pi, log_pi_old) -> float:
    """``E_{s ~ (1-gamma) d_pi}[KL(pi(.|s) || pi_old(.|s))]``, from the definition."""
    pi = np.exp(log_pi)
    d = state_occupancy(P, mu0, gamma, pi) * (1.0 - gamma)
    return float(d @ np.sum(pi * (log_pi - log_pi_old), axis=1))


def eq1_optimum(P, mu0, gamma, rho_expert, beta, logits0=None, gtol: float = 1e-13, maxiter: int = 5000) -> np.ndarray:
    """Log-policy maximising Eq. 1, ``F(pi) = sum rho_pi (-log pi) - beta sum rho_pi log(rho_pi / rho_E)``,
    by L-BFGS over the logits (``rho_E`` of mass ``1 / (1 - gamma)``, as the engine's).

    ``F`` is a function of ``rho_pi`` plus the entropy term, so its gradient with respect to the
    logits is that of a soft return with the reward frozen at ``dPhi/drho = -beta (log rho_pi -
    log rho_E + 1)`` (chain rule; ``Phi`` the KL term). ``F`` is strictly concave in the occupancy,
    so the optimum's occupancy is unique: the fixed point of exact TRIRL at this ``beta``."""
    S, A = np.asarray(rho_expert).shape
    log_rho_e = np.log(np.where(rho_expert > 0, rho_expert, 1.0))
    scale = max(1.0, float(beta)) / (1.0 - gamma)

    def fun(x):
        logits = x.reshape(S, A)
        log_pi = log_softmax(logits, axis=1)
        rho = state_occupancy(P, mu0, gamma, np.exp(log_pi))[:, None] * np.exp(log_pi)
        log_rho = np.log(np.where(rho > 0, rho, 1.0))
        frozen = -beta * (log_rho - log_rho_e + 1.0)
        value = float(np.sum(rho * -log_pi) - beta * np.sum(rho * (log_rho - log_rho_e)))
        return -value / scale, -soft_return(P, mu0, gamma, frozen, logits).gradient.ravel() / scale

    x0 = np.zeros(S * A) if logits0 is None else np.asarray(logits0, dtype=float).ravel()
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter, "gtol": gtol, "ftol": 1e-16})
    return log_softmax(res.x.reshape(S, A), axis=1)
