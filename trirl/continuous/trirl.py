"""The TRIRL learner on continuous control (paper Section 4, Algorithm 2).

One iteration is one pure, jittable ``step(state, key) -> (state, metrics)`` (``jax.vmap`` over
a leading seed axis trains several seeds at once) that reads as Algorithm 2:

1. **collect**: roll out the current policy ``pi^(i)`` for ``[T, B]`` steps
   (:func:`trirl.continuous.ppo.collect`);
2. **discriminator update**: ``D^(i) ~ log(rho_E / rho_pi^(i))`` on expert demonstrations vs the
   agent's transitions (Alg. 2 line 8, :mod:`trirl.continuous.discriminator`);
3. **rewards**: relabel the rollout with the intermediate reward ``r~ = (1 - eps) r^(i) + eps beta
   D^(i)`` built from the buffer's corrected reward ``r^(i)``, the k-discriminator correction
   (lines 17-24, :func:`trirl.continuous.reward.rewards`);
4. **reward fit**: regress ``R_fit`` on ``r^(i)`` (line 25) over the agent's samples and as many
   expert samples (our choice: it anchors the fitted reward where the expert goes, which
   retraining needs);
5. **policy improvement**: PPO epochs on ``r~`` (:func:`trirl.continuous.ppo.improve`) whose
   policy passes through the TRPL projection around the rollout policy (Section 4.3;
   :mod:`trirl.continuous.trpl`), with the trust-region regression loss;
6. **eta**: read off ``eta^(i+1)`` = the max-eta multiplier of the final projection on the whole
   batch (line 30);
7. **buffer push** of the completed pair ``(D^(i), eta^(i+1))`` (line 32).

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

Metrics (the names both halves share, :mod:`trirl.driver`): ``iteration, eta, eps_tr, policy_kl, disc_loss,
expert_accuracy, agent_accuracy, episode_return, env_steps`` plus diagnostics.
``reverse_kl`` and ``dual`` are not estimated on continuous tasks and are therefore absent.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trirl.continuous import discriminator as disc
from trirl.continuous import networks as nets
from trirl.continuous import reward as buffer_lib
from trirl.continuous import trpl
from trirl.continuous.demos import Demonstrations
from trirl.continuous.envs import features as feature_sets
from trirl.continuous.envs.base import Env
from trirl.continuous.ppo import PPO, Batch, PPOConfig, PPOState, collect, improve, make_ppo, normalised_advantage
from trirl.core import corrected_step, function_space_update, parse_eta_schedule, scaled_step_eta
from trirl.errors import InvalidConfigError, InvalidDemonstrationError

VARIANTS = ("max-eta", "tr-loss")
ACTING_POLICIES = ("network", "projected", "line-search")
ETA_SOURCES = ("projection", "step", "scaled-step")


@dataclass(frozen=True)
class TRIRLConfig:
    """Everything the TRIRL learner needs besides the environment and demonstrations.

    Attributes:
        variant: ``"max-eta"`` (TRPL projection, eta from it) or ``"tr-loss"`` (KL penalty
            with a scheduled eta).
        ppo: the policy optimiser. Its ``entropy_coef`` must equal ``1 / buffer.beta``: Eq. 1's
            entropy weight and the reverse-KL weight ``beta`` are one quantity (the paper's
            ``entropy_coef = 1 / beta``). The learner validates the relation rather than
            overwriting either field; PPO optimises the rewards divided by ``beta`` (log-ratio
            units, as the paper's code does), so ``r~ / beta + H / beta`` is Eq. 1's soft
            objective ``r~ + H`` scaled by ``1 / beta``.
        discriminator: the newest discriminator ``D^(i)`` (architecture, inputs, optimiser).
        buffer: the discriminator buffer: ``k``, ``eps``, ``beta``, ``R_fit``; its ``network``
            must be ``discriminator``, so that buffered and newest discriminators agree.
        trust_region: TRPL bounds and regression weight (max-eta variant).
        eta_schedule: a :func:`trirl.core.parse_eta_schedule` string (tr-loss variant).
        iterations: number of iterations the schedule table covers (the train driver sets it).
        acting_policy: which policy collects the rollouts (max-eta variant). ``"network"``: the
            policy network after the update, as the paper's code does; its KL to the previous
            rollout policy is not bounded, while ``eta`` is the multiplier of its projection.
            ``"projected"``: the network projected into the trust region around the previous
            iteration's network (``anchor``), the very policy the loss optimised and whose
            multiplier ``eta`` enters Theorem 3.2's correction. Both report ``rollout_kl``, the
            mean ``KL(pi_act^(i+1) || pi_act^(i))`` on the rollout's states (and
            ``rollout_kl_max``, the largest over those states), the next observation normaliser
            included. ``"line-search"``: the network acts, and its update is scaled back along
            the line from the rollout policy's parameters (:func:`trirl.continuous.trpl.line_search`)
            until, on every state of the rollout, the mean part of ``KL(pi_act^(i+1) ||
            pi_act^(i))`` is within ``eps_mean`` and the covariance part within ``eps_cov``: the
            trust region then holds between consecutive acting policies (Theorem 3.2's premise),
            and the loss's projection is centred on the policy that acted.
        eta_from: where ``eta^(i+1)`` comes from with ``acting_policy = "line-search"``:
            ``"projection"``, the max-eta of projecting the unscaled update around the rollout
            policy (the multiplier that brings the update into the trust region, Section 4.3);
            ``"step"``, ``1 / alpha - 1`` for the accepted step ``alpha`` (the mean projection's
            ``mu~ = mu_old + (mu - mu_old) / (1 + eta)`` read in parameter space), so that
            ``eps_tr = eps alpha``; ``"scaled-step"``, the projection's step scaled by the line
            search (:func:`trirl.core.scaled_step_eta`: ``eta = (1 + eta_p) / alpha - 1``,
            ``eps_tr = eps alpha / (1 + eta_p)``), which counts both shrinkages of the update and
            so is the conservative reading (``alpha`` scales the unprojected update). In the exact
            LQ iteration whose policy takes the fraction ``alpha`` of a trust-region step it holds
            the fixed point where the other two let the reward run ahead; ``trirl train`` on
            ``lqr`` does about as well with ``"projection"`` (book chapter 10).
    """

    variant: str = "max-eta"
    ppo: PPOConfig = PPOConfig(entropy_coef=1.0)  # 1 / beta for the default beta = 1
    discriminator: disc.DiscriminatorConfig = disc.DiscriminatorConfig()
    buffer: buffer_lib.RewardBufferConfig = buffer_lib.RewardBufferConfig()
    trust_region: trpl.TrustRegionConfig = trpl.TrustRegionConfig()
    eta_schedule: str = "1.0"
    iterations: int = 1
    acting_policy: str = "network"
    eta_from: str = "projection"

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise InvalidConfigError(f"TRIRLConfig.variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.acting_policy not in ACTING_POLICIES:
            raise InvalidConfigError(
                f"TRIRLConfig.acting_policy must be one of {ACTING_POLICIES}, got {self.acting_policy!r}")
        if self.acting_policy == "projected" and self.variant != "max-eta":
            raise InvalidConfigError("TRIRLConfig.acting_policy = 'projected' needs variant 'max-eta' (a projection)")
        if self.acting_policy == "line-search" and self.variant != "max-eta":
            raise InvalidConfigError("TRIRLConfig.acting_policy = 'line-search' needs variant 'max-eta' (a trust region)")
        if self.eta_from not in ETA_SOURCES:
            raise InvalidConfigError(f"TRIRLConfig.eta_from must be one of {ETA_SOURCES}, got {self.eta_from!r}")
        if self.eta_from != "projection" and self.acting_policy != "line-search":
            raise InvalidConfigError(f"TRIRLConfig.eta_from = {self.eta_from!r} needs acting_policy = 'line-search' "
                                     f"(a step size); with acting_policy = {self.acting_policy!r} use 'projection'")
        for name, kind in (("ppo", PPOConfig), ("discriminator", disc.DiscriminatorConfig),
                           ("buffer", buffer_lib.RewardBufferConfig), ("trust_region", trpl.TrustRegionConfig)):
            if not isinstance(getattr(self, name), kind):
                raise InvalidConfigError(f"TRIRLConfig.{name} must be a {kind.__name__}")
        parse_eta_schedule(str(self.eta_schedule))  # raises InvalidConfigError naming the schedule
        if not (isinstance(self.iterations, int) and self.iterations >= 1):
            raise InvalidConfigError(f"TRIRLConfig.iterations must be an integer >= 1, got {self.iterations!r}")
        if not math.isclose(self.ppo.entropy_coef * self.buffer.beta, 1.0, rel_tol=1e-6):
            raise InvalidConfigError(
                f"TRIRLConfig: [ppo] entropy_coef = {self.ppo.entropy_coef!r} must equal 1 / [buffer] beta = "
                f"{1.0 / self.buffer.beta!r} (Eq. 1's entropy weight is 1 / beta; set one from the other)"
            )
        if self.buffer.network != self.discriminator:
            raise InvalidConfigError("TRIRLConfig.buffer.network must be TRIRLConfig.discriminator: R_fit and the "
                                     "buffered discriminators share its architecture and input (build the buffer "
                                     "with network=discriminator)")


class TRIRLState(NamedTuple):
    """The learner's whole state (one seed; leaves get a leading seed axis under ``vmap``).

    Attributes:
        ppo: policy, critic, optimiser, observation normaliser and environments.
        disc: the newest discriminator ``D^(i)`` and its optimiser.
        buffer: the ``k`` completed ``(D^(j), eta^(j+1))`` pairs and ``R_fit``.
        iteration: completed iterations ``[]`` int32.
        anchor: the policy network of the previous iteration, ``pi_net^(i-1)``: the centre of the
            projection the acting policy passes through (``acting_policy = "projected"``).
    """

    ppo: PPOState
    disc: disc.DiscriminatorState
    buffer: buffer_lib.RewardBufferState
    iteration: jax.Array
    anchor: nets.PolicyParams


class Relabelled(NamedTuple):
    """The rewards of one rollout (Algorithm 2, lines 17-24), before the division by ``beta``."""

    obs: jax.Array  #: [T * B, O] the agent's samples as the discriminators see them
    other: jax.Array  #: [T * B, D] their actions or next states
    corrected: jax.Array  #: [T * B] the corrected reward r^(i) (the fit's target)
    intermediate: jax.Array  #: [T * B] the intermediate reward r~^(i+1) PPO optimises
    absorbing: jax.Array  #: [] r~^(i+1)(s_a), the absorbing state's intermediate reward


class Learner(NamedTuple):
    """An adversarial IRL algorithm: ``init(key) -> state``, ``step(state, key) -> (state, metrics)``.

    ``reward(state, obs, x, absorbing) -> [N]`` is the learnt reward a fresh PPO can be retrained
    on (TRIRL: the corrected reward of the buffer); ``ppo`` holds the env and networks.
    TRIRL also offers two of its step's parts, so that they can be timed alone (``trirl bench
    continuous --profile``): ``relabel(buffer, newest_params, transitions) -> Relabelled`` (lines
    17-24) and ``fit(buffer, relabelled, key) -> (buffer, metrics)`` (line 25); None for the baselines.
    ``restore(states) -> states``: the states (leading seed axis) of a checkpoint made whole for
    ``step`` (TRIRL: the buffer's logit cache refilled where the checkpoint predates it); None: as read.
    """

    name: str
    ppo: PPO
    init: Callable[[jax.Array], Any]
    step: Callable[[Any, jax.Array], tuple[Any, dict[str, jax.Array]]]
    reward: Callable[..., jax.Array]
    relabel: Callable[..., Relabelled] | None = None
    fit: Callable[..., tuple[Any, dict[str, jax.Array]]] | None = None
    restore: Callable[[Any], Any] | None = None


# ---------------------------------------------------------------------------------------------
# Policy losses of the two variants.


def trpl_loss(networks, config: TRIRLConfig, normalizer, params, batch: Batch, old_log_std):
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


def kl_penalty_loss(networks, config: TRIRLConfig, normalizer, params, batch: Batch, old_log_std, eta):
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


def scale_back_policy(networks, trust_region: trpl.TrustRegionConfig, old: nets.PolicyParams,
                      candidate: nets.PolicyParams, normalizer, obs, old_mean, old_log_std):
    """The policy update ``old -> candidate`` scaled by the largest ``alpha`` in [0, 1] that keeps
    the next acting policy (with the next ``normalizer``) inside both bounds around the rollout
    policy ``(old_mean [N, A], old_log_std [A])`` on every state ``obs [N, O]``
    (:func:`trirl.continuous.trpl.line_search`); returns ``(policy, alpha [])``."""

    def violation(alpha):
        policy = trpl.interpolate(old, candidate, alpha)
        mean, _ = nets.policy_distribution(networks, policy, normalizer, obs)
        parts = jax.vmap(trpl.gaussian_kl_parts, in_axes=(0, None, 0, None))(mean, policy.log_std, old_mean,
                                                                             old_log_std)
        return jnp.maximum(jnp.max(parts.mean) / trust_region.eps_mean, jnp.max(parts.cov) / trust_region.eps_cov)

    alpha = trpl.line_search(violation, trust_region.line_search_steps)
    return trpl.interpolate(old, candidate, alpha), alpha


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
    if config.discriminator.features:
        feature_sets.check_env(config.discriminator.features, env.spec.name)
    ppo = make_ppo(env, config.ppo)
    networks, dcfg, bcfg = ppo.networks, config.discriminator, config.buffer
    mode = dcfg.input_mode
    expert = disc.expert_batch(demos, mode)
    obs_dim, x_dim = env.observation_size, disc.input_dim(env, mode)
    schedule = parse_eta_schedule(str(config.eta_schedule))
    eta_table = jnp.asarray([schedule(i) for i in range(config.iterations)], jnp.float32)
    absorbing_input = disc.absorbing_sample(obs_dim, x_dim)
    # The buffered discriminators' logits on the fixed inputs (the expert set, then s_a) are cached
    # at push time (reward.fixed_cache_size): the fit's expert half and r(s_a) read them.
    fixed = tuple(jnp.concatenate([e, a]) for e, a in zip(expert, absorbing_input))
    num_fixed = buffer_lib.fixed_cache_size(bcfg, fixed[0].shape[0], config.ppo.batch_size)

    def init(key) -> TRIRLState:
        ppo_key, disc_key, buf_key = jax.random.split(key, 3)
        ppo_state = ppo.init(ppo_key)
        return TRIRLState(ppo_state, disc.init(dcfg, disc_key, obs_dim, x_dim),
                          buffer_lib.init(bcfg, buf_key, obs_dim, x_dim, num_fixed), jnp.zeros((), jnp.int32),
                          ppo_state.params.policy)

    def acting_distribution(ps: PPOState, anchor):
        """``obs -> (mean, log_std)`` of the network projected around ``anchor`` (eps bounds)."""
        tr = config.trust_region
        log_std, _ = trpl.project_cov(ps.params.policy.log_std, anchor.log_std, tr.eps_cov, tr.bisection_steps)

        def distribution(obs):
            mean, _ = nets.policy_distribution(networks, ps.params.policy, ps.normalizer, obs)
            centre, _ = nets.policy_distribution(networks, anchor, ps.normalizer, obs)
            return trpl.project_mean(mean, centre, anchor.log_std, tr.eps_mean)[0], log_std

        return distribution

    def scale_back(ps: PPOState, new_ppo: PPOState, obs, old_mean, old_log_std):
        """``new_ppo`` with its policy update scaled back into the trust region (:func:`scale_back_policy`)."""
        policy, alpha = scale_back_policy(networks, config.trust_region, ps.params.policy, new_ppo.params.policy,
                                          new_ppo.normalizer, obs, old_mean, old_log_std)
        return new_ppo._replace(params=new_ppo.params._replace(policy=policy)), alpha

    def relabel(buffer, newest_params, transitions) -> Relabelled:
        """Lines 17-24: the corrected ``r^(i)`` and intermediate ``r~^(i+1)`` rewards of the rollout
        and of ``s_a`` from the buffer and the newest discriminator ``D^(i)``."""
        obs, other, _ = disc.agent_inputs(transitions, mode)
        not_absorbing = jnp.zeros(obs.shape[0])
        out = buffer_lib.rewards(bcfg, buffer, newest_params, obs, other, not_absorbing)
        if num_fixed:  # r^(i)(s_a) from the cache, the last fixed input
            corrected = buffer_lib.corrected_fixed(bcfg, buffer, jnp.asarray([num_fixed - 1]), *absorbing_input)
            newest = disc.logits(dcfg, newest_params, *absorbing_input)
            r_absorbing = function_space_update(corrected, newest, bcfg.eps, bcfg.beta)[0]
        else:
            r_absorbing = buffer_lib.rewards(bcfg, buffer, newest_params, *absorbing_input).intermediate[0]
        return Relabelled(obs, other, out.corrected, out.intermediate, r_absorbing)

    def fit(buffer, relabelled: Relabelled, key):
        """Line 25: ``R_fit`` regressed onto ``r^(i)`` on the agent's and as many expert samples, so
        that the fitted reward is also anchored where the expert goes (retraining starts far from it).
        The agent's target comes from ``relabel`` (the k discriminators run once per sample)."""
        obs, other = relabelled.obs, relabelled.other
        not_absorbing = jnp.zeros(obs.shape[0])
        fit_idx = jax.random.randint(key, (obs.shape[0],), 0, expert.obs.shape[0])
        expert_fit = (expert.obs[fit_idx], expert.action_or_next_obs[fit_idx], expert.absorbing[fit_idx])
        if num_fixed:  # the expert set is the cache's first inputs
            expert_corrected = buffer_lib.corrected_fixed(bcfg, buffer, fit_idx, *expert_fit)
        else:
            expert_corrected = buffer_lib.corrected_rewards(bcfg, buffer, *expert_fit)
        return buffer_lib.fit_reward(
            bcfg, buffer, jnp.concatenate([obs, expert_fit[0]]), jnp.concatenate([other, expert_fit[1]]),
            jnp.concatenate([not_absorbing, expert_fit[2]]),
            corrected=jnp.concatenate([relabelled.corrected, expert_corrected]))

    def policy_loss(ps: PPOState, old_log_std, scheduled_eta):
        """The policy loss of the variant around the rollout policy of ``ps``."""
        if config.variant == "max-eta":
            return functools.partial(trpl_loss, networks, config, ps.normalizer, old_log_std=old_log_std)
        return functools.partial(kl_penalty_loss, networks, config, ps.normalizer, old_log_std=old_log_std,
                                 eta=scheduled_eta)

    def step(state: TRIRLState, key):
        """One iteration of Algorithm 2, in its order (module doc, steps 1-7)."""
        rollout_key, disc_key, update_key, fit_key = jax.random.split(key, 4)
        ps = state.ppo
        scheduled_eta = eta_table[jnp.minimum(state.iteration, eta_table.shape[0] - 1)]
        old_log_std = jax.lax.stop_gradient(ps.params.policy.log_std)
        distribution = acting_distribution(ps, state.anchor) if config.acting_policy == "projected" else None
        # 1. collect: roll out pi^(i) (lines 4-6)
        acted, collected = collect(ppo, ps, rollout_key, distribution)
        transitions = collected.transitions
        # 2. discriminator update: D^(i) on expert vs pi^(i) samples (line 8)
        disc_state, disc_metrics = disc.update(dcfg, state.disc, expert, disc.agent_batch(transitions, mode), disc_key)
        # 3. rewards with the k-discriminator correction (lines 17-24)
        relabelled = relabel(state.buffer, disc_state.params, transitions)
        # 4. reward fit (line 25)
        buf, fit_metrics = fit(state.buffer, relabelled, fit_key)
        # 5. policy improvement on r~ / beta with entropy weight 1 / beta (Eq. 1 scaled by 1 / beta)
        rewards = relabelled.intermediate.reshape(transitions.reward.shape) / bcfg.beta
        new_ppo, improved = improve(ppo, acted, collected, rewards, relabelled.absorbing / bcfg.beta, update_key,
                                    policy_loss(ps, old_log_std, scheduled_eta))
        batch, extra = improved.batch, {}
        # 6. eta^(i+1) (line 30): max-eta, the max over the batch of the final projection (Section 4.3)
        if config.variant == "max-eta":
            eta = trpl.project(config.trust_region, improved.new_mean, new_ppo.params.policy.log_std, batch.old_mean,
                               old_log_std).eta
        else:
            eta = scheduled_eta
        if config.acting_policy == "line-search":
            new_ppo, alpha = scale_back(ps, new_ppo, batch.obs, batch.old_mean, old_log_std)
            extra["step_fraction"], extra["projection_eta"] = alpha, eta
            if config.eta_from == "step":
                eta = (1.0 - alpha) / jnp.maximum(alpha, jnp.finfo(alpha.dtype).tiny)
            elif config.eta_from == "scaled-step":  # alpha = 0 (no step): a large finite eta, the reward stays
                eta = scaled_step_eta(eta, jnp.maximum(alpha, jnp.finfo(alpha.dtype).eps))
        rollout_kl = acting_kl(ps, new_ppo, state.anchor, distribution, batch, old_log_std)
        eta = jax.lax.stop_gradient(eta)
        # 7. buffer push of the completed pair (D^(i), eta^(i+1)) (line 32)
        buf = buffer_lib.push(buf, disc_state.params, eta,
                              buffer_lib.fixed_logits(bcfg, disc_state.params, fixed) if num_fixed else None)
        metrics = {
            **improved.metrics,
            "disc_loss": disc_metrics.loss,
            "expert_accuracy": disc_metrics.expert_accuracy,
            "agent_accuracy": disc_metrics.agent_accuracy,
            "corrected_reward_mean": jnp.mean(relabelled.corrected),
            "fit_mse": fit_metrics.mse_after,
            "iteration": state.iteration + 1,
            "eta": eta,
            "eps_tr": corrected_step(bcfg.eps, eta),
            "rollout_kl": jnp.mean(rollout_kl),
            "rollout_kl_max": jnp.max(rollout_kl),
            **extra,
        }
        return TRIRLState(new_ppo, disc_state, buf, state.iteration + 1, ps.params.policy), metrics

    def acting_kl(ps: PPOState, new_ppo: PPOState, anchor, distribution, batch: Batch, old_log_std):
        """``KL(pi_act^(i+1) || pi_act^(i))`` ``[T * B]`` between consecutive acting policies on the
        rollout's states, each with its normaliser (the trust region Theorem 3.2 assumes)."""
        if config.acting_policy == "projected":
            act_mean, act_log_std = jax.vmap(distribution)(batch.obs)
            new_act = jax.vmap(acting_distribution(new_ppo, ps.params.policy))(batch.obs)
        else:
            act_mean, act_log_std = batch.old_mean, jnp.broadcast_to(old_log_std, batch.old_mean.shape)
            new_act = nets.policy_distribution(networks, new_ppo.params.policy, new_ppo.normalizer, batch.obs)
        return nets.gaussian_kl(*new_act, act_mean, act_log_std)

    def learnt_reward(state: TRIRLState, obs, other, absorbing):
        """The corrected reward ``r^(i) / beta`` of the buffer (what retraining and transfer use;
        divided by ``beta`` like the rewards PPO is trained on, entropy weight ``1 / beta``)."""
        return buffer_lib.corrected_rewards(bcfg, state.buffer, obs, other, absorbing) / bcfg.beta

    def restore(states: TRIRLState) -> TRIRLState:
        """Checkpointed states ``[seeds, ...]``: the logit cache refilled if the checkpoint predates it."""
        if not num_fixed or bool(jnp.all(states.buffer.fixed_ready)):
            return states
        refill = jax.jit(jax.vmap(lambda buffer: buffer_lib.refill_fixed(bcfg, buffer, fixed)))
        return states._replace(buffer=refill(states.buffer))

    return Learner(f"trirl-{config.variant}", ppo, init, step, learnt_reward, relabel, fit, restore)


__all__ = ["ACTING_POLICIES", "ETA_SOURCES", "VARIANTS", "Learner", "TRIRLConfig", "TRIRLState", "kl_penalty_loss", "make_trirl",
           "scale_back_policy", "trpl_loss", "validate_demos"]
