"""Density-ratio discriminator: logits that estimate ``log(rho_E / rho_pi)`` (paper Section 4.1).

A binary classifier ``D`` separates expert transitions (label 1) from agent transitions
(label 0) with the logistic loss on **balanced** minibatches (as many expert as agent samples).
At the optimum of that loss the classifier's logit is the log density ratio
``log(rho_E(x) / rho_pi(x))`` (Menon and Ong, 2016), which is exactly what the function-space
reward update (Eq. 2) consumes, so TRIRL uses the logits themselves, not ``log sigmoid(D)`` as
GAIL does.

Inputs ``x`` are either state-action pairs ``(s, a)`` (``input_mode="state_action"``) or
state transitions ``(s, s')`` for learning from observations (``"state_transition"``,
Section 4), plus an absorbing-state indicator (Appendix C.4, after Kostrikov et al. 2019).
The absorbing state ``s_a`` is one state: when the indicator is 1, the continuous inputs are
masked to zero, so every absorbing sample maps to the same logit and ``r(s_a)`` is one learnt
number. The indicator marks the sample's state ``s``; in ``state_transition`` mode a terminal
transition into ``s_a`` should carry the absorbing state's features (zeros) as ``s'``.

A gradient penalty ``grad_penalty * E_expert ||grad_x D(x)||^2`` on expert inputs (a
zero-centred penalty, as in AMP / R1; weight 0.005 in the paper's Appendix C.5) keeps the
logits smooth, which matters because they become rewards.

With ``features`` set (the feature-based variant) the network sees base features ``phi(s, a)``
declared by the environment (:mod:`trirl.continuous.envs.features`) instead of ``(s, a)``.

The module also turns the learners' data into discriminator samples: :func:`expert_batch`
(demonstrations, with one ``s_a`` sample per terminated episode), :func:`agent_inputs` and
:func:`agent_batch` (a rollout) and :func:`absorbing_sample`; :func:`transition_input` writes
``s'`` of ``s_a`` as zeros, and :func:`encode_absorbing` is the one encoding of ``s_a`` a network sees.

The same MLP (``MLP``) also serves as the fitted reward network ``R_fit`` of the discriminator
buffer (``trirl.continuous.reward``), so rewards and logits share inputs and code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from trirl.continuous.demos import Demonstrations
from trirl.continuous.envs import features as feature_sets
from trirl.continuous.envs.base import Env
from trirl.continuous.rollout import Transition
from trirl.errors import InvalidConfigError, InvalidDemonstrationError

INPUT_MODES = ("state_action", "state_transition")


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Architecture, inputs and optimiser of the discriminator (paper Appendix C.5 defaults).

    Attributes:
        hidden_sizes: widths of the tanh hidden layers (the paper uses three layers of 256 on
            MuJoCo tasks).
        input_mode: ``"state_action"`` for ``D(s, a)`` or ``"state_transition"`` for
            ``D(s, s')`` (learning from observations).
        learning_rate: Adam step size (the paper's good range is 8e-5 to 3e-4).
        grad_penalty: weight of the squared input-gradient norm on expert samples (0.005).
        epochs: passes over the agent batch per ``update`` call.
        minibatch_size: agent samples per minibatch; each minibatch pairs them with as many
            expert samples (balanced classes), drawn uniformly with replacement.
        max_grad_norm: global gradient-norm clip (1.0 in the paper).
        features: ``""`` for the raw inputs ``(s, a)`` / ``(s, s')``, or a base-feature set of
            :mod:`trirl.continuous.envs.features` (e.g. ``"point_maze:goal"``): the network then
            sees ``phi(s, a)`` only (the feature-based variant, paper Section 5.1); with
            ``hidden_sizes = ()`` the logit is linear, ``theta^T phi + b``, and with hidden layers
            it is linear in a learnt encoding ``psi(phi)``. Needs ``state_action`` inputs.
        absorbing_weight: weight of an absorbing-state sample ``s_a`` in the logistic loss,
            relative to a visited state's 1. ``1`` counts ``s_a`` once per termination, as
            Kostrikov et al. (2019) and the paper's Appendix C.4 do. An episode that terminates
            stays in ``s_a``: in the discounted occupancy that the loss's minimiser
            ``D = log(rho_E / rho_pi)`` compares, ``s_a`` then holds up to ``1 / (1 - gamma)``
            times the mass of one visited state (100 at ``gamma = 0.99``); a weight of that size
            counts it so. It changes nothing where no episode terminates (the point maze).
    """

    hidden_sizes: tuple[int, ...] = (256, 256, 256)
    input_mode: str = "state_action"
    learning_rate: float = 1e-4
    grad_penalty: float = 0.005
    epochs: int = 5
    minibatch_size: int = 512
    max_grad_norm: float = 1.0
    features: str = ""
    absorbing_weight: float = 1.0

    def __post_init__(self):
        if not (
            isinstance(self.hidden_sizes, tuple)
            and all(isinstance(h, int) and h >= 1 for h in self.hidden_sizes)
        ):
            raise InvalidConfigError(
                f"DiscriminatorConfig.hidden_sizes must be a tuple of positive integers, got {self.hidden_sizes!r}"
            )
        if self.input_mode not in INPUT_MODES:
            raise InvalidConfigError(
                f"DiscriminatorConfig.input_mode must be one of {INPUT_MODES}, got {self.input_mode!r}"
            )
        for name in ("learning_rate", "max_grad_norm", "absorbing_weight"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InvalidConfigError(f"DiscriminatorConfig.{name} must be a finite number > 0, got {value!r}")
        if not (isinstance(self.grad_penalty, (int, float)) and math.isfinite(self.grad_penalty) and self.grad_penalty >= 0):
            raise InvalidConfigError(
                f"DiscriminatorConfig.grad_penalty must be a finite number >= 0, got {self.grad_penalty!r}"
            )
        for name in ("epochs", "minibatch_size"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise InvalidConfigError(f"DiscriminatorConfig.{name} must be an integer >= 1, got {value!r}")
        if self.features:
            feature_sets.get(self.features)
            if self.input_mode != "state_action":
                raise InvalidConfigError(
                    f"DiscriminatorConfig.features = {self.features!r} needs input_mode 'state_action' "
                    f"(base features phi(s, a)), got {self.input_mode!r}"
                )


class DiscriminatorBatch(NamedTuple):
    """Transitions for the discriminator: ``obs [N, obs_dim]``, ``action_or_next_obs [N, D]``
    (the action in ``state_action`` mode, ``s'`` in ``state_transition`` mode) and
    ``absorbing [N]`` (1.0 where the sample's state is the absorbing state, else 0.0)."""

    obs: jax.Array
    action_or_next_obs: jax.Array
    absorbing: jax.Array


class DiscriminatorState(NamedTuple):
    """Parameters and optimiser state of one discriminator."""

    params: Any
    opt_state: Any


class DiscriminatorMetrics(NamedTuple):
    """Averages over the minibatches of the last epoch of an ``update``."""

    loss: jax.Array
    logistic_loss: jax.Array
    grad_penalty: jax.Array
    expert_accuracy: jax.Array
    agent_accuracy: jax.Array


class MLP(nn.Module):
    """tanh MLP with a scalar linear output; shared by discriminators and ``R_fit``."""

    hidden_sizes: Sequence[int]

    @nn.compact
    def __call__(self, x):
        for width in self.hidden_sizes:
            x = nn.tanh(nn.Dense(width)(x))
        return nn.Dense(1)(x)[..., 0]


def _network(config: DiscriminatorConfig) -> MLP:
    return MLP(hidden_sizes=tuple(config.hidden_sizes))


def encode_absorbing(absorbing, *inputs):
    """The absorbing-state encoding of a network input (Appendix C.4, module doc):
    ``[x_1 (1 - a), ..., x_n (1 - a), a]`` for inputs ``x_j [..., D_j]`` and the indicator
    ``a [...]`` (1.0 where the sample is ``s_a``), so that every ``s_a`` sample is one input.
    Every discriminator and AIRL's state-only networks see their samples through it."""
    absorbing = jnp.asarray(absorbing, dtype=jnp.result_type(inputs[0], float))
    keep = (1.0 - absorbing)[..., None]
    return jnp.concatenate([*(x * keep for x in inputs), absorbing[..., None]], axis=-1)


def _features(config: DiscriminatorConfig, obs, action_or_next_obs, absorbing):
    """Network input with the absorbing state masked: ``[obs, action_or_next_obs, absorbing]``,
    or ``[phi(obs, action), absorbing]`` with a base-feature set (``config.features``)."""
    if config.features:
        return encode_absorbing(absorbing, feature_sets.get(config.features).fn(obs, action_or_next_obs))
    return encode_absorbing(absorbing, obs, action_or_next_obs)


def init_params(config: DiscriminatorConfig, key, obs_dim: int, input_dim: int):
    """Network parameters for inputs ``obs [obs_dim]`` and ``action_or_next_obs [input_dim]``."""
    if config.input_mode == "state_transition" and input_dim != obs_dim:
        raise InvalidConfigError(
            f"state_transition mode needs next_obs of the observation size {obs_dim}, got input_dim={input_dim}"
        )
    if config.features:
        features = feature_sets.get(config.features)
        if (obs_dim, input_dim) != (features.observation_size, features.action_size):
            raise InvalidConfigError(
                f"DiscriminatorConfig.features = {config.features!r} expects observations of size "
                f"{features.observation_size} and actions of size {features.action_size}, got {obs_dim} and {input_dim}"
            )
    dummy = _features(config, jnp.zeros(obs_dim), jnp.zeros(input_dim), jnp.zeros(()))
    return _network(config).init(key, dummy)


def _optimizer(config: DiscriminatorConfig) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.learning_rate))


