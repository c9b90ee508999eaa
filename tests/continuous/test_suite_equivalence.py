"""trirl's MJX tasks (version 2) against Gymnasium v5's C MuJoCo environments: from the same
state, the same actions give the same observations and rewards over k steps, to a tolerance that
grows with k (MJX is float32 and contacts are chaotic; envs/equivalence.py measures it for every
task and MJX setting in continuous/results/suite_equivalence_cpu.json). Slow: each task compiles
its MJX step."""

import pytest

pytest.importorskip("jax")
pytest.importorskip("mujoco.mjx")
pytest.importorskip("gymnasium")
pytest.importorskip("imageio")  # gymnasium[mujoco]

from trirl.continuous.envs.equivalence import k_step_errors, paired_rollouts  # noqa: E402
from trirl.continuous.envs.locomotion import LocomotionConfig  # noqa: E402

pytestmark = [pytest.mark.continuous, pytest.mark.slow]

# task: (largest observation error after 1 step, after 5 steps, largest reward error after 1 step)
TOLERANCES = {
    "half_cheetah_windy": (1e-4, 1e-2, 1e-4),
    "hopper": (1e-4, 1e-2, 1e-4),
    "ant_disabled": (1e-3, 5e-2, 1e-2),
}


@pytest.mark.parametrize("task", sorted(TOLERANCES))
def test_same_state_and_actions_give_gymnasiums_next_states(task):
    one_step, five_steps, reward = TOLERANCES[task]
    errors = k_step_errors(paired_rollouts(LocomotionConfig(robot=task, version=2), episodes=3, length=5), ks=(1, 5))
    assert errors["episodes_alive"][0] == 3
    assert errors["obs_error_max"][0] < one_step, errors
    assert errors["obs_error_max"][1] < five_steps, errors
    assert errors["reward_error_max"][0] < reward, errors
