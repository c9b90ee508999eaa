"""Adversarial imitation baselines on the same PPO, networks and data as TRIRL (paper C.1).

Each is a :class:`~trirl.continuous.trirl.Learner` (``init(key)``, jittable ``step(state, key)``,
``reward(state, obs, x, absorbing)``); only the discriminator's loss and the reward differ:

- **GAIL** (Ho and Ermon, 2016): the logistic classifier of :mod:`trirl.continuous.discriminator`
  on ``(s, a)``; reward ``log sigmoid(D)`` (the paper's C.1 form, always <= 0; the positive
  ``-log(1 - sigmoid(D))`` form carries a survival bonus, which the learnt absorbing reward of C.4
  would otherwise have to undo).
- **AIRL** (Fu et al., 2018), state-only: ``f(s, s') = g(s) + gamma h(s') - h(s)`` and the
  discriminator ``D = exp(f) / (exp(f) + pi(a|s))``, i.e. logit ``f(s, s') - log pi(a|s)``; the
  reward is that logit (``log D - log(1 - D)``). ``h(s_a)`` of the absorbing state is one learnt
  number (inputs masked as in :mod:`~trirl.continuous.discriminator`); ``log pi`` is evaluated
  under the current policy for expert and agent samples alike. The transferable reward
  (``reward``) is ``g(s)``.
- **AMP** (Peng et al., 2021): least-squares discriminator on state transitions ``(s, s')``,
  loss ``E_E (D - 1)^2 + E_pi (D + 1)^2`` plus the expert gradient penalty, reward
  ``max(0, 1 - 0.25 (D - 1)^2)``.

Absorbing states are handled exactly as in :mod:`trirl.continuous.trirl` (C.4), with
``V(s_a) gamma = gamma / (1 - gamma) r(s_a)`` in GAE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from trirl.continuous import discriminator as disc
from trirl.continuous import networks as nets
from trirl.continuous.demos import Demonstrations
from trirl.continuous.envs import features as feature_sets
from trirl.continuous.envs.base import Env
from trirl.continuous.ppo import PPOConfig, PPOState, collect, improve, make_ppo
from trirl.continuous.trirl import Learner, validate_demos
from trirl.errors import InvalidConfigError

ALGOS = ("gail", "airl", "amp")
#: the discriminator input each baseline runs with by default (read it through :func:`input_mode`)
INPUT_MODE = {"gail": "state_action", "airl": "state_transition", "amp": "state_transition"}
#: the baselines whose input is part of the method (AIRL's g(s) + gamma h(s') - h(s), AMP's (s, s'))
FIXED_INPUT = ("airl", "amp")


def input_mode(algo: str, given: str | None = None) -> str | None:
    """The discriminator input ``algo`` runs with: AIRL's and AMP's ``(s, s')`` are fixed by the
    method; GAIL's is ``(s, a)`` unless ``given`` says ``(s, s')`` (GAIL from observations, GAIfO,
    Torabi et al. 2018); any other algorithm (TRIRL) keeps ``given``, its config's choice.

    The one place this rule lives: ``trirl train`` fills an unset ``[discriminator] input_mode``
    with it, and :class:`BaselineConfig` and ``TrainConfig`` check theirs with it.

    Args:
        algo: the algorithm's name (anything that is not a baseline's name: not fixed).
        given: the configured input mode, or ``None`` when the config leaves it out.

    Returns:
        The fixed input mode (AIRL, AMP), else ``given`` where set, else the baseline's default
        (GAIL's ``(s, a)``; ``None`` for TRIRL).

    Raises:
        InvalidConfigError: ``given`` differs from the input ``algo`` fixes, naming
            ``DiscriminatorConfig.input_mode`` (``[discriminator] input_mode`` in a file).
    """
    fixed = INPUT_MODE.get(algo) if isinstance(algo, str) else None
    if fixed is None or given is None or algo not in FIXED_INPUT:
        return given or fixed
    if given != fixed:
        raise InvalidConfigError(
            f"DiscriminatorConfig.input_mode = {given!r}, but {algo} uses {fixed!r}; leave it out or set it to "
            f"{fixed!r} (--discriminator.input-mode {fixed})")
    return fixed


@dataclass(frozen=True)
class BaselineConfig:
    """A baseline: which one, its PPO and its discriminator.

    Attributes:
        algo: ``"gail"``, ``"airl"`` or ``"amp"``.
        ppo: the policy optimiser (the same as TRIRL's).
        discriminator: architecture, optimiser and gradient penalty of the discriminator; its
            ``input_mode`` must be the one ``algo`` fixes (:func:`input_mode`).
    """

    algo: str = "gail"
    ppo: PPOConfig = PPOConfig()
    discriminator: disc.DiscriminatorConfig = disc.DiscriminatorConfig()

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise InvalidConfigError(f"BaselineConfig.algo must be one of {ALGOS}, got {self.algo!r}")
        if not isinstance(self.ppo, PPOConfig):
            raise InvalidConfigError("BaselineConfig.ppo must be a PPOConfig")
        if not isinstance(self.discriminator, disc.DiscriminatorConfig):
            raise InvalidConfigError("BaselineConfig.discriminator must be a DiscriminatorConfig")
        input_mode(self.algo, self.discriminator.input_mode)


class BaselineState(NamedTuple):
    """PPO state, the discriminator and the completed iterations ``[]`` int32."""

    ppo: PPOState
    disc: disc.DiscriminatorState
    iteration: jax.Array


class AIRLParams(NamedTuple):
    g: Any  #: reward approximator g(s)
    h: Any  #: shaping potential h(s)


# -- AIRL's networks: state-only MLPs with the absorbing indicator ------------------------------


def _state_features(obs, absorbing):
    return disc.encode_absorbing(absorbing, obs)


def _airl_init(config: disc.DiscriminatorConfig, key, obs_dim: int) -> AIRLParams:
    net = disc.MLP(hidden_sizes=tuple(config.hidden_sizes))
    g_key, h_key = jax.random.split(key)
    dummy = jnp.zeros(obs_dim + 1)
    return AIRLParams(net.init(g_key, dummy), net.init(h_key, dummy))


def _airl_f(config: disc.DiscriminatorConfig, params: AIRLParams, obs, next_obs, absorbing, next_absorbing, gamma):
    net = disc.MLP(hidden_sizes=tuple(config.hidden_sizes))
    g = net.apply(params.g, _state_features(obs, absorbing))
    h = net.apply(params.h, _state_features(obs, absorbing))
    h_next = net.apply(params.h, _state_features(next_obs, next_absorbing))
    return g + gamma * h_next - h


# -- a balanced-minibatch update with a pluggable loss (the GAIL one is discriminator.update) ----


def _update(config: disc.DiscriminatorConfig, loss_fn, state: disc.DiscriminatorState, expert, agent, key):
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.learning_rate))
    num_agent = jax.tree.leaves(agent)[0].shape[0]
    num_expert = jax.tree.leaves(expert)[0].shape[0]
    batch_size = min(config.minibatch_size, num_agent)
    num_minibatches = num_agent // batch_size

    def minibatch_step(carry, indices):
        params, opt_state = carry
        agent_idx, expert_idx = indices
        grads, metrics = jax.grad(loss_fn, has_aux=True)(
            params, jax.tree.map(lambda x: x[expert_idx], expert), jax.tree.map(lambda x: x[agent_idx], agent))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), metrics

    def epoch_step(carry, epoch_key):
        perm_key, expert_key = jax.random.split(epoch_key)
        agent_idx = jax.random.permutation(perm_key, num_agent)[: num_minibatches * batch_size]
        expert_idx = jax.random.randint(expert_key, (num_minibatches, batch_size), 0, num_expert)
        carry, metrics = jax.lax.scan(minibatch_step, carry, (agent_idx.reshape(num_minibatches, batch_size),
                                                                expert_idx))
        return carry, jax.tree.map(jnp.mean, metrics)

    (params, opt_state), metrics = jax.lax.scan(epoch_step, (state.params, state.opt_state),
                                                jax.random.split(key, config.epochs))
    return disc.DiscriminatorState(params, opt_state), jax.tree.map(lambda x: x[-1], metrics)


def _penalty(config: disc.DiscriminatorConfig, single_logit, expert):
    if config.grad_penalty == 0:
        return 0.0
    grads = jax.vmap(jax.grad(single_logit, argnums=(0, 1)))(*expert)
    return config.grad_penalty * jnp.mean(sum(jnp.sum(jnp.square(g), axis=-1) for g in grads))


def amp_loss(config: disc.DiscriminatorConfig, params, expert: disc.DiscriminatorBatch, agent: disc.DiscriminatorBatch):
    """AMP's least-squares loss ``E_E (D - 1)^2 + E_pi (D + 1)^2`` plus the gradient penalty."""

    def single_logit(obs, other, absorbing):
        return disc.logits(config, params, obs, other, absorbing)

    d_expert = jax.vmap(single_logit)(*expert)
    d_agent = jax.vmap(single_logit)(*agent)
    least_squares = jnp.mean((d_expert - 1.0) ** 2) + jnp.mean((d_agent + 1.0) ** 2)
    total = least_squares + _penalty(config, single_logit, expert)
    return total, disc.DiscriminatorMetrics(total, least_squares, total - least_squares,
                                            jnp.mean(d_expert > 0), jnp.mean(d_agent < 0))


def amp_reward(d):
    """AMP's bounded reward ``max(0, 1 - 0.25 (D - 1)^2)``."""
    return jnp.maximum(0.0, 1.0 - 0.25 * (d - 1.0) ** 2)


class AIRLBatch(NamedTuple):
    obs: jax.Array  #: [N, O]
    next_obs: jax.Array  #: [N, O] (zeros for s_a)
    absorbing: jax.Array  #: [N] the sample's state is s_a
    next_absorbing: jax.Array  #: [N] s' is s_a
    log_pi: jax.Array  #: [N] log pi(a|s) under the current policy (0 for s_a: it self-loops)


def airl_loss(config: disc.DiscriminatorConfig, gamma: float, params, expert: AIRLBatch, agent: AIRLBatch):
    """AIRL's logistic loss on the logit ``f(s, s') - log pi(a|s)``."""

    def batch_logits(b: AIRLBatch):
        return _airl_f(config, params, b.obs, b.next_obs, b.absorbing, b.next_absorbing, gamma) - b.log_pi

    d_expert, d_agent = batch_logits(expert), batch_logits(agent)
    logistic = jnp.mean(jax.nn.softplus(-d_expert)) + jnp.mean(jax.nn.softplus(d_agent))
    return logistic, disc.DiscriminatorMetrics(logistic, logistic, jnp.zeros(()), jnp.mean(d_expert > 0),
                                               jnp.mean(d_agent < 0))


def make_baseline(env: Env, config: BaselineConfig, demos: Demonstrations) -> Learner:
    """GAIL, AIRL or AMP (``config.algo``) for ``env`` and expert ``demos``."""
    validate_demos(demos, env)
    if config.discriminator.features:
        feature_sets.check_env(config.discriminator.features, env.spec.name)
    ppo = make_ppo(env, config.ppo)
    networks, ppo_cfg, dcfg, algo = ppo.networks, config.ppo, config.discriminator, config.algo
    mode = dcfg.input_mode
    expert = disc.expert_batch(demos, mode)
    _, e_act, _, e_abs = demos.flat()
    # AIRL needs the expert's actions (for log pi) and which expert next states are absorbing.
    n_abs = int(e_abs.sum())
    expert_actions = jnp.concatenate([jnp.asarray(e_act), jnp.zeros((n_abs, e_act.shape[1]))])
    expert_next_absorbing = jnp.concatenate([jnp.asarray(e_abs, jnp.float32), jnp.ones(n_abs)])
    obs_dim, x_dim = env.observation_size, disc.input_dim(env, mode)
    absorbing_input = disc.absorbing_sample(obs_dim, x_dim)

    def init(key) -> BaselineState:
        ppo_key, disc_key = jax.random.split(key)
        if algo == "airl":
            params = _airl_init(dcfg, disc_key, obs_dim)
            optimizer = optax.chain(optax.clip_by_global_norm(dcfg.max_grad_norm), optax.adam(dcfg.learning_rate))
            disc_state = disc.DiscriminatorState(params, optimizer.init(params))
        else:
            disc_state = disc.init(dcfg, disc_key, obs_dim, x_dim)
        return BaselineState(ppo.init(ppo_key), disc_state, jnp.zeros((), jnp.int32))

    def log_pi(ps: PPOState, obs, actions):
        mean, log_std = nets.policy_distribution(networks, ps.params.policy, ps.normalizer, obs)
        return jax.lax.stop_gradient(nets.gaussian_log_prob(mean, log_std, actions))

    def reward_of(params, obs, other, absorbing):
        """GAIL's or AMP's reward of samples (AIRL's depends on the policy, see ``step``)."""
        logit = disc.logits(dcfg, params, obs, other, absorbing)
        return jax.nn.log_sigmoid(logit) if algo == "gail" else amp_reward(logit)

    def step(state: BaselineState, key):
        rollout_key, disc_key, update_key = jax.random.split(key, 3)
        ps = state.ppo

        def update_and_relabel(transitions):
            """The discriminator update on expert vs agent samples, then the rollout's rewards."""
            agent = disc.agent_batch(transitions, mode)
            obs, other, terminated = disc.agent_inputs(transitions, mode)
            if algo == "gail":
                disc_state, dm = disc.update(dcfg, state.disc, expert, agent, disc_key)
            elif algo == "amp":
                disc_state, dm = _update(dcfg, lambda p, e, a: amp_loss(dcfg, p, e, a), state.disc, expert, agent,
                                         disc_key)
            else:
                actions = jnp.clip(transitions.action, -1.0, 1.0).reshape(-1, transitions.action.shape[-1])
                agent_log_pi = log_pi(ps, obs, actions)
                agent_airl = AIRLBatch(agent.obs, agent.action_or_next_obs, agent.absorbing,
                                       jnp.concatenate([terminated, terminated]).astype(jnp.float32),
                                       jnp.where(agent.absorbing > 0, 0.0,
                                                 jnp.concatenate([agent_log_pi, agent_log_pi])))
                expert_airl = AIRLBatch(expert.obs, expert.action_or_next_obs, expert.absorbing,
                                        expert_next_absorbing,
                                        jnp.where(expert.absorbing > 0, 0.0, log_pi(ps, expert.obs, expert_actions)))
                disc_state, dm = _update(dcfg, lambda p, e, a: airl_loss(dcfg, ppo_cfg.gamma, p, e, a), state.disc,
                                         expert_airl, agent_airl, disc_key)
            not_absorbing = jnp.zeros(obs.shape[0])
            if algo == "airl":
                flat_log_pi = log_pi(ps, obs, jnp.clip(transitions.action, -1.0, 1.0).reshape(obs.shape[0], -1))
                rewards = _airl_f(dcfg, disc_state.params, obs, other, not_absorbing,
                                  terminated.astype(jnp.float32), ppo_cfg.gamma) - flat_log_pi
                r_absorbing = _airl_f(dcfg, disc_state.params, absorbing_input[0], absorbing_input[0], jnp.ones(1),
                                      jnp.ones(1), ppo_cfg.gamma)[0]
            else:
                rewards = reward_of(disc_state.params, obs, other, not_absorbing)
                r_absorbing = reward_of(disc_state.params, *absorbing_input)[0]
            metrics = {"disc_loss": dm.loss, "expert_accuracy": dm.expert_accuracy,
                       "agent_accuracy": dm.agent_accuracy}
            return disc_state, rewards.reshape(transitions.reward.shape), r_absorbing, metrics

        acted, collected = collect(ppo, ps, rollout_key)
        disc_state, rewards, r_absorbing, disc_metrics = update_and_relabel(collected.transitions)
        new_ppo, improved = improve(ppo, acted, collected, rewards, r_absorbing, update_key)
        metrics = {**improved.metrics, **disc_metrics, "iteration": state.iteration + 1}
        return BaselineState(new_ppo, disc_state, state.iteration + 1), metrics

    def learnt_reward(state: BaselineState, obs, other, absorbing):
        """The reward a fresh policy is retrained on: GAIL/AMP's reward, AIRL's ``g(s)``."""
        if algo == "airl":
            net = disc.MLP(hidden_sizes=tuple(dcfg.hidden_sizes))
            return net.apply(state.disc.params.g, _state_features(obs, absorbing))
        return reward_of(state.disc.params, obs, other, absorbing)

    return Learner(algo, ppo, init, step, learnt_reward)


__all__ = ["ALGOS", "AIRLBatch", "BaselineConfig", "BaselineState", "airl_loss", "amp_loss", "amp_reward",
           "make_baseline"]