def init(config: DiscriminatorConfig, key, obs_dim: int, input_dim: int) -> DiscriminatorState:
    """A fresh discriminator and its optimiser state."""
    params = init_params(config, key, obs_dim, input_dim)
    return DiscriminatorState(params=params, opt_state=_optimizer(config).init(params))


def logits(config: DiscriminatorConfig, params, obs, action_or_next_obs, absorbing):
    """``D(x) ~ log(rho_E(x) / rho_pi(x))`` for one transition (``obs [obs_dim]``,
    ``action_or_next_obs [D]``, ``absorbing []``) -> ``[]``. Leading batch axes broadcast
    through the dense layers, so ``[N, ...]`` inputs give ``[N]`` logits."""
    return _network(config).apply(params, _features(config, obs, action_or_next_obs, absorbing))


def _check_batch(name: str, batch: DiscriminatorBatch, config: DiscriminatorConfig) -> None:
    obs, other, absorbing = (jnp.asarray(x) for x in batch)
    if obs.ndim != 2 or other.ndim != 2 or absorbing.ndim != 1:
        raise InvalidDemonstrationError(
            f"{name} batch must have obs [N, obs_dim], action_or_next_obs [N, D], absorbing [N]; "
            f"got {obs.shape}, {other.shape}, {absorbing.shape}"
        )
    if not (obs.shape[0] == other.shape[0] == absorbing.shape[0] >= 1):
        raise InvalidDemonstrationError(
            f"{name} batch fields disagree on N (or N = 0): {obs.shape[0]}, {other.shape[0]}, {absorbing.shape[0]}"
        )
    if config.input_mode == "state_transition" and other.shape[1] != obs.shape[1]:
        raise InvalidDemonstrationError(
            f"{name} batch: state_transition mode needs next_obs [N, {obs.shape[1]}], got {other.shape}"
        )


