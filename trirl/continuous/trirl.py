"""The TRIRL learner on continuous control (paper Section 4, Algorithm 2).

One iteration is one pure, jittable ``step(state, key) -> (state, metrics)`` (``jax.vmap`` over
a leading seed axis trains several seeds at once):

1. roll out the current policy ``pi^(i)`` for ``[T, B]`` steps (:func:`~trirl.continuous.rollout.rollout`);
2. update the newest discriminator ``D^(i) ~ log(rho_E / rho_pi^(i))`` on expert demonstrations
   vs the agent's transitions (Alg. 2 line 8, :mod:`trirl.continuous.discriminator`);
3. relabel the rollout with the intermediate reward ``r~ = (1 - eps) r^(i) + eps beta D^(i)``
   built from the buffer's corrected reward ``r^(i)`` (lines 17-24, :func:`trirl.continuous.reward.rewards`);
4. regress ``R_fit`` on ``r^(i)`` (line 25) over the agent's samples and as many expert samples
   (our choice: it anchors the fitted reward where the expert goes, which retraining needs);
5. PPO epochs on ``r~`` whose policy passes through the TRPL projection around the rollout
   policy (Section 4.3; :mod:`trirl.continuous.trpl`), with the trust-region regression loss;
6. read off ``eta^(i+1)`` = the max-eta multiplier of the final projection on the whole batch,
   and push ``(D^(i), eta^(i+1))`` into the buffer (line 32).

Variants (``TRIRLConfig.variant``):

- ``"max-eta"`` (default): as above; ``eta`` is the max over the batch of the projection's
  multipliers, so the reward correction ``eps_tr = eps / (1 + eta)`` (Theorem 3.2) is conservative.
- ``"tr-loss"``: no projection; the PPO loss gets a KL penalty ``eta KL(pi || pi_old)`` with
  ``eta`` from a :mod:`trirl.core` schedule (``TRIRLConfig.eta_schedule``), and that scheduled
  ``eta`` enters the correction.

Absorbing states (Appendix C.4). The discriminator sees the absorbing state ``s_a`` as a sample
with the absorbing indicator set (its continuous inputs masked to zero, so ``r(s_a)`` is one learnt
number). Expert data gets one ``s_a`` sample per terminated episode. For the agent, with static
shapes, a second copy of the batch is appended in which every transition that terminated is
replaced by the ``s_a`` sample (the others are duplicated), so ``s_a`` appears once per
termination as in the expert data. In GAE the absorbing bootstrap is
``V(s_a) gamma = gamma / (1 - gamma) r(s_a)``, with ``r(s_a)`` the intermediate reward of ``s_a``.

Metrics (shared names, see DESIGN.md): ``iteration, eta, eps_tr, policy_kl, disc_loss,
expert_accuracy, agent_accuracy, episode_return, env_steps`` plus diagnostics.
``reverse_kl`` and ``dual`` are not estimated on continuous tasks and are therefore absent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trirl.continuous import discriminator as disc
from trirl.continuous import networks as nets
from trirl.continuous import reward as buffer_lib
from trirl.continuous import trpl
from trirl.continuous.demos import Demonstrations
from trirl.continuous.envs.base import Env
from trirl.continuous.ppo import PPO, PPOConfig, PPOState, make_ppo, update as ppo_update
from trirl.continuous.ppo import advantages as gae_advantages
from trirl.continuous.rollout import Transition, episode_metrics, rollout
from trirl.core import corrected_step, parse_eta_schedule
from trirl.errors import InvalidConfigError, InvalidDemonstrationError

VARIANTS = ("max-eta", "tr-loss")


@dataclass(frozen=True)
class TRIRLConfig:
    """Everything the TRIRL learner needs besides the environment and demonstrations.

    Attributes:
        variant: ``"max-eta"`` (TRPL projection, eta from it) or ``"tr-loss"`` (KL penalty
            with a scheduled eta).
        ppo: the policy optimiser (``entropy_coef`` plays ``1 / beta``'s role of Eq. 1).
        discriminator: the newest discriminator ``D^(i)`` (architecture, inputs, optimiser).
        buffer: the discriminator buffer: ``k``, ``eps``, ``beta``, ``R_fit`` (its ``network``
            is replaced by ``discriminator`` so buffered and newest discriminators agree).
        trust_region: TRPL bounds and regression weight (max-eta variant).
        eta_schedule: a :func:`trirl.core.parse_eta_schedule` string (tr-loss variant).
        iterations: number of iterations the schedule table covers (the train driver sets it).
    """

    variant: str = "max-eta"
    ppo: PPOConfig = PPOConfig()
    discriminator: disc.DiscriminatorConfig = disc.DiscriminatorConfig()
    buffer: buffer_lib.RewardBufferConfig = buffer_lib.RewardBufferConfig()
    trust_region: trpl.TrustRegionConfig = trpl.TrustRegionConfig()
    eta_schedule: str = "1.0"
    iterations: int = 1

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise InvalidConfigError(f"TRIRLConfig.variant must be one of {VARIANTS}, got {self.variant!r}")
        for name, kind in (("ppo", PPOConfig), ("discriminator", disc.DiscriminatorConfig),
                           ("buffer", buffer_lib.RewardBufferConfig), ("trust_region", trpl.TrustRegionConfig)):
            if not isinstance(getattr(self, name), kind):
                raise InvalidConfigError(f"TRIRLConfig.{name} must be a {kind.__name__}")
        parse_eta_schedule(str(self.eta_schedule))  # raises InvalidConfigError naming the schedule
        if not (isinstance(self.iterations, int) and self.iterations >= 1):
            raise InvalidConfigError(f"TRIRLConfig.iterations must be an integer >= 1, got {self.iterations!r}")
        if self.buffer.network != self.discriminator:
            object.__setattr__(self, "buffer", _replace(self.buffer, network=self.discriminator))


def _replace(config, **changes):
    return dataclasses.replace(config, **changes)


class TRIRLState(NamedTuple):
    """The learner's whole state (one seed; leaves get a leading seed axis under ``vmap``).

    Attributes:
        ppo: policy, critic, optimiser, observation normaliser and environments.
        disc: the newest discriminator ``D^(i)`` and its optimiser.
        buffer: the ``k`` completed ``(D^(j), eta^(j+1))`` pairs and ``R_fit``.
        iteration: completed iterations ``[]`` int32.
    """

    ppo: PPOState
    disc: disc.DiscriminatorState
    buffer: buffer_lib.RewardBufferState
    iteration: jax.Array


class Learner(NamedTuple):
    """An adversarial IRL algorithm: ``init(key) -> state``, ``step(state, key) -> (state, metrics)``.

    ``reward(state, obs, x, absorbing) -> [N]`` is the learnt reward a fresh PPO can be retrained
    on (TRIRL: the corrected reward of the buffer); ``ppo`` holds the env and networks.
    """

    name: str
    ppo: PPO
    init: Callable[[jax.Array], Any]
    step: Callable[[Any, jax.Array], tuple[Any, dict[str, jax.Array]]]
    reward: Callable[..., jax.Array]


class TRBatch(NamedTuple):
    """A PPO sample plus the rollout policy's mean (the projection's centre)."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    advantage: jax.Array
    target: jax.Array
    old_mean: jax.Array


