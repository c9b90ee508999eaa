"""Proximal policy optimisation (Schulman et al., 2017) in the two pieces every continuous
learner shares: :func:`collect` and :func:`improve`.

A training iteration of PPO, TRIRL, GAIL, AIRL or AMP reads, in its learner's ``step``::

    acted, collected = collect(ppo, state, rollout_key)            # [T, B] transitions
    rewards, r_absorbing = ...                                     # the learner's own part
    state, improved = improve(ppo, acted, collected, rewards, r_absorbing, update_key, loss)

1. :func:`collect` rolls the policy out for ``[T, B]`` steps
   (:func:`~trirl.continuous.rollout.rollout`; TRIRL may act with a projected policy);
2. the learner computes the rewards ``[T, B]`` and the reward ``r(s_a)`` of the absorbing state
   (PPO alone: the environment's, or a frozen learnt reward; an IRL learner updates its
   discriminator first);
3. :func:`improve` runs GAE with the absorbing bootstrap (paper C.4: ``V(s_a) = 0`` for the
   environment reward, :func:`absorbing_value` ``= gamma / (1 - gamma) r(s_a)`` for a learnt one),
   takes ``num_epochs`` passes of ``num_minibatches`` steps on a policy loss (:func:`update`;
   default :func:`ppo_loss`, TRIRL passes its TRPL-projected or KL-penalised loss), measures the
   KL between the new and the rollout policy on the batch and lets the observation normaliser
   absorb the rollout (after the update, so that the ratio ``pi / pi_old`` starts at exactly 1).

PPO itself (:func:`make_ppo`) is ``step(state, key, reward_params) -> (state, metrics)`` with a
pluggable ``reward_fn``; ``jax.vmap(step)`` over a batch of states and keys trains several seeds
at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from trirl.configflags import check_fields
from trirl.continuous import networks as nets
from trirl.continuous.envs.base import Env, EnvState, auto_reset
from trirl.continuous.gae import gae
from trirl.continuous.rollout import Rollout, Transition, env_reward, episode_metrics, rollout
from trirl.errors import InvalidConfigError

RewardFn = Callable[[Any, Transition], jax.Array]
#: (params, minibatch) -> (loss [], metrics)
PolicyLoss = Callable[[Any, "Batch"], tuple[jax.Array, dict[str, jax.Array]]]
AbsorbingRewardFn = Callable[[Any], jax.Array]  #: reward_params -> r(s_a) []


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters (defaults follow the paper's C.5 where it gives them)."""

    num_envs: int = 64  #: parallel environments B
    rollout_length: int = 16  #: steps T per environment and iteration (paper: 10)
    num_epochs: int = 4  #: passes over the batch per iteration
    num_minibatches: int = 4  #: minibatches per epoch; minibatch size = T * B / num_minibatches
    learning_rate: float = 3e-4  #: Adam step size of policy and critic
    gamma: float = 0.99  #: discount
    gae_lambda: float = 0.95  #: GAE lambda
    clip_eps: float = 0.2  #: PPO ratio clipping
    value_coef: float = 0.5  #: weight of the critic's squared error
    entropy_coef: float = 0.0  #: weight of the policy entropy bonus (1 / beta in TRIRL)
    max_grad_norm: float = 1.0  #: global gradient-norm clipping
    policy_hidden: tuple[int, ...] = (256, 256, 256)  #: tanh MLP widths of the policy mean
    value_hidden: tuple[int, ...] = (256, 256, 256)  #: tanh MLP widths of the critic
    init_log_std: float = -0.5  #: initial state-independent log standard deviation
    normalize_advantages: bool = True  #: standardise advantages per minibatch
    normalize_observations: bool = True  #: keep running observation statistics

    #: ranges of the fields (:func:`trirl.configflags.check_fields` adds the types: integers,
    #: finite numbers, widths); a width of 0 would make a network ignore its input
    BOUNDS: ClassVar[dict[str, str]] = {
        "num_envs": ">= 1", "rollout_length": ">= 1", "num_epochs": ">= 1", "num_minibatches": ">= 1",
        "learning_rate": "> 0", "gamma": "[0, 1)", "gae_lambda": "[0, 1]", "clip_eps": "> 0", "value_coef": ">= 0",
        "entropy_coef": ">= 0", "max_grad_norm": "> 0", "policy_hidden": ">= 1", "value_hidden": ">= 1",
    }

    def __post_init__(self):
        for name in ("policy_hidden", "value_hidden"):
            if isinstance(getattr(self, name), list):  # from TOML or JSON
                object.__setattr__(self, name, tuple(getattr(self, name)))
        check_fields(self, self.BOUNDS)
        if self.batch_size % self.num_minibatches:
            raise InvalidConfigError(
                f"PPOConfig.num_minibatches ({self.num_minibatches}) must divide rollout_length * num_envs ({self.batch_size})"
            )

    @property
    def batch_size(self) -> int:
        return self.rollout_length * self.num_envs

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches


class PPOState(NamedTuple):
    params: nets.ActorCriticParams
    opt_state: optax.OptState
    normalizer: nets.NormalizerState
    env_state: EnvState  #: leaves [B, ...]
    iteration: jax.Array  #: [] int32, completed iterations


class Batch(NamedTuple):
    """What the loss sees of one sample: a transition with its advantage and value target."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array  #: log pi_old(a|s)
    advantage: jax.Array
    target: jax.Array  #: value target A + V
    old_mean: jax.Array | None = None  #: [A] mean of pi_old(.|s) (the trust region's centre)


class PPO(NamedTuple):
    """PPO as an algorithm: ``init(key) -> PPOState`` and ``step(state, key, reward_params)``."""

    config: PPOConfig
    env: Env  #: the auto-reset environment
    networks: nets.Networks
    optimizer: optax.GradientTransformation
    init: Callable[[jax.Array], PPOState]
    step: Callable[..., tuple[PPOState, dict[str, jax.Array]]]
    name: str = "ppo"  #: the learner's name (:class:`trirl.driver.Learner`)


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.learning_rate, eps=1e-5))


def _global_norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(tree)))


def advantages(networks, params, normalizer, transitions: Transition, rewards, config: PPOConfig, absorbing_value=0.0):
    """GAE over ``[T, B]`` transitions with values recomputed under ``params``."""
    values = nets.value(networks, params.value, normalizer, transitions.obs)
    next_values = nets.value(networks, params.value, normalizer, transitions.next_obs)
    per_env = jax.vmap(gae, in_axes=(1, 1, 1, 1, 1, None, None, None), out_axes=1)
    return per_env(rewards, values, next_values, transitions.absorbing, transitions.done,
                   config.gamma, config.gae_lambda, absorbing_value)


def normalised_advantage(config: PPOConfig, advantage):
    """Advantages standardised over the minibatch when ``config.normalize_advantages``."""
    if config.normalize_advantages:
        return (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    return advantage


def ppo_loss(networks, config: PPOConfig, params: nets.ActorCriticParams, normalizer, batch: Batch):
    """The clipped surrogate, the critic's squared error and the entropy bonus on a minibatch.

    ``L = -E[min(rho A, clip(rho, 1 - c, 1 + c) A)] + value_coef E[(V - target)^2] - entropy_coef H``.
    """
    mean, log_std = nets.policy_distribution(networks, params.policy, normalizer, batch.obs)
    log_prob = nets.gaussian_log_prob(mean, log_std, batch.action)
    advantage = normalised_advantage(config, batch.advantage)
    ratio = jnp.exp(log_prob - batch.log_prob)
    clipped = jnp.clip(ratio, 1.0 - config.clip_eps, 1.0 + config.clip_eps)
    policy_loss = -jnp.mean(jnp.minimum(ratio * advantage, clipped * advantage))
    value_loss = jnp.mean((nets.value(networks, params.value, normalizer, batch.obs) - batch.target) ** 2)
    entropy = jnp.mean(nets.gaussian_entropy(log_std))
    loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "clip_fraction": jnp.mean(jnp.abs(ratio - 1.0) > config.clip_eps),
    }
    return loss, metrics


def update(networks, optimizer, config: PPOConfig, params, opt_state, normalizer, batch: Batch, key, loss_fn=None):
    """``num_epochs`` shuffled passes of ``num_minibatches`` gradient steps on a flat batch ``[N]``.

    ``loss_fn(params, minibatch) -> (loss, metrics)`` defaults to :func:`ppo_loss`; a TRIRL learner
    passes its own (e.g. with the TRPL projection or a KL penalty).
    """
    if loss_fn is None:
        def loss_fn(p, minibatch):
            return ppo_loss(networks, config, p, normalizer, minibatch)

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def minibatch_step(carry, minibatch):
        params, opt_state = carry
        grads, metrics = grad_fn(params, minibatch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        metrics = dict(metrics, grad_norm=_global_norm(grads))
        return (optax.apply_updates(params, updates), opt_state), metrics

    def epoch(carry, epoch_key):
        order = jax.random.permutation(epoch_key, config.batch_size)
        shuffled = jax.tree_util.tree_map(
            lambda x: x[order].reshape(config.num_minibatches, config.minibatch_size, *x.shape[1:]), batch
        )
        return jax.lax.scan(minibatch_step, carry, shuffled)

    (params, opt_state), metrics = jax.lax.scan(epoch, (params, opt_state), jax.random.split(key, config.num_epochs))
    return params, opt_state, jax.tree_util.tree_map(jnp.mean, metrics)


def absorbing_value(config: PPOConfig, absorbing_reward) -> jax.Array:
    """``V(s_a) = gamma / (1 - gamma) r(s_a)``: the value of staying in the absorbing state
    forever with reward ``r(s_a)`` (paper C.4, after Kostrikov et al., 2019)."""
    return config.gamma / (1.0 - config.gamma) * absorbing_reward


def collect(ppo: PPO, state: PPOState, key: jax.Array, distribution=None) -> tuple[PPOState, Rollout]:
    """Roll the policy of ``state`` out for ``[T, B] = [rollout_length, num_envs]`` steps; jittable.

    Args:
        ppo: the environment, networks and config (from :func:`make_ppo`).
        state: the rollout policy ``pi_old``, its critic, normaliser and environments.
        key: the rollout's key (one action sample per step and environment).
        distribution: ``obs [O] -> (mean [A], log_std [A])`` of the policy that acts, if it is not
            the policy network (TRIRL's projected policy); ``Transition.log_prob`` is then its
            log-likelihood.

    Returns:
        ``state`` with its environments advanced (policy, critic, optimiser and normaliser
        unchanged) and the :class:`~trirl.continuous.rollout.Rollout` (leaves ``[T, B, ...]``).
    """
    env_state, collected = rollout(ppo.env, ppo.networks, state.params, state.normalizer, state.env_state, key,
                                   ppo.config.rollout_length, distribution)
    return state._replace(env_state=env_state), collected


class Improvement(NamedTuple):
    """What :func:`improve` leaves for the learner to read besides the new state."""

    batch: Batch  #: the flat [T * B] PPO batch (with the rollout policy's means ``old_mean`` [T * B, A])
    new_mean: jax.Array  #: [T * B, A] mean of the updated policy on ``batch.obs``
    metrics: dict[str, jax.Array]  #: the shared metrics (see :func:`improve`)


def improve(ppo: PPO, state: PPOState, collected: Rollout, rewards: jax.Array, absorbing_reward: jax.Array,
            key: jax.Array, loss: PolicyLoss | None = None) -> tuple[PPOState, Improvement]:
    """Improve the policy of ``state`` on the rollout ``collected`` relabelled with ``rewards``; jittable.

    GAE with the absorbing bootstrap, ``num_epochs`` x ``num_minibatches`` gradient steps
    (:func:`update`), the KL to the rollout policy and the normaliser update (module doc, step 3).

    Args:
        ppo: the environment, networks, optimiser and config (from :func:`make_ppo`).
        state: the rollout policy ``pi_old`` (as :func:`collect` returned it).
        collected: its ``[T, B]`` rollout.
        rewards: ``[T, B]`` the rewards PPO optimises; ``absorbing_reward`` ``[]`` the reward
            ``r(s_a)`` of the absorbing state (0 for the environment's reward).
        key: the key of the minibatch shuffling.
        loss: ``(params, minibatch) -> (loss [], metrics)``; default the clipped :func:`ppo_loss`.

    Returns:
        the new :class:`PPOState` (iteration + 1) and an :class:`Improvement` with the metrics
        ``iteration``, ``policy_kl`` (mean ``KL(pi_new || pi_old)`` over the batch),
        ``reward_mean``, ``absorbing_reward``, ``log_std_mean``, the loss's metrics and
        ``episode_return``, ``episodes``, ``non_finite_steps`` of the rollout.
    """
    config, networks = ppo.config, ppo.networks
    transitions = collected.transitions
    advantage, target = advantages(networks, state.params, state.normalizer, transitions, rewards, config,
                                   absorbing_value(config, absorbing_reward))
    flat = jax.tree_util.tree_map(
        lambda x: x.reshape(config.batch_size, *x.shape[2:]),
        Batch(transitions.obs, transitions.action, transitions.log_prob, advantage, target),
    )
    old_mean, old_log_std = nets.policy_distribution(networks, state.params.policy, state.normalizer, flat.obs)
    batch = flat._replace(old_mean=jax.lax.stop_gradient(old_mean))
    params, opt_state, loss_metrics = update(networks, ppo.optimizer, config, state.params, state.opt_state,
                                             state.normalizer, batch, key, loss)
    new_mean, new_log_std = nets.policy_distribution(networks, params.policy, state.normalizer, batch.obs)
    kl = jnp.mean(nets.gaussian_kl(new_mean, new_log_std, batch.old_mean, old_log_std))
    normalizer = state.normalizer
    if config.normalize_observations:
        normalizer = nets.update_normalizer(normalizer, transitions.obs)
    metrics = {
        "iteration": state.iteration + 1,
        "policy_kl": kl,
        "reward_mean": jnp.mean(rewards),
        "absorbing_reward": absorbing_reward,
        "log_std_mean": jnp.mean(params.policy.log_std),
        **loss_metrics,
        **episode_metrics(collected),
    }
    new_state = PPOState(params, opt_state, normalizer, state.env_state, state.iteration + 1)
    return new_state, Improvement(batch, new_mean, metrics)


def make_ppo(env: Env, config: PPOConfig, reward_fn: RewardFn = env_reward,
             absorbing_reward_fn: AbsorbingRewardFn | None = None) -> PPO:
    """Build PPO for a (not yet auto-reset) environment ``env`` and a ``reward_fn``.

    ``absorbing_reward_fn(reward_params) -> r(s_a)`` is the learnt reward of the absorbing state
    that goes with a learnt ``reward_fn``: terminated transitions then bootstrap from
    :func:`absorbing_value` as during IRL training. Without it ``V(s_a) = 0`` (right for the
    environment's own reward; with a learnt reward it makes termination worth 0, so a mostly
    negative learnt reward would teach the agent to end episodes early).
    """
    env = auto_reset(env)
    networks = nets.make_networks(env.action_size, config.policy_hidden, config.value_hidden)
    optimizer = make_optimizer(config)

    def init(key: jax.Array) -> PPOState:
        param_key, env_key = jax.random.split(key)
        params = nets.init_params(networks, param_key, env.observation_size, env.action_size, config.init_log_std)
        env_state = jax.vmap(env.reset)(jax.random.split(env_key, config.num_envs))
        return PPOState(params, optimizer.init(params), nets.init_normalizer(env.observation_size), env_state,
                        jnp.zeros((), jnp.int32))

    def step(state: PPOState, key: jax.Array, reward_params=None):
        rollout_key, update_key = jax.random.split(key)
        acted, collected = collect(ppo, state, rollout_key)
        r_absorbing = jnp.zeros(()) if absorbing_reward_fn is None else absorbing_reward_fn(reward_params)
        rewards = reward_fn(reward_params, collected.transitions)
        new_state, improved = improve(ppo, acted, collected, rewards, r_absorbing, update_key)
        return new_state, improved.metrics

    ppo = PPO(config, env, networks, optimizer, init, step)
    return ppo