def _loss(config: DiscriminatorConfig, params, expert: DiscriminatorBatch, agent: DiscriminatorBatch):
    def single_logit(obs, other, absorbing):
        return logits(config, params, obs, other, absorbing)

    expert_logits = jax.vmap(single_logit)(*expert)
    agent_logits = jax.vmap(single_logit)(*agent)
    # Balanced logistic loss: -log sigmoid(D) on expert, -log(1 - sigmoid(D)) on agent samples;
    # within each class an absorbing sample weighs config.absorbing_weight, a visited state 1.
    def class_mean(values, absorbing):
        if config.absorbing_weight == 1.0:  # static: the plain mean, bit for bit as before the weight
            return jnp.mean(values)
        weights = jnp.where(absorbing > 0.5, config.absorbing_weight, 1.0)
        return jnp.sum(weights * values) / jnp.sum(weights)

    logistic = class_mean(jax.nn.softplus(-expert_logits), expert.absorbing) + class_mean(
        jax.nn.softplus(agent_logits), agent.absorbing)
    if config.grad_penalty > 0:
        input_grads = jax.vmap(jax.grad(single_logit, argnums=(0, 1)))(*expert)
        penalty = jnp.mean(sum(jnp.sum(jnp.square(g), axis=-1) for g in input_grads))
        total = logistic + config.grad_penalty * penalty
    else:
        # Static branch: without a penalty, ``update`` need not differentiate through input
        # gradients (second-order autodiff dominates its compile time).
        penalty = jnp.zeros_like(logistic)
        total = logistic
    metrics = DiscriminatorMetrics(
        loss=total,
        logistic_loss=logistic,
        grad_penalty=penalty,
        expert_accuracy=jnp.mean(expert_logits > 0),
        agent_accuracy=jnp.mean(agent_logits < 0),
    )
    return total, metrics