# ---------------------------------------------------------------------------------------------
# Data shared by every adversarial learner.


def expert_batch(demos: Demonstrations, input_mode: str) -> disc.DiscriminatorBatch:
    """The demonstrations as discriminator samples, plus one absorbing-state sample per
    terminated episode (Appendix C.4)."""
    obs, actions, next_obs, absorbing = demos.flat()
    if obs.shape[0] == 0:
        raise InvalidDemonstrationError("demonstrations hold no steps")
    other = actions if input_mode == "state_action" else np.where(absorbing[:, None], 0.0, next_obs)
    n_abs = int(absorbing.sum())
    obs = np.concatenate([obs, np.zeros((n_abs, obs.shape[1]), obs.dtype)])
    other = np.concatenate([other, np.zeros((n_abs, other.shape[1]), other.dtype)])
    flags = np.concatenate([np.zeros(len(absorbing), np.float32), np.ones(n_abs, np.float32)])
    return disc.DiscriminatorBatch(jnp.asarray(obs, jnp.float32), jnp.asarray(other, jnp.float32), jnp.asarray(flags))


def agent_inputs(transitions: Transition, input_mode: str):
    """Flat ``(obs [N, O], x [N, D], absorbing [N])`` of the rollout (the executed, clipped
    actions in ``state_action`` mode; ``s'`` with ``s_a`` as zeros in ``state_transition``)."""
    obs = transitions.obs.reshape(-1, transitions.obs.shape[-1])
    terminated = transitions.absorbing.reshape(-1)
    if input_mode == "state_action":
        other = jnp.clip(transitions.action, -1.0, 1.0).reshape(-1, transitions.action.shape[-1])
    else:
        next_obs = transitions.next_obs.reshape(obs.shape)
        other = jnp.where(terminated[:, None], 0.0, next_obs)
    return obs, other, terminated


