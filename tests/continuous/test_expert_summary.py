"""``trirl expert evaluate``'s summary: episode outcomes counted on a hand-made env, the text it prints."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from trirl.continuous.envs.base import Env, EnvSpec, initial_state, transition_state  # noqa: E402
from trirl.continuous.evaluation import PAPER_TABLE8, episode_outcomes, episode_returns  # noqa: E402
from trirl.continuous.expert import summary  # noqa: E402

pytestmark = pytest.mark.continuous


def counting_env(fall_at: float, blow_up_at: float) -> Env:
    """Reward 1 per step; the episode falls (absorbing) at time ``fall_at`` when the action is
    positive and its physics turns NaN at ``blow_up_at`` when the action is below -0.5."""

    def reset(key):
        return initial_state(jnp.zeros(()), jnp.zeros(1), key, {})

    def step(state, action):
        time = state.time + 1
        fall = (action[0] > 0) & (time >= fall_at)
        physics = jnp.where((action[0] < -0.5) & (time >= blow_up_at), jnp.nan, state.physics + 1.0)
        return transition_state(state, physics, jnp.zeros(1), jnp.ones(()), fall, {}, 10, jnp.isfinite(physics))

    return Env(EnvSpec("counting", 1, 1, 1, 10), reset, step)


def test_outcomes_count_lengths_falls_and_broken_physics():
    env = counting_env(fall_at=3, blow_up_at=5)
    policies = {0.3: (3, 3.0, True, False), -0.2: (10, 10.0, False, False), -0.9: (5, 4.0, True, True)}
    for action, (length, total, absorbing, broken) in policies.items():
        out = episode_outcomes(env, lambda obs, key: jnp.full((1,), action), jax.random.PRNGKey(0), 2)
        assert out.lengths.tolist() == [length] * 2
        np.testing.assert_array_equal(out.returns, [total] * 2)  # the broken step earns 0
        assert out.absorbing.tolist() == [absorbing] * 2 and out.broken_physics.tolist() == [broken] * 2
        np.testing.assert_array_equal(episode_returns(env, lambda obs, key: jnp.full((1,), action),
                                                      jax.random.PRNGKey(0), 2), out.returns)


def result(**changes):
    base = {"env": "half_cheetah", "version": 2, "episodes": 30, "episode_length": 1000,
            "expert_return": 4113.64, "expert_return_std": 294.72, "expert_return_min": 3020.5,
            "expert_return_max": 4420.0, "expert_length_mean": 1000.0, "expert_length_min": 1000,
            "expert_length_max": 1000, "expert_falls": 0, "expert_broken_physics": 0,
            "random_return": -295.21, "random_return_std": 80.43, "random_return_min": -480.0,
            "random_return_max": -120.0, "random_length_mean": 1000.0, "random_length_min": 1000,
            "random_length_max": 1000, "random_falls": 0, "random_broken_physics": 0,
            "paper_expert_return": 5050.39, "paper_random_return": -310.55,
            "paper_normalized_return": (4113.64 + 310.55) / (5050.39 + 310.55)}
    return {**base, **changes}


def test_summary_prints_returns_lengths_ends_and_the_paper_normalised_score():
    lines = summary(result()).splitlines()
    assert lines[0] == "half_cheetah (version 2): 30 episodes of at most 1000 steps each"
    assert lines[1].split() == ("expert (deterministic) return 4113.6 +- 294.7 (min 3020.5, max 4420.0); "
                                "length 1000.0 (min 1000, max 1000); 0 of 30 ended by a fall (absorbing)").split()
    assert lines[2].split()[:7] == ["uniform", "random", "return", "-295.2", "+-", "80.4", "(min"]
    assert lines[3].startswith("  expert-normalised: 0.83 of the paper's expert (Table 8: expert 5050.4, random -310.6;")
    assert "not comparable" not in lines[3] and "physics" not in "".join(lines)


def test_summary_names_falls_broken_physics_and_version_1():
    text = summary(result(env="ant", version=1, expert_falls=3, expert_broken_physics=2, expert_length_min=212,
                          paper_expert_return=PAPER_TABLE8["ant"][0], paper_random_return=PAPER_TABLE8["ant"][1],
                          paper_normalized_return=0.46))
    assert "ant (version 1)" in text and "(min 212, max 1000)" in text
    assert "3 of 30 ended by a fall (absorbing), 2 by non-finite or diverged physics (the env's max_qvel)" in text
    assert "version 1 is not the paper's environment: not comparable" in text
    assert "expert-normalised" not in summary({k: v for k, v in result(env="point_maze").items() if not k.startswith("paper")})
