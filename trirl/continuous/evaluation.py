"""Evaluating a policy, or the uniform random policy, by full-episode returns.

``normalized_return`` is the score of the paper's Table 8:
``(R - R_random) / (R_expert - R_random)``; :data:`PAPER_TABLE8` holds that table's expert and
random returns of the locomotion suite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from trirl.continuous import networks as nets
from trirl.continuous.envs.base import Env, EnvState

ActFn = Callable[[jax.Array, jax.Array], jax.Array]  #: (obs [obs], key) -> action [A] in [-1, 1]
#: the paper's Table 8 (its Gymnasium environments): env -> (expert return, uniform random return)
PAPER_TABLE8 = {
    "half_cheetah": (5050.39, -310.55), "half_cheetah_windy": (4841.05, -369.77),
    "half_cheetah_mars": (4100.14, -418.77), "ant": (5390.62, 94.43), "ant_disabled": (4377.28, 76.59),
    "walker2d": (5480.83, 37.53), "hopper": (3531.76, 24.56), "humanoid": (7404.87, 236.45),
}


def policy_act_fn(networks: nets.Networks, policy: nets.PolicyParams, normalizer: nets.NormalizerState,
                  deterministic: bool = True) -> ActFn:
    """The Gaussian policy as an act function: its mean, or a sample, clipped to ``[-1, 1]``."""

    def act(obs, key):
        mean, log_std = nets.policy_distribution(networks, policy, normalizer, obs)
        action = mean if deterministic else nets.sample_action(mean, log_std, key)
        return jnp.clip(action, -1.0, 1.0)

    return act


def random_act_fn(action_size: int) -> ActFn:
    """The random policy of Table 8: uniform actions in ``[-1, 1]^A``."""

    def act(obs, key):
        del obs
        return jax.random.uniform(key, (action_size,), minval=-1.0, maxval=1.0)

    return act


def run_episode(env: Env, act: ActFn, key: jax.Array, length: int):
    """One episode of at most ``length`` steps in a *non*-auto-reset env, frozen after it ends.

    Returns ``(states, actions, alive)`` stacked over time (``[length, ...]``): ``states[t]`` is
    the state after action ``t``, ``alive[t]`` says whether step ``t`` belonged to the episode.
    """
    reset_key, act_key = jax.random.split(key)

    def env_step(state: EnvState, step_key):
        alive = jnp.logical_not(state.done)
        action = act(state.obs, step_key)
        next_state = env.step(state, action)
        next_state = jax.tree_util.tree_map(lambda new, old: jnp.where(alive, new, old), next_state, state)
        return next_state, (next_state, state.obs, action, alive)

    _, (states, obs, actions, alive) = jax.lax.scan(env_step, env.reset(reset_key), jax.random.split(act_key, length))
    return states, obs, actions, alive


class EpisodeOutcomes(NamedTuple):
    """How full episodes went (each leaf ``[E]``)."""

    returns: jax.Array  #: undiscounted return
    lengths: jax.Array  #: int32, steps taken (the time limit unless the episode ended earlier)
    absorbing: jax.Array  #: bool, ended in an absorbing state: a fall (unhealthy) or broken physics
    broken_physics: jax.Array  #: bool, ended by non-finite or diverged physics (``envs/base.py``)


def episode_outcomes(env: Env, act: ActFn, key: jax.Array, num_episodes: int) -> EpisodeOutcomes:
    """Returns, lengths and ends of ``num_episodes`` full episodes (time limit ``env.spec.episode_length``)."""

    def one(episode_key):
        states, _, _, alive = run_episode(env, act, episode_key, env.spec.episode_length)
        broken = states.metrics.get("non_finite", jnp.zeros_like(states.reward)) > 0
        return EpisodeOutcomes(jnp.sum(jnp.where(alive, states.reward, 0.0)), alive.sum().astype(jnp.int32),
                               jnp.any(alive & states.absorbing), jnp.any(alive & broken))

    return jax.vmap(one)(jax.random.split(key, num_episodes))


def episode_returns(env: Env, act: ActFn, key: jax.Array, num_episodes: int) -> jax.Array:
    """Undiscounted returns ``[num_episodes]`` of full episodes (time limit ``env.spec.episode_length``)."""
    return episode_outcomes(env, act, key, num_episodes).returns


def normalized_return(episode_return, expert_return, random_return):
    """Table 8's score: 0 for the random policy, 1 for the expert."""
    return (episode_return - random_return) / (expert_return - random_return)