def agent_batch(transitions: Transition, input_mode: str) -> disc.DiscriminatorBatch:
    """The agent's samples for the discriminator, with ``s_a`` as described in the module doc."""
    obs, other, terminated = agent_inputs(transitions, input_mode)
    zeros = jnp.zeros(obs.shape[0])
    abs_obs = jnp.where(terminated[:, None], 0.0, obs)
    abs_other = jnp.where(terminated[:, None], 0.0, other)
    return disc.DiscriminatorBatch(
        jnp.concatenate([obs, abs_obs]), jnp.concatenate([other, abs_other]),
        jnp.concatenate([zeros, terminated.astype(zeros.dtype)]),
    )


def absorbing_sample(obs_dim: int, input_dim: int):
    """The single absorbing-state input ``(obs [1, O], x [1, D], absorbing [1])``."""
    return jnp.zeros((1, obs_dim)), jnp.zeros((1, input_dim)), jnp.ones(1)


def input_dim(env: Env, input_mode: str) -> int:
    return env.action_size if input_mode == "state_action" else env.observation_size


def flat_ppo_batch(networks, state: PPOState, transitions: Transition, advantage, target, batch_size) -> TRBatch:
    flat = lambda x: x.reshape(batch_size, *x.shape[2:])  # noqa: E731
    obs = flat(transitions.obs)
    old_mean, _ = nets.policy_distribution(networks, state.params.policy, state.normalizer, obs)
    return TRBatch(obs, flat(transitions.action), flat(transitions.log_prob), flat(advantage), flat(target),
                   jax.lax.stop_gradient(old_mean))


def normalised_advantage(config: PPOConfig, advantage):
    if config.normalize_advantages:
        return (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    return advantage


# ---------------------------------------------------------------------------------------------
# Policy losses of the two variants.


def trpl_loss(networks, config: TRIRLConfig, normalizer, params, batch: TRBatch, old_log_std):
    """Max-eta variant: the importance-weighted policy gradient through the TRPL projection
    (Otto et al. 2021; no ratio clipping, the trust region replaces it), the trust-region
    regression loss, the critic's error and the entropy bonus of the projected policy.
    ``old_log_std [A]`` is the rollout policy's (state-independent) log std."""
    ppo_cfg = config.ppo
    mean, _ = nets.policy_distribution(networks, params.policy, normalizer, batch.obs)
    log_std = params.policy.log_std
    projection = trpl.project(config.trust_region, mean, log_std, batch.old_mean, old_log_std)
    log_prob = nets.gaussian_log_prob(projection.mean, projection.log_std, batch.action)
    ratio = jnp.exp(log_prob - batch.log_prob)
    advantage = normalised_advantage(ppo_cfg, batch.advantage)
    policy_loss = -jnp.mean(ratio * advantage)
    regression = trpl.trust_region_loss(config.trust_region, mean, log_std, projection)
    value_loss = jnp.mean((nets.value(networks, params.value, normalizer, batch.obs) - batch.target) ** 2)
    entropy = nets.gaussian_entropy(projection.log_std)
    loss = policy_loss + regression + ppo_cfg.value_coef * value_loss - ppo_cfg.entropy_coef * entropy
    return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
                  "trust_region_loss": regression, "minibatch_eta": projection.eta}