def loss(config: DiscriminatorConfig, params, expert: DiscriminatorBatch, agent: DiscriminatorBatch):
    """Balanced logistic loss plus the expert gradient penalty; returns ``(loss, metrics)``.

    The logistic part is ``E_expert softplus(-D) + E_agent softplus(D)`` (the two class means
    summed, so chance level is ``2 log 2``); its minimiser is ``D = log(rho_E / rho_pi)``. Each
    class mean weighs an absorbing sample ``config.absorbing_weight`` and any other sample 1.

    ``metrics.grad_penalty`` is the unweighted ``E_expert ||grad_x D||^2`` (always >= 0; reported
    as 0 when ``config.grad_penalty`` is 0, where it is not computed).
    """
    _check_batch("expert", expert, config)
    _check_batch("agent", agent, config)
    return _loss(config, params, expert, agent)


def update(
    config: DiscriminatorConfig,
    state: DiscriminatorState,
    expert: DiscriminatorBatch,
    agent: DiscriminatorBatch,
    key,
) -> tuple[DiscriminatorState, DiscriminatorMetrics]:
    """``config.epochs`` passes over the agent batch in shuffled minibatches of
    ``min(minibatch_size, N_agent)``, each paired with as many expert samples drawn uniformly
    with replacement. Jittable with ``config`` static; the trailing partial minibatch of an
    epoch is dropped so that every step has the same shape."""
    _check_batch("expert", expert, config)
    _check_batch("agent", agent, config)
    optimizer = _optimizer(config)
    num_agent = agent.obs.shape[0]
    num_expert = expert.obs.shape[0]
    batch_size = min(config.minibatch_size, num_agent)
    num_minibatches = num_agent // batch_size

    def minibatch_step(carry, indices):
        params, opt_state = carry
        agent_idx, expert_idx = indices
        agent_mb = jax.tree.map(lambda x: x[agent_idx], agent)
        expert_mb = jax.tree.map(lambda x: x[expert_idx], expert)
        grads, metrics = jax.grad(_loss, argnums=1, has_aux=True)(config, params, expert_mb, agent_mb)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), metrics

    def epoch_step(carry, epoch_key):
        perm_key, expert_key = jax.random.split(epoch_key)
        agent_idx = jax.random.permutation(perm_key, num_agent)[: num_minibatches * batch_size]
        agent_idx = agent_idx.reshape(num_minibatches, batch_size)
        expert_idx = jax.random.randint(expert_key, (num_minibatches, batch_size), 0, num_expert)
        carry, metrics = jax.lax.scan(minibatch_step, carry, (agent_idx, expert_idx))
        return carry, jax.tree.map(jnp.mean, metrics)

    (params, opt_state), metrics = jax.lax.scan(
        epoch_step, (state.params, state.opt_state), jax.random.split(key, config.epochs)
    )
    last_epoch = jax.tree.map(lambda x: x[-1], metrics)
    return DiscriminatorState(params=params, opt_state=opt_state), last_epoch


