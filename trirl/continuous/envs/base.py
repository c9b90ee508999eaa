"""The environment interface: pure ``reset`` / ``step`` functions and an auto-reset wrapper.

An :class:`Env` is a NamedTuple of a :class:`EnvSpec` and two pure functions on **one unbatched
environment**; callers ``jax.vmap`` them over a batch, as brax and MuJoCo Playground users expect::

    env = auto_reset(point_maze.make(PointMazeConfig()))
    state = jax.vmap(env.reset)(jax.random.split(key, num_envs))     # EnvState, leaves [B, ...]
    state = jax.vmap(env.step)(state, actions)                        # actions [B, action]

Episode ends are split as in the paper's Appendix C.4:

- ``absorbing``: the episode *terminated* (e.g. the Ant fell, is unhealthy). The next state is
  absorbing: no bootstrapping on the true reward, a learnt absorbing reward in IRL.
- ``truncated``: the time limit was hit. Not absorbing: the value of the true next observation
  is bootstrapped.
- ``done = absorbing | truncated``: the episode boundary (GAE does not propagate across it).

Non-finite physics (a NaN or infinity in the simulator state, the observation or the reward)
never reaches a learner: :func:`transition_state` ends the episode there as absorbing, whatever
the environment's options, with reward 0, the last finite observation as ``next_obs`` and
non-finite metrics zeroed, and counts it in ``metrics["non_finite"]`` (1 on that step), which
the learners report per rollout as ``non_finite_steps``.

After :func:`auto_reset`, a done environment is reset inside ``step`` (with a key carried in the
state, so no hidden randomness) and ``state.obs`` is already the first observation of the new
episode; the true next observation of the finished transition is kept in ``state.next_obs``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


@dataclass(frozen=True)
class EnvSpec:
    """What a demonstration file records about the environment that produced it."""

    name: str  #: registry name, e.g. ``"point_maze"``, ``"ant_disabled"``
    version: int  #: bumped whenever dynamics, observation layout or reward change
    observation_size: int  #: length of one observation vector
    action_size: int  #: length of one action vector; actions live in ``[-1, 1]^action_size``
    episode_length: int  #: time limit (truncation, not absorbing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "observation_size": self.observation_size,
            "action_size": self.action_size,
            "episode_length": self.episode_length,
        }


class EnvState(NamedTuple):
    """The state of one environment (leaves gain a leading ``[B]`` axis under vmap)."""

    physics: Any  #: env-specific pytree (a point position, an ``mjx.Data``)
    obs: jax.Array  #: [obs] observation the policy acts on now (first obs after an auto-reset)
    next_obs: jax.Array  #: [obs] true observation reached by the last step (before any reset)
    reward: jax.Array  #: [] true environment reward of the last step
    done: jax.Array  #: [] bool, ``absorbing | truncated``
    absorbing: jax.Array  #: [] bool, terminated (Appendix C.4: the next state is absorbing)
    truncated: jax.Array  #: [] bool, hit the time limit (not absorbing)
    time: jax.Array  #: [] int32, steps taken in the current episode
    episode_return: jax.Array  #: [] return of the running episode (after a reset: the finished one)
    key: jax.Array  #: PRNG key for the next reset
    metrics: dict[str, jax.Array]  #: per-step diagnostics: env-specific ones and ``non_finite`` (module doc)


class Env(NamedTuple):
    """An environment: a spec and pure functions of one unbatched state."""

    spec: EnvSpec
    reset: Callable[[jax.Array], EnvState]  #: key -> EnvState
    step: Callable[[EnvState, jax.Array], EnvState]  #: (state, action [A]) -> EnvState

    @property
    def observation_size(self) -> int:
        return self.spec.observation_size

    @property
    def action_size(self) -> int:
        return self.spec.action_size


def initial_state(physics, obs, key, metrics) -> EnvState:
    """The state right after a reset (shared by every environment's ``reset``)."""
    false = jnp.zeros((), dtype=bool)
    return EnvState(
        physics=physics,
        obs=obs,
        next_obs=obs,
        reward=jnp.zeros(()),
        done=false,
        absorbing=false,
        truncated=false,
        time=jnp.zeros((), jnp.int32),
        episode_return=jnp.zeros(()),
        key=key,
        metrics=dict(metrics, non_finite=jnp.zeros((), jnp.float32)),
    )


def transition_state(
    state: EnvState, physics, obs, reward, absorbing, metrics, episode_length: int, physics_finite=True
) -> EnvState:
    """The state after one step of a base environment, with the time limit applied.

    ``physics_finite`` (bool ``[]``) says whether the simulator state is usable: finite, and for
    the locomotion tasks also not blown up (``|qvel| <= max_qvel``, ``envs/locomotion.py``); its
    being False, a non-finite ``obs`` or a non-finite ``reward`` end the episode as absorbing with
    a finite reward (module docstring), so no environment ever emits a NaN or infinity.
    """
    time = state.time + 1
    finite = jnp.asarray(physics_finite, dtype=bool) & jnp.all(jnp.isfinite(obs)) & jnp.isfinite(reward)
    absorbing = jnp.asarray(absorbing, dtype=bool) | jnp.logical_not(finite)
    truncated = jnp.logical_and(time >= episode_length, jnp.logical_not(absorbing))
    reward = jnp.where(finite, reward, 0.0).astype(jnp.float32)
    obs = jnp.where(finite, obs, state.obs)
    metrics = {name: jnp.where(jnp.isfinite(value), value, 0.0).astype(jnp.result_type(value))
               for name, value in metrics.items()}
    return state._replace(
        physics=physics,
        obs=obs,
        next_obs=obs,
        reward=reward,
        done=jnp.logical_or(absorbing, truncated),
        absorbing=absorbing,
        truncated=truncated,
        time=time,
        episode_return=jnp.where(state.done, 0.0, state.episode_return) + reward,
        metrics=dict(metrics, non_finite=jnp.logical_not(finite).astype(jnp.float32)),
    )


def auto_reset(env: Env) -> Env:
    """Reset finished episodes inside ``step``; ``next_obs`` keeps the true next observation.

    The reset key is split from the state's own key, so the wrapped step stays a pure function.
    Under ``vmap`` both branches are evaluated (``jnp.where``), the usual price of resets in jit.
    """

    def step(state: EnvState, action: jax.Array) -> EnvState:
        after = env.step(state, action)
        key, reset_key = jax.random.split(after.key)
        fresh = env.reset(reset_key)

        def pick(fresh_leaf, after_leaf):
            return jnp.where(after.done, fresh_leaf, after_leaf)

        return after._replace(
            physics=jax.tree_util.tree_map(pick, fresh.physics, after.physics),
            obs=pick(fresh.obs, after.obs),
            time=jnp.where(after.done, 0, after.time),
            key=key,
        )

    return Env(spec=env.spec, reset=env.reset, step=step)