def kl_penalty_loss(networks, config: TRIRLConfig, normalizer, params, batch: TRBatch, old_log_std, eta):
    """Tr-loss variant: the clipped PPO surrogate plus ``eta KL(pi || pi_old)``."""
    ppo_cfg = config.ppo
    mean, log_std = nets.policy_distribution(networks, params.policy, normalizer, batch.obs)
    log_prob = nets.gaussian_log_prob(mean, log_std, batch.action)
    ratio = jnp.exp(log_prob - batch.log_prob)
    advantage = normalised_advantage(ppo_cfg, batch.advantage)
    clipped = jnp.clip(ratio, 1.0 - ppo_cfg.clip_eps, 1.0 + ppo_cfg.clip_eps)
    policy_loss = -jnp.mean(jnp.minimum(ratio * advantage, clipped * advantage))
    kl = jnp.mean(nets.gaussian_kl(mean, log_std, batch.old_mean, jnp.broadcast_to(old_log_std, mean.shape)))
    value_loss = jnp.mean((nets.value(networks, params.value, normalizer, batch.obs) - batch.target) ** 2)
    entropy = jnp.mean(nets.gaussian_entropy(log_std))
    loss = policy_loss + eta * kl + ppo_cfg.value_coef * value_loss - ppo_cfg.entropy_coef * entropy
    return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy, "kl_penalty": kl}


# ---------------------------------------------------------------------------------------------


def validate_demos(demos: Demonstrations, env: Env) -> None:
    """Demonstrations must come from an environment with the learner's sizes."""
    spec = demos.env_spec
    for key, expected in (("observation_size", env.observation_size), ("action_size", env.action_size)):
        if spec.get(key) != expected:
            raise InvalidDemonstrationError(
                f"demonstrations: env_spec.{key} is {spec.get(key)!r} but the environment {env.spec.name!r} has {expected}"
            )