# ---------------------------------------------------------------------------------------------
# The learners' data as discriminator samples (expert demonstrations, agent rollouts, s_a).


def expert_batch(demos: Demonstrations, input_mode: str) -> DiscriminatorBatch:
    """The demonstrations as discriminator samples, plus one absorbing-state sample per
    terminated episode (Appendix C.4)."""
    obs, actions, next_obs, absorbing = demos.flat()
    if obs.shape[0] == 0:
        raise InvalidDemonstrationError("demonstrations hold no steps")
    other = transition_input(input_mode, actions, next_obs, absorbing)
    s_a = absorbing_sample(obs.shape[1], other.shape[1], int(absorbing.sum()))
    return DiscriminatorBatch(jnp.concatenate([jnp.asarray(obs, jnp.float32), s_a[0]]),
                              jnp.concatenate([jnp.asarray(other, jnp.float32), s_a[1]]),
                              jnp.concatenate([jnp.zeros(len(absorbing)), s_a[2]]))


def transition_input(input_mode: str, action, next_obs, terminated):
    """``action_or_next_obs [..., D]`` of samples: the action (``state_action``) or the next state,
    zeros where it is the absorbing state ``s_a`` (``terminated [...]``, ``state_transition``)."""
    if input_mode == "state_action":
        return action
    return jnp.where(jnp.asarray(terminated)[..., None], 0.0, next_obs)


def agent_inputs(transitions: Transition, input_mode: str):
    """Flat ``(obs [N, O], x [N, D], absorbing [N])`` of the rollout (the executed, clipped
    actions in ``state_action`` mode; ``s'`` with ``s_a`` as zeros in ``state_transition``)."""
    obs = transitions.obs.reshape(-1, transitions.obs.shape[-1])
    terminated = transitions.absorbing.reshape(-1)
    action = jnp.clip(transitions.action, -1.0, 1.0).reshape(-1, transitions.action.shape[-1])
    return obs, transition_input(input_mode, action, transitions.next_obs.reshape(obs.shape), terminated), terminated


def agent_batch(transitions: Transition, input_mode: str) -> DiscriminatorBatch:
    """The agent's samples for the discriminator, with ``s_a`` as described in the module doc."""
    obs, other, terminated = agent_inputs(transitions, input_mode)
    zeros = jnp.zeros(obs.shape[0])
    abs_obs = jnp.where(terminated[:, None], 0.0, obs)
    abs_other = jnp.where(terminated[:, None], 0.0, other)
    return DiscriminatorBatch(
        jnp.concatenate([obs, abs_obs]), jnp.concatenate([other, abs_other]),
        jnp.concatenate([zeros, terminated.astype(zeros.dtype)]),
    )


def absorbing_sample(obs_dim: int, input_dim: int, count: int = 1):
    """``count`` copies of the absorbing-state input ``(obs [count, O], x [count, D], absorbing [count])``."""
    return jnp.zeros((count, obs_dim)), jnp.zeros((count, input_dim)), jnp.ones(count)


def input_dim(env: Env, input_mode: str) -> int:
    """Size of ``action_or_next_obs``: the action size in ``state_action`` mode, else the observation size."""
    return env.action_size if input_mode == "state_action" else env.observation_size
