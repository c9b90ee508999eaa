"""Evaluating a policy, or the uniform random policy, by full-episode returns.

``normalized_return`` is the score of the paper's Table 8:
``(R - R_random) / (R_expert - R_random)``; :data:`PAPER_TABLE8` holds that table's expert and
random returns of the locomotion suite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trirl.continuous import networks as nets
from trirl.continuous.envs.base import Env, EnvState
from trirl.errors import InvalidConfigError
from trirl.rundir import read_json
from trirl.text import plural

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


def _outcome_fields(prefix: str, outcomes) -> dict:
    returns, lengths = np.asarray(outcomes.returns, np.float64), np.asarray(outcomes.lengths)
    broken = int(np.asarray(outcomes.broken_physics).sum())
    return {f"{prefix}_return": float(returns.mean()), f"{prefix}_return_std": float(returns.std()),
            f"{prefix}_return_min": float(returns.min()), f"{prefix}_return_max": float(returns.max()),
            f"{prefix}_length_mean": float(lengths.mean()), f"{prefix}_length_min": int(lengths.min()),
            f"{prefix}_length_max": int(lengths.max()),
            f"{prefix}_falls": int(np.asarray(outcomes.absorbing).sum()) - broken,
            f"{prefix}_broken_physics": broken}


def expert_and_random_returns(config, ppo, state, key, episodes: int) -> dict:
    """The expert's (deterministic) and the uniform random policy's episodes, summarised
    (``config``: the expert's :class:`~trirl.continuous.expert.ExpertConfig`, ``ppo`` and ``state``
    its :class:`~trirl.continuous.ppo.PPO` and state).

    Returns a JSON-ready dict: ``env``, ``version``, ``episodes``, ``episode_length``; for
    ``expert`` and ``random``: ``<who>_return`` (mean), ``_return_std``, ``_return_min``,
    ``_return_max``, ``_length_mean``, ``_length_min``, ``_length_max``, ``_falls`` (episodes that
    ended absorbing: unhealthy, paper C.4) and ``_broken_physics`` (ended by non-finite or diverged
    physics, ``envs/base.py``); for the suite's tasks also the paper's Table 8 returns
    (``paper_expert_return``, ``paper_random_return``) and this expert's score on their scale,
    ``paper_normalized_return`` = ``(R - R_random) / (R_expert - R_random)`` with the paper's two.
    """
    from trirl.continuous import envs

    env = envs.make(config.env, config.env_options)
    expert_key, random_key = jax.random.split(key)
    act = policy_act_fn(ppo.networks, state.params.policy, state.normalizer)
    expert = jax.jit(lambda k: episode_outcomes(env, act, k, episodes))(expert_key)
    random = jax.jit(lambda k: episode_outcomes(env, random_act_fn(env.action_size), k, episodes))(random_key)
    result = {"env": config.env, "version": env.spec.version, "episodes": episodes,
              "episode_length": env.spec.episode_length,
              **_outcome_fields("expert", expert), **_outcome_fields("random", random)}
    if config.env in PAPER_TABLE8:
        paper_expert, paper_random = PAPER_TABLE8[config.env]
        result.update(paper_expert_return=paper_expert, paper_random_return=paper_random,
                      paper_normalized_return=float(normalized_return(result["expert_return"], paper_expert, paper_random)))
    return result


def summary(result: Mapping[str, Any]) -> str:
    """``trirl expert evaluate``'s report of :func:`expert_and_random_returns`, as lines of text."""
    lines = [f"{result['env']} (version {result['version']}): {plural(result['episodes'], 'episode')} of at most "
             f"{plural(result['episode_length'], 'step')} each"]
    for who, name in (("expert", "expert (deterministic)"), ("random", "uniform random")):
        get = lambda field: result[f"{who}_{field}"]  # noqa: E731
        ends = f"{get('falls')} of {result['episodes']} ended by a fall (absorbing)"
        if get("broken_physics"):
            ends += f", {get('broken_physics')} by non-finite or diverged physics (the env's max_qvel)"
        lines.append(f"  {name:<22} return {get('return'):10.1f} +- {get('return_std'):.1f} "
                     f"(min {get('return_min'):.1f}, max {get('return_max'):.1f}); length {get('length_mean'):.1f} "
                     f"(min {get('length_min')}, max {get('length_max')}); {ends}")
    if "paper_normalized_return" in result:
        note = "" if result["version"] == 2 else " (version 1 is not the paper's environment: not comparable)"
        lines.append(f"  expert-normalised: {result['paper_normalized_return']:.2f} of the paper's expert "
                     f"(Table 8: expert {result['paper_expert_return']:.1f}, random {result['paper_random_return']:.1f};"
                     f" (R - R_random) / (R_expert - R_random)){note}")
    return "\n".join(lines)


def load_expert_returns(path: str | Path) -> tuple[float, float] | None:
    """``(expert_return, random_return)`` from a ``returns.json``, or None if it does not exist."""
    path = Path(path)
    if not path.exists():
        return None
    expected = "a JSON object with numbers expert_return and random_return (trirl expert evaluate --out)"
    data = read_json(path, expected)
    try:
        expert, random = float(data["expert_return"]), float(data["random_return"])
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidConfigError(f"expert_returns {path}: needs numbers expert_return and random_return ({err!r})") from None
    if not (math.isfinite(expert) and math.isfinite(random) and expert != random):
        raise InvalidConfigError(f"expert_returns {path}: expert_return {expert} and random_return {random} must be finite and differ")
    return expert, random