def make_trirl(env: Env, config: TRIRLConfig, demos: Demonstrations) -> Learner:
    """TRIRL (Algorithm 2) for a (not auto-reset) ``env`` and expert ``demos``."""
    validate_demos(demos, env)
    ppo = make_ppo(env, config.ppo)
    networks, ppo_cfg, dcfg, bcfg = ppo.networks, config.ppo, config.discriminator, config.buffer
    mode = dcfg.input_mode
    expert = expert_batch(demos, mode)
    obs_dim, x_dim = env.observation_size, input_dim(env, mode)
    schedule = parse_eta_schedule(str(config.eta_schedule))
    eta_table = jnp.asarray([schedule(i) for i in range(config.iterations)], jnp.float32)
    absorbing_input = absorbing_sample(obs_dim, x_dim)

    def init(key) -> TRIRLState:
        ppo_key, disc_key, buf_key = jax.random.split(key, 3)
        return TRIRLState(ppo.init(ppo_key), disc.init(dcfg, disc_key, obs_dim, x_dim),
                          buffer_lib.init(bcfg, buf_key, obs_dim, x_dim), jnp.zeros((), jnp.int32))

    def step(state: TRIRLState, key):
        rollout_key, disc_key, update_key, fit_key = jax.random.split(key, 4)
        ps = state.ppo
        env_state, collected = rollout(ppo.env, networks, ps.params, ps.normalizer, ps.env_state,
                                       rollout_key, ppo_cfg.rollout_length)
        transitions = collected.transitions
        # Alg. 2 line 8: the newest discriminator on expert vs pi^(i) samples.
        disc_state, disc_metrics = disc.update(dcfg, state.disc, expert, agent_batch(transitions, mode), disc_key)
        # Lines 17-24: corrected and intermediate rewards of the rollout and of s_a.
        obs, other, _ = agent_inputs(transitions, mode)
        not_absorbing = jnp.zeros(obs.shape[0])
        out = buffer_lib.rewards(bcfg, state.buffer, disc_state.params, obs, other, not_absorbing)
        r_absorbing = buffer_lib.rewards(bcfg, state.buffer, disc_state.params, *absorbing_input).intermediate[0]
        # Line 25: R_fit regression onto r^(i), on the agent's and as many expert samples, so that
        # the fitted reward is also anchored where the expert goes (retraining starts far from it).
        fit_idx = jax.random.randint(fit_key, (obs.shape[0],), 0, expert.obs.shape[0])
        buf, fit_metrics = buffer_lib.fit_reward(
            bcfg, state.buffer, jnp.concatenate([obs, expert.obs[fit_idx]]),
            jnp.concatenate([other, expert.action_or_next_obs[fit_idx]]),
            jnp.concatenate([not_absorbing, expert.absorbing[fit_idx]]))
        rewards = out.intermediate.reshape(transitions.reward.shape)
        absorbing_value = ppo_cfg.gamma / (1.0 - ppo_cfg.gamma) * r_absorbing
        advantage, target = gae_advantages(networks, ps.params, ps.normalizer, transitions, rewards, ppo_cfg,
                                           absorbing_value)
        batch = flat_ppo_batch(networks, ps, transitions, advantage, target, ppo_cfg.batch_size)
        old_log_std = jax.lax.stop_gradient(ps.params.policy.log_std)
        scheduled_eta = eta_table[jnp.minimum(state.iteration, eta_table.shape[0] - 1)]
        if config.variant == "max-eta":
            def loss_fn(params, minibatch):
                return trpl_loss(networks, config, ps.normalizer, params, minibatch, old_log_std)
        else:
            def loss_fn(params, minibatch):
                return kl_penalty_loss(networks, config, ps.normalizer, params, minibatch, old_log_std,
                                       scheduled_eta)
        params, opt_state, loss_metrics = ppo_update(networks, ppo.optimizer, ppo_cfg, ps.params, ps.opt_state,
                                                     ps.normalizer, batch, update_key, loss_fn)
        new_mean, _ = nets.policy_distribution(networks, params.policy, ps.normalizer, batch.obs)
        if config.variant == "max-eta":
            # Line 30: eta^(i+1) of the final policy, the max over the batch (Section 4.3).
            eta = trpl.project(config.trust_region, new_mean, params.policy.log_std, batch.old_mean,
                               old_log_std).eta
        else:
            eta = scheduled_eta
        eta = jax.lax.stop_gradient(eta)
        buf = buffer_lib.push(buf, disc_state.params, eta)  # line 32
        kl = jnp.mean(nets.gaussian_kl(new_mean, params.policy.log_std, batch.old_mean, old_log_std))
        normalizer = nets.update_normalizer(ps.normalizer, transitions.obs) if ppo_cfg.normalize_observations \
            else ps.normalizer
        metrics = {
            "iteration": state.iteration + 1,
            "eta": eta,
            "eps_tr": corrected_step(bcfg.eps, eta),
            "policy_kl": kl,
            "disc_loss": disc_metrics.loss,
            "expert_accuracy": disc_metrics.expert_accuracy,
            "agent_accuracy": disc_metrics.agent_accuracy,
            "reward_mean": jnp.mean(out.intermediate),
            "corrected_reward_mean": jnp.mean(out.corrected),
            "absorbing_reward": r_absorbing,
            "fit_mse": fit_metrics.mse_after,
            "log_std_mean": jnp.mean(params.policy.log_std),
            **loss_metrics,
            **episode_metrics(collected),
        }
        new_ppo = PPOState(params, opt_state, normalizer, env_state, ps.iteration + 1)
        return TRIRLState(new_ppo, disc_state, buf, state.iteration + 1), metrics

    def learnt_reward(state: TRIRLState, obs, other, absorbing):
        """The corrected reward ``r^(i)`` of the buffer (what retraining and transfer use)."""
        return buffer_lib.corrected_rewards(bcfg, state.buffer, obs, other, absorbing)

    return Learner(f"trirl-{config.variant}", ppo, init, step, learnt_reward)


__all__ = ["VARIANTS", "Learner", "TRBatch", "TRIRLConfig", "TRIRLState", "agent_batch", "agent_inputs",
           "expert_batch", "kl_penalty_loss", "make_trirl", "trpl_loss", "validate_demos"]
