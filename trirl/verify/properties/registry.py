"""The registry shared by tests and ``trirl verify``: each property's check, strategy, tolerance
and claim, in one place (:data:`PROPERTIES`, :data:`BY_NAME`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from hypothesis import strategies as st

from trirl.verify import strategies as vs
from trirl.verify.properties.duality import (
    DUAL_GRADIENT_TOLERANCE,
    check_descent_direction,
    check_dual_gradient,
    check_weak_duality,
)
from trirl.verify.properties.dynamic_programming import (
    check_occupancy_flow,
    check_reward_offset_invariance,
    check_shaping_invariance,
    check_soft_optimal_dominates,
    check_soft_pi_agrees_with_vi,
    check_soft_vi_fixed_point,
)
from trirl.verify.properties.monotone import (
    DEFAULT_BUDGET,
    DEFAULT_REVERSE_KL,
    check_defaults_on_random_mdp,
    check_defaults_on_user_world,
    MONOTONE_DUAL_NU,
    MONOTONE_KL_NU,
    MONOTONE_KL_TOLERANCE,
    check_monotone_dual,
    check_monotone_reverse_kl,
    resolvable_expert,
)
from trirl.verify.properties.trust_region import check_lemma_3_1, check_lemma_3_1_constrained, check_theorem_3_2


class Property(NamedTuple):
    """A property: ``check(*example)`` returns the violation for an example drawn from ``strategy``."""

    name: str
    check: Callable[..., float]
    strategy: Callable[[], st.SearchStrategy[Any]]
    tolerance: float
    claim: str

    def violation(self, example) -> float:
        return float(self.check(*example))


def _monotone_cases(max_nu: float):
    """The monotone claims' domain: steps of normalised size ``nu <= max_nu`` and a resolvable expert."""
    return vs.stepped_cases(max_nu=max_nu).filter(resolvable_expert).map(lambda c: (c,))

PROPERTIES: tuple[Property, ...] = (
    Property("occupancy_flow", check_occupancy_flow, vs.mdp_policy, 1e-9,
             "rho satisfies the Bellman flow constraints, rho = pi d, mass 1/(1-gamma)"),
    Property("soft_vi_fixed_point", check_soft_vi_fixed_point, vs.mdp_reward, 1e-8,
             "soft VI returns the soft Bellman fixed point"),
    Property("soft_pi_agrees_with_vi", check_soft_pi_agrees_with_vi, vs.mdp_reward, 1e-8,
             "soft PI and soft VI agree"),
    Property("soft_optimal_dominates", check_soft_optimal_dominates, vs.mdp_reward_policy, 1e-9,
             "no policy has a higher entropy-regularised value than the soft-optimal one"),
    Property("shaping_invariance", check_shaping_invariance, vs.mdp_reward_potential, 1e-8,
             "potential shaping leaves the soft-optimal policy unchanged"),
    Property("reward_offset_invariance", check_reward_offset_invariance, vs.mdp_reward_offset, 1e-8,
             "adding a constant (up to 1e8) to the reward leaves the soft-optimal policy unchanged"),
    Property("weak_duality", check_weak_duality, vs.irl_case_policy, 1e-9,
             "dual G(r) >= primal(pi) for every r and pi"),
    Property("dual_gradient", check_dual_gradient, vs.irl_case_seed, DUAL_GRADIENT_TOLERANCE,
             "dual_gradient matches central finite differences of G"),
    Property("descent_direction", check_descent_direction, lambda: vs.irl_cases().map(lambda c: (c,)), 1e-7,
             "<dG/dr, U_eps r - r> = -eps beta Z (KL + KL) <= 0"),
    Property("lemma_3_1", check_lemma_3_1, lambda: vs.irl_cases().map(lambda c: (c,)), 1e-6,
             "soft-optimal policy of r_eta maximises the KL-penalised objective (L-BFGS, gradient)"),
    Property("lemma_3_1_constrained", check_lemma_3_1_constrained,
             lambda: vs.irl_case_kl_bound(max_states=6, max_discount=0.95, max_scale=10.0), 1e-6,
             "solve_eta's eta makes the KL tight and its policy is the SLSQP constrained optimum"),
    Property("theorem_3_2", check_theorem_3_2, lambda: vs.irl_cases().map(lambda c: (c,)), 1e-8,
             "trust-region policy of U_eps r = MCE policy of U_{eps/(1+eta)} r"),
    Property("monotone_dual", check_monotone_dual,
             lambda: _monotone_cases(MONOTONE_DUAL_NU), 1e-8,
             f"dual non-increasing along exact TRIRL for nu = eps_tr + alpha lambda_max(J) <= {MONOTONE_DUAL_NU}"),
    Property("monotone_reverse_kl", check_monotone_reverse_kl,
             lambda: _monotone_cases(MONOTONE_KL_NU), MONOTONE_KL_TOLERANCE,
             f"reverse KL along exact TRIRL rises by at most its finite-beta limit KL_inf (0 as beta -> inf) for nu <= {MONOTONE_KL_NU}"),
    Property("defaults_on_user_worlds", check_defaults_on_user_world, lambda: vs.user_worlds().map(lambda w: (w,)), 1e-9,
             f"TRIRL's defaults (safeguarded step) never raise the dual and reach reverse KL {DEFAULT_REVERSE_KL:g} within "
             f"{DEFAULT_BUDGET} iterations on grid worlds written in the documented format"),
    Property("defaults_on_random_mdps", check_defaults_on_random_mdp, lambda: vs.irl_cases().map(lambda c: (c,)), 1e-9,
             f"TRIRL's defaults (safeguarded step) never raise the dual and reach reverse KL {DEFAULT_REVERSE_KL:g} within "
             f"{DEFAULT_BUDGET} iterations on random MDPs"),
)

BY_NAME = {p.name: p for p in PROPERTIES}
