"""The exact tabular engine: MDPs, soft value and policy iteration, occupancies, objectives,
TRIRL and its relatives, all in float64 numpy/scipy with no sampling noise."""

from trirl.tabular.mdp import MDP

__all__ = ["MDP"]
