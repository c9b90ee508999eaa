"""The exact tabular engine: MDPs, soft value and policy iteration, occupancies, objectives,
TRIRL and its relatives, all in float64 numpy/scipy with no sampling noise."""

from trirl.tabular import gridworld
from trirl.tabular.algorithms.airl import AIRLConfig, airl, make_airl
from trirl.tabular.algorithms.gail import GAILConfig, gail, make_gail
from trirl.tabular.algorithms.mce_irl import MCEIRLConfig, make_mce_irl, mce_irl
from trirl.tabular.algorithms.ml_irl import MLIRLConfig, make_ml_irl, ml_irl
from trirl.tabular.algorithms.piro import PIROConfig, make_piro, piro
from trirl.tabular.algorithms.registry import ALGORITHMS, Algorithm
from trirl.tabular.algorithms.trirl import (
    TRIRLConfig,
    TRIRLState,
    TrustRegionStep,
    make_trirl,
    solve_eta,
    trirl,
    trust_region_step,
)
from trirl.tabular.demo_files import load_trajectories, save_trajectories
from trirl.tabular.demos import Trajectories, empirical_occupancy, sample_trajectories
from trirl.tabular.driver import Learner, NonFiniteError, Result
from trirl.tabular.examples import random_mdp, slippery_grid
from trirl.tabular.gridworld import GridSpec, GridWorld, Wind, from_cells, open_grid
from trirl.tabular.gym import GymMDP, from_gymnasium
from trirl.tabular.mdp import MDP
from trirl.tabular.objectives import (
    dual,
    dual_gradient,
    log_ratio,
    policy_kl,
    primal,
    reverse_kl,
)
from trirl.tabular.rewards import RewardClass, make_reward_class
from trirl.tabular.occupancies import expert_occupancy, log_occupancy, occupancy, state_occupancy
from trirl.tabular.soft import (
    SoftSolution,
    soft_bellman_backup,
    soft_greedy,
    soft_policy_evaluation,
    soft_policy_iteration,
    soft_value_iteration,
    solve,
)

__all__ = [
    "ALGORITHMS",
    "AIRLConfig",
    "Algorithm",
    "GAILConfig",
    "MCEIRLConfig",
    "MLIRLConfig",
    "PIROConfig",
    "RewardClass",
    "airl",
    "gail",
    "make_airl",
    "make_gail",
    "make_mce_irl",
    "make_ml_irl",
    "make_piro",
    "make_reward_class",
    "mce_irl",
    "ml_irl",
    "piro",
    "MDP",
    "GridSpec",
    "GridWorld",
    "GymMDP",
    "Wind",
    "from_cells",
    "from_gymnasium",
    "gridworld",
    "open_grid",
    "Learner",
    "NonFiniteError",
    "Result",
    "SoftSolution",
    "TRIRLConfig",
    "TRIRLState",
    "TrustRegionStep",
    "Trajectories",
    "dual",
    "dual_gradient",
    "empirical_occupancy",
    "expert_occupancy",
    "load_trajectories",
    "save_trajectories",
    "log_occupancy",
    "log_ratio",
    "make_trirl",
    "occupancy",
    "policy_kl",
    "primal",
    "reverse_kl",
    "random_mdp",
    "sample_trajectories",
    "trust_region_step",
    "slippery_grid",
    "soft_bellman_backup",
    "soft_greedy",
    "soft_policy_evaluation",
    "soft_policy_iteration",
    "soft_value_iteration",
    "solve",
    "solve_eta",
    "state_occupancy",
    "trirl",
]
