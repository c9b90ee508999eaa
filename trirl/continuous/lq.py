"""Soft linear-quadratic control: the exact continuous problem the continuous half is checked against.

The problem (float64 numpy/scipy throughout; ``n`` state and ``m`` action dimensions, ``z = [s; a]``
of size ``d = n + m``)::

    s_0 ~ N(m0, S0),     s' = A s + B a + w,   w ~ N(0, W),   discount gamma in [0, 1)
    r(s, a) = z^T M z + g^T z + c                  (a :class:`Quadratic` in z)
    pi(a | s) = N(K s + k, Sigma)                   (a :class:`LinearGaussian` policy)

Soft (max-ent) RL with temperature 1 as everywhere in trirl (book chapter 2):
``Q = r + gamma E[V(s')]``, ``V = log int exp Q da``, ``log pi = Q - V``.

What is exact here (closed form, up to rounding) and where each formula comes from:

- :func:`soft_optimal` (soft Riccati fixed point). With ``V(s) = s^T P s + p^T s + v`` the
  Q-function is the quadratic ``Q(z) = z^T H z + h^T z + q`` with ``H = M + gamma F^T P F``,
  ``F = [A B]``, ``h = g + gamma F^T p``, ``q = c + gamma (tr(P W) + v)``. If the action block
  ``H_aa`` is negative definite, ``exp Q`` is a Gaussian in ``a``: ``pi = N(K s + k, Sigma)`` with
  ``Sigma = (-2 H_aa)^{-1}``, ``K = -H_aa^{-1} H_as``, ``k = -H_aa^{-1} h_a / 2`` (state-independent
  covariance), and integrating it out gives the Riccati-type map
  ``P <- H_ss - H_sa H_aa^{-1} H_as`` (the Schur complement), ``p = g_s + K^T g_a + gamma (A + B K)^T p``
  (a linear solve) and ``v = [c + gamma tr(P W) + k^T Sigma^{-1} k / 2 + log det(2 pi Sigma) / 2] / (1 - gamma)``.
  ``P`` is found by iterating the map from ``P = 0`` (soft value iteration restricted to
  quadratics; it converges whenever the soft value is finite). The LQR texts' (Kalman; for the
  soft version Levine 2018, "RL and control as probabilistic inference", Sec. 3) sign is flipped:
  rewards, not costs.
- :func:`occupancy_moments` (discounted Lyapunov equations). Under ``pi`` the state follows
  ``s' = A_pi s + b_pi + noise`` with ``A_pi = A + B K``, ``b_pi = B k``, noise covariance
  ``W_pi = B Sigma B^T + W``. The unnormalised discounted moments ``x = sum_t gamma^t E[s_t]`` and
  ``X = sum_t gamma^t E[s_t s_t^T]`` solve ``x = m0 + gamma (A_pi x + Z b_pi)`` and
  ``X = gamma A_pi X A_pi^T + S0 + m0 m0^T + gamma (A_pi x b_pi^T + b_pi x^T A_pi^T + Z (b_pi b_pi^T + W_pi))``
  (``Z = 1 / (1 - gamma)``, the occupancy's mass), finite iff ``sqrt(gamma) rho(A_pi) < 1``.
  The action moments follow from ``a = K s + k + noise``.
- :func:`feature_expectations`: ``E_rho[phi]`` for the quadratic features :func:`features`
  (monomials ``z_i z_j, i <= j`` then ``z_i``) are entries of these moments.
- :func:`dual_feature_matching` ``G_inf(theta) = E_mu0[V_theta(s_0)] - theta^T E_rhoE[phi]``
  (the ``beta -> infinity`` limit of the dual with a reward linear in ``phi``, Ziebart's MCE-IRL
  dual) and its gradient ``E_rho_theta[phi] - E_rhoE[phi]``: exact.
- :func:`dual` ``G_beta(theta)`` (the dual of book chapter 3, restricted to ``r = theta^T phi``):
  ``G = E_mu0[V_theta(s_0)] + beta Z log E_{p_E}[exp(-r / beta)]`` with ``p_E = rho_E / Z``. The
  normalised occupancy is the mixture ``p_E = sum_t (1 - gamma) gamma^t N(m_t, S_t)`` of the
  expert's time marginals of ``z``; each term's ``E[exp(-r / beta)]`` is a Gaussian integral
  (:func:`_log_gaussian_expectation`), so ``G`` is exact up to cutting the sum after ``T`` terms,
  chosen so that the dropped weight ``gamma^T`` is below ``tail`` (stated in the result). Its
  gradient is ``E_rho_theta[phi] - Z E_q[phi]`` with ``q ∝ p_E exp(-r / beta)``, whose moments are
  the tilted Gaussians' moments weighted per term.
- :func:`trust_region_policy` (Lemma 3.1): ``log pi_old`` of a linear-Gaussian policy is a
  quadratic in ``z``, so ``r_eta = (r + eta log pi_old) / (1 + eta)`` is quadratic and its soft-optimal
  policy is again linear-Gaussian. :func:`corrected_reward` is Theorem 3.2's ``U_{eps/(1+eta)} r``.
- :func:`trirl_step`: the exact TRIRL iteration in feature space, with the discriminator's target
  replaced by the Gaussian log-ratio :func:`gaussian_log_ratio` (below).

What is **not** exact: the discriminator's target ``log(rho_E / rho_pi)`` is a log-ratio of two
discounted Gaussian mixtures, not a quadratic, so Eq. 2 leaves the quadratic class. The exact
feature-space iteration uses instead the log-ratio of the two occupancies' moment-matched
Gaussians (same mass, mean and covariance as ``rho_E`` and ``rho_pi``), which is quadratic and
equals the true log-ratio whenever both occupancies are Gaussian (e.g. both start in their
stationary distribution). The true log-ratio at given points is :func:`mixture_log_ratio` (the
mixture densities summed to ``gamma^T <= tail``, exact to that truncation); a logistic
discriminator's population optimum is estimated by Monte Carlo (:func:`sample_occupancy`, exact
samples, error ``O(1/sqrt(N))``).

The code is split by job, and this module is the one namespace that callers import
(``from trirl.continuous import lq``): :mod:`~trirl.continuous.lq_riccati` (the types, the features,
the soft Riccati fixed point), :mod:`~trirl.continuous.lq_moments` (occupancy moments, feature
expectations, KL divergences, exact samples), :mod:`~trirl.continuous.lq_dual` (the dual, Lemma 3.1,
Theorem 3.2, the exact iteration) and :mod:`~trirl.continuous.lq_instances` (random instances,
rewards up to shaping and scale).
"""

