"""Properties of the trust-region step: Lemma 3.1 (penalised and constrained forms, Eq. 3) and
Theorem 3.2 (reward correction, ``eps_tr = eps / (1 + eta)``)."""

from __future__ import annotations

import numpy as np

from trirl import core
from trirl.tabular import soft
from trirl.tabular.algorithms import trirl as trirl_algorithm
from trirl.verify import reference as ref
from trirl.verify import strategies as vs
from trirl.verify.properties.measures import current_pair, scale


def _full_support(mdp) -> np.ndarray:
    # every state weighted: the optimal policy of an entropy-regularised MDP does not depend on
    # mu0 (uniform optimality), and a full-support mu0 identifies it in every state
    return 0.5 * mdp.initial + 0.5 / mdp.n_states


def check_lemma_3_1(case: vs.IRLCase) -> float:
    """Lemma 3.1 (penalised form): for every MDP, reward ``r``, policy ``pi_old`` and ``eta >= 0``,
    the soft-optimal policy of ``r_eta = (r + eta log pi_old) / (1 + eta)`` maximises
    ``E_{d_pi}[H(pi) + E_pi r - eta KL(pi || pi_old)]``. Checked without the lemma: (a) the
    objective's exact logit gradient (policy-gradient theorem, :mod:`reference`) vanishes at
    that policy, i.e. every action's penalised advantage ``Q - (1 + eta) log pi - V`` is zero
    (the problem is concave in the occupancy, so stationarity is optimality), and (b) L-BFGS on
    the logits from ``pi_old`` finds no higher objective. ``r`` is the Eq. 2 target ``U_eps r``
    and ``pi_old`` the MCE policy of the case's reward. Violation: the larger of the
    ``pi``-weighted advantage and the L-BFGS improvement, relative to the scale of ``V``."""
    mdp = case.mdp
    old, _, r_tilde = current_pair(case)
    eta = case.eta
    lemma = soft.solve(mdp, core.trust_region_reward(r_tilde, old.log_policy, eta))
    P, mu = ref.dense_transitions(mdp), _full_support(mdp)
    at_lemma = ref.penalised_objective(P, mu, mdp.discount, r_tilde, old.log_policy, eta, lemma.log_policy)
    value_scale = scale(at_lemma.v)
    q = r_tilde + eta * old.log_policy + mdp.discount * P @ at_lemma.v
    advantage = np.max(lemma.policy * np.abs(q - (1.0 + eta) * lemma.log_policy - at_lemma.v[:, None]))
    best = ref.penalised_optimum(P, mu, mdp.discount, r_tilde, old.log_policy, eta)
    at_best = ref.penalised_objective(P, mu, mdp.discount, r_tilde, old.log_policy, eta, best)
    improvement = max(0.0, at_best.value - at_lemma.value) * (1.0 - mdp.discount)
    return float(max(advantage, improvement) / value_scale)


def check_lemma_3_1_constrained(case: vs.IRLCase, kl_bound: float) -> float:
    """Lemma 3.1 (constrained form, Eq. 3): for a bound ``zeta``, ``solve_eta`` returns ``eta >= 0``
    whose trust-region policy ``pi_eta`` (a) is feasible, ``E_{d_pi}[KL(pi || pi_old)] <= zeta``,
    (b) makes the constraint tight when ``eta > 0`` (complementary slackness), and (c) is the
    constrained optimum: SLSQP over the logits from ``pi_old`` finds no feasible policy with a
    higher ``E_{d_pi}[H(pi) + E_pi r]``. The KL is recomputed from the definition. Violation: the
    KL excess or slack relative to ``zeta``, plus SLSQP's improvement relative to the scale.

    Domain (registry): at most 6 states, discount <= 0.95, reward scale <= 10. The claim is not
    narrower; the SLSQP reference is: it is a dense quasi-Newton method whose cost grows as
    ``(SA)^3`` per step and which stalls on the near-deterministic policies of larger rewards and
    discounts, so beyond this box it would only test the reference. Parts (a) and (b) and the
    penalised form (:func:`check_lemma_3_1`) cover the full domain."""
    mdp = case.mdp
    old, _, r_tilde = current_pair(case)
    eta, solution, _ = trirl_algorithm.solve_eta(mdp, r_tilde, old.log_policy, kl_bound)
    P, mu, gamma = ref.dense_transitions(mdp), mdp.initial, mdp.discount
    kl = ref.expected_kl(P, mu, gamma, solution.log_policy, old.log_policy)
    slack = abs(kl - kl_bound) if eta > 0 else max(0.0, kl - kl_bound)
    at_eta = ref.soft_return(P, mu, gamma, r_tilde, solution.log_policy)
    best = ref.constrained_optimum(P, mu, gamma, r_tilde, old.log_policy, kl_bound, logits0=None)
    improvement = 0.0
    if ref.expected_kl(P, mu, gamma, best, old.log_policy) <= kl_bound * (1 + 1e-9):
        at_best = ref.soft_return(P, mu, gamma, r_tilde, best)
        improvement = max(0.0, at_best.value - at_eta.value) * (1.0 - gamma) / scale(at_eta.v)
    return float(slack / kl_bound + improvement)


def check_theorem_3_2(case: vs.IRLCase) -> float:
    """Theorem 3.2 (reward correction): for every MCE pair ``(r, pi_old)``, log-ratio, ``eps``,
    ``beta`` and ``eta >= 0``, the trust-region policy for ``U_eps r`` (Lemma 3.1's
    ``r_eta``) equals the MCE-optimal policy of ``U_{eps / (1 + eta)} r``. Exact: both rewards
    differ by the potential shaping ``eta / (1 + eta) (gamma P V_old - V_old)``. Violation: the
    largest log-policy difference relative to the scale of both values."""
    mdp = case.mdp
    old, ratio, r_tilde = current_pair(case)
    trust_region = soft.solve(mdp, core.trust_region_reward(r_tilde, old.log_policy, case.eta))
    eps_tr = core.corrected_step(case.eps, case.eta)
    corrected = soft.solve(mdp, core.function_space_update(case.reward, ratio, eps_tr, case.beta))
    gap = np.max(np.abs(trust_region.log_policy - corrected.log_policy))
    return float(gap / scale(old.v, trust_region.v, corrected.v))
