"""Collecting ``[T, B]`` transitions from a batch of auto-reset environments.

The :class:`Transition` is what every learner consumes: PPO on the true reward, and the TRIRL /
GAIL learners, which relabel ``reward`` with a learnt ``reward_fn`` and feed
``(obs, action, next_obs, absorbing)`` to a discriminator (paper C.4).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from trirl.continuous import networks as nets
from trirl.continuous.envs.base import Env, EnvState


class Transition(NamedTuple):
    """One environment step; leaves are ``[T, B, ...]`` after :func:`rollout`."""

    obs: jax.Array  #: [obs] observation the action was taken in (raw, unnormalised)
    action: jax.Array  #: [A] raw Gaussian sample; the environment executes ``clip(action, -1, 1)``
    reward: jax.Array  #: [] true environment reward
    next_obs: jax.Array  #: [obs] true next observation (also on truncation, before the auto-reset)
    done: jax.Array  #: [] bool, episode boundary (absorbing | truncated)
    absorbing: jax.Array  #: [] bool, terminated: next state is absorbing (no bootstrap)
    truncated: jax.Array  #: [] bool, time limit (bootstrap from ``next_obs``)
    log_prob: jax.Array  #: [] log pi_old(action | obs) at collection time
    value: jax.Array  #: [] V_old(obs) at collection time


class Rollout(NamedTuple):
    transitions: Transition  #: [T, B]
    episode_return: jax.Array  #: [T, B] return of the episode that ended at t (valid where done)
    non_finite: jax.Array  #: [T, B] 1 where the step met non-finite physics and ended the episode (envs/base.py)


def env_reward(reward_params, transitions: Transition) -> jax.Array:
    """The default ``reward_fn``: the environment's own reward (``reward_params`` is unused)."""
    del reward_params
    return transitions.reward


def rollout(
    env: Env,
    networks: nets.Networks,
    params: nets.ActorCriticParams,
    normalizer: nets.NormalizerState,
    env_state: EnvState,
    key: jax.Array,
    num_steps: int,
    distribution=None,
) -> tuple[EnvState, Rollout]:
    """Act ``num_steps`` times in the batch ``env_state`` (leaves ``[B, ...]``) with the policy.

    ``env`` must be wrapped with :func:`~trirl.continuous.envs.base.auto_reset`.
    ``distribution(obs [O]) -> (mean [A], log_std [A])`` replaces the policy network's Gaussian
    (TRIRL acts with the trust-region projection of the network); the critic is ``params.value``.
    """
    if distribution is None:
        def distribution(obs):
            return nets.policy_distribution(networks, params.policy, normalizer, obs)

    def act(obs, step_key):
        mean, log_std = distribution(obs)
        action = nets.sample_action(mean, log_std, step_key)
        return action, nets.gaussian_log_prob(mean, log_std, action), nets.value(networks, params.value, normalizer, obs)

    def collect_step(state: EnvState, step_key):
        keys = jax.random.split(step_key, state.obs.shape[0])
        action, log_prob, value = jax.vmap(act)(state.obs, keys)
        next_state = jax.vmap(env.step)(state, jnp.clip(action, -1.0, 1.0))
        transition = Transition(
            obs=state.obs,
            action=action,
            reward=next_state.reward,
            next_obs=next_state.next_obs,
            done=next_state.done,
            absorbing=next_state.absorbing,
            truncated=next_state.truncated,
            log_prob=log_prob,
            value=value,
        )
        non_finite = next_state.metrics.get("non_finite", jnp.zeros_like(next_state.reward))
        return next_state, (transition, next_state.episode_return, non_finite)

    env_state, (transitions, returns, non_finite) = jax.lax.scan(
        collect_step, env_state, jax.random.split(key, num_steps)
    )
    return env_state, Rollout(transitions, returns, non_finite)


#: :func:`episode_metrics`' mean return is NaN where no episode finished (its count is 0): the
#: driver's ``may_be_nan`` (:func:`trirl.driver.check_finite`)
MAY_BE_NAN = {"episode_return": "episodes"}


def episode_metrics(batch: Rollout) -> dict[str, jax.Array]:
    """Mean return of the episodes finished in the rollout (NaN when none finished), their count,
    and ``non_finite_steps``: how many of them non-finite physics ended (envs/base.py)."""
    done = batch.transitions.done.astype(jnp.float32)
    count = done.sum()
    mean_return = jnp.where(count > 0, (batch.episode_return * done).sum() / jnp.maximum(count, 1.0), jnp.nan)
    return {"episode_return": mean_return, "episodes": count, "non_finite_steps": batch.non_finite.sum()}