from __future__ import annotations

from trirl.continuous.lq_riccati import (
    LOG_2PI,
    NotSoftSolvableError,
    Quadratic,
    LinearGaussian,
    LQProblem,
    check_problem,
    feature_size,
    features,
    reward_from_theta,
    theta_from_reward,
    log_policy,
    SoftSolution,
    soft_optimal,
    soft_riccati_residual,
)
from trirl.continuous.lq_moments import (
    Moments,
    closed_loop,
    occupancy_moments,
    time_marginals,
    truncation_steps,
    feature_expectations,
    expected_reward,
    expected_kl,
    class_gap,
    rollout,
    sample_occupancy,
)
from trirl.continuous.lq_dual import (
    initial_value,
    DualValue,
    dual_feature_matching,
    dual,
    trust_region_reward,
    trust_region_policy,
    penalised_objective,
    function_space_update,
    corrected_reward,
    gaussian_log_ratio,
    mixture_log_density,
    mixture_log_ratio,
    TRIRLState,
    trirl_init,
    trirl_step,
    ExactTrace,
    exact_trace,
)
from trirl.continuous.lq_instances import (
    random_problem,
    cost_reward,
    shaping_basis,
    RewardDistance,
    reward_distance,
)

__all__ = [
    "LOG_2PI",
    "NotSoftSolvableError",
    "Quadratic",
    "LinearGaussian",
    "LQProblem",
    "check_problem",
    "feature_size",
    "features",
    "reward_from_theta",
    "theta_from_reward",
    "log_policy",
    "SoftSolution",
    "soft_optimal",
    "soft_riccati_residual",
    "Moments",
    "closed_loop",
    "occupancy_moments",
    "time_marginals",
    "truncation_steps",
    "feature_expectations",
    "expected_reward",
    "expected_kl",
    "class_gap",
    "rollout",
    "sample_occupancy",
    "initial_value",
    "DualValue",
    "dual_feature_matching",
    "dual",
    "trust_region_reward",
    "trust_region_policy",
    "penalised_objective",
    "function_space_update",
    "corrected_reward",
    "gaussian_log_ratio",
    "mixture_log_density",
    "mixture_log_ratio",
    "TRIRLState",
    "trirl_init",
    "trirl_step",
    "ExactTrace",
    "exact_trace",
    "random_problem",
    "cost_reward",
    "shaping_basis",
    "RewardDistance",
    "reward_distance",
]
