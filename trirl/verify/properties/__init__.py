"""The properties the exact engine and the TRIRL theory must satisfy, as violation measures.

Each ``check_*`` function states one claim (with its domain) in its docstring and returns the
size of the violation: ``0`` (or rounding) when the claim holds, a positive number that grows
with the error otherwise. Tests (``tests/tabular/test_properties.py``) and ``trirl verify`` both call
these functions and compare with the tolerance in :data:`PROPERTIES` (one copy).

The engine is reached through module attributes (``core.corrected_step``,
``occ.state_occupancy``, ...) so that a test can swap in a deliberately broken piece and see
the property fail (``tests/tabular/test_properties_catch_bugs.py``). The independent side of every
comparison lives in :mod:`trirl.verify.reference`.

Notation: ``Z = 1 / (1 - gamma)``; "scale" of a value function is ``max(1, ||V||_inf)``.

One module per group of claims:

- :mod:`~trirl.verify.properties.dynamic_programming`: occupancies and soft dynamic programming;
- :mod:`~trirl.verify.properties.duality`: Eq. 1's dual, its gradient, the Eq. 2 descent direction;
- :mod:`~trirl.verify.properties.trust_region`: Lemma 3.1 and Theorem 3.2;
- :mod:`~trirl.verify.properties.monotone`: monotonic improvement along exact TRIRL iterations;
- :mod:`~trirl.verify.properties.registry`: :data:`PROPERTIES` (check, strategy, tolerance, claim);
- :mod:`~trirl.verify.properties.measures`: the helpers they share.
"""

from trirl.tabular.analysis import effective_step, jacobian_lambda_max
from trirl.verify.properties.duality import (
    DUAL_GRADIENT_DIRECTIONS,
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
from trirl.verify.properties.measures import EPS
from trirl.verify.properties.monotone import (
    DEFAULT_BUDGET,
    DEFAULT_REVERSE_KL,
    check_defaults_on_random_mdp,
    check_defaults_on_user_world,
    check_defaults_reach_the_expert,
    MIN_EXPERT_PROBABILITY,
    MONOTONE_DUAL_NU,
    MONOTONE_ITERATIONS,
    MONOTONE_KL_NU,
    MONOTONE_KL_TOLERANCE,
    Trace,
    check_monotone_dual,
    check_monotone_reverse_kl,
    eq1_reverse_kl,
    increase,
    resolvable_expert,
    trirl_trace,
)
from trirl.verify.properties.registry import BY_NAME, PROPERTIES, Property
from trirl.verify.properties.trust_region import check_lemma_3_1, check_lemma_3_1_constrained, check_theorem_3_2

__all__ = [
    "BY_NAME",
    "DEFAULT_BUDGET",
    "DEFAULT_REVERSE_KL",
    "DUAL_GRADIENT_DIRECTIONS",
    "DUAL_GRADIENT_TOLERANCE",
    "EPS",
    "MIN_EXPERT_PROBABILITY",
    "MONOTONE_DUAL_NU",
    "MONOTONE_ITERATIONS",
    "MONOTONE_KL_NU",
    "MONOTONE_KL_TOLERANCE",
    "PROPERTIES",
    "Property",
    "Trace",
    "check_defaults_on_random_mdp",
    "check_defaults_on_user_world",
    "check_defaults_reach_the_expert",
    "check_descent_direction",
    "check_dual_gradient",
    "check_lemma_3_1",
    "check_lemma_3_1_constrained",
    "check_monotone_dual",
    "check_monotone_reverse_kl",
    "check_occupancy_flow",
    "check_reward_offset_invariance",
    "check_shaping_invariance",
    "check_soft_optimal_dominates",
    "check_soft_pi_agrees_with_vi",
    "check_soft_vi_fixed_point",
    "check_theorem_3_2",
    "check_weak_duality",
    "effective_step",
    "eq1_reverse_kl",
    "increase",
    "jacobian_lambda_max",
    "resolvable_expert",
    "trirl_trace",
]
