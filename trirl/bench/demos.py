"""Data scaling: how many demonstrations each tabular IRL method needs (the tabular analogue of
the paper's Fig. 10).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# FrozenLake's +1 at the goal is small against the entropy (log 4 per step for ~50 steps): the
# soft-optimal policy of the raw reward is nearly uniform (discounted return 0.0012 against the
# uniform policy's 0.0011). Scaled by 300 it returns 0.369, 89 % of the optimal 0.415.
FROZEN_LAKE_REWARD_SCALE = 300.0


class World(NamedTuple):
    """What the study and :func:`trirl.tabular.compare.normalised_return` need of a world."""

    name: str
    mdp: object
    reward: np.ndarray


def frozen_lake(gym, discount: float = 0.99) -> World:
    """Gymnasium's FrozenLake 8x8, slippery, as an exact MDP; the expert's reward is its +1 at the
    goal times :data:`FROZEN_LAKE_REWARD_SCALE`."""
    from trirl.tabular.gym import from_gymnasium

    converted = from_gymnasium(gym.make("FrozenLake-v1", map_name="8x8", is_slippery=True), discount=discount)
    return World("frozen_lake_8x8", converted.mdp, converted.reward * FROZEN_LAKE_REWARD_SCALE)
