"""Circular buffer of discriminators and the corrected TRIRL reward (paper Section 4.2, Alg. 2).

Repeating the function-space update (Eq. 2) makes the reward a weighted sum of *every*
discriminator ever trained. TRIRL keeps only the ``k`` most recent ones plus a parametric reward
``R_fit`` that stands in for everything older; because each update shrinks older terms by
``(1 - eps_tr)``, the fit's error is forgotten exponentially (weight ``prod_j (1 - eps_tr_j)``).

Indexing, following Algorithm 1 (the theory) exactly. With ``D^(j) ~ log(rho_E / rho_pi^(j))``
learnt on rollouts of ``pi^(j)``, iteration ``i`` builds the intermediate reward
``r~^(i+1) = (1 - eps) r^(i) + eps beta D^(i)`` (Alg. 1 line 5), learns the trust-region policy
``pi^(i+1)`` on it and reads off its multiplier ``eta^(i+1)``; the corrected reward is then
``r^(i+1) = U_{eps / (1 + eta^(i+1))} r^(i)`` with ``D^(i)`` (line 8, Theorem 3.2). So each
buffer slot holds a *completed pair* ``(D^(j), eta^(j+1))`` together with ``R_fit`` params fitted
to ``r^(j)``, the reward the pair was applied to. At iteration ``i`` (after ``i`` pushes) the
buffer holds the pairs ``j = i-k .. i-1`` and

    corrected    r^(i)    = fold_{j = i-k}^{i-1}  corrected_reward(r, D^(j), eps, beta, eta^(j+1)),
                            starting from r = R_fit ~ r^(i-k)  (exactly r^(0) = 0 while i <= k)
    intermediate r~^(i+1) = function_space_update(r^(i), D^(i), eps, beta).

Where the paper is ambiguous: Algorithm 2 (lines 17-24) zips the logits of all ``k + 1``
buffered discriminators, the newest ``D^(i)`` included, with ``{eta^(i)}`` and then adds the
newest logit once more in the intermediate reward. Read literally, that pairs ``D^(i)`` with
``eta^(i)`` (the multiplier of the policy whose rollouts trained it, not of the policy trained on
it) and counts it twice. We follow Algorithm 1 and Theorem 3.2 instead: ``D^(i)`` enters only the
intermediate reward until the policy update reveals ``eta^(i+1)``, and then joins the correction
chain (``push``). Memory-wise this is the same ``k + 1`` discriminators of Figure 3 (``k``
buffered pairs plus the newest, which the caller holds). While the buffer has not yet wrapped,
the start of the chain is the exact initial reward ``r^(0) = 0`` (Algorithm 1, line 1) rather
than a fit of it.

One TRIRL iteration uses this module as (Algorithm 2, max-eta variant)::

    disc_state, _ = discriminator.update(dcfg, disc_state, expert, agent, key)      # line 8
    out = reward.rewards(cfg, buf, disc_state.params, obs, act, absorbing)         # lines 17-24
    buf, _ = reward.fit_reward(cfg, buf, obs, act, absorbing)                      # line 25
    ... PPO + TRPL on out.intermediate -> eta = projection.eta                     # line 30
    buf = reward.push(buf, disc_state.params, eta)                                 # line 32

Everything is a pure function of a ``RewardBufferState``; the buffer's parameters are stacked
along a leading axis ``k``, and ``jax.vmap`` runs them as one network over ``CHUNK`` stacked
parameter sets at a time, only as many chunks as hold a pair (a buffer that is filling costs a
fraction of a full one). Inputs that never change (TRIRL's expert set and ``s_a``) need no
network at all after the push: ``push`` stores the pair's logits on them (``fixed_logits``) and
:func:`corrected_fixed` reads the chain off that cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from trirl.continuous import discriminator
from trirl.core import corrected_reward, function_space_update
from trirl.errors import InvalidConfigError


@dataclass(frozen=True)
class RewardBufferConfig:
    """The discriminator buffer and the fitted reward ``R_fit`` (paper Table 7 ranges).

    Attributes:
        capacity: ``k``, the number of (discriminator, eta) pairs kept (80 to 120 in the
            paper; even small ``k`` works, Figure 11).
        eps: the function-space step ``eps`` of Eq. 2 (0.45 to 0.75).
        beta: weight of the reverse KL in Eq. 1; rewards are ``beta`` times log ratios and
            the policy's entropy coefficient is ``1 / beta``.
        fit_steps: Adam steps of the ``R_fit`` regression per ``fit_reward`` call (warm
            started from the previous fit).
        fit_learning_rate: Adam step size of the ``R_fit`` regression.
        network: architecture and input mode shared by the discriminators and ``R_fit`` (the
            optimiser fields of this config are not used here).
    """

    capacity: int = 100
    eps: float = 0.6
    beta: float = 1.0
    fit_steps: int = 10
    fit_learning_rate: float = 1e-3
    network: discriminator.DiscriminatorConfig = field(default_factory=discriminator.DiscriminatorConfig)

    def __post_init__(self):
        if not (isinstance(self.capacity, int) and self.capacity >= 1):
            raise InvalidConfigError(f"RewardBufferConfig.capacity must be an integer >= 1, got {self.capacity!r}")
        if not (isinstance(self.eps, (int, float)) and 0.0 < self.eps <= 1.0):
            raise InvalidConfigError(f"RewardBufferConfig.eps must be in (0, 1], got {self.eps!r}")
        if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and self.beta > 0):
            raise InvalidConfigError(f"RewardBufferConfig.beta must be a finite number > 0, got {self.beta!r}")
        if not (isinstance(self.fit_steps, int) and self.fit_steps >= 0):
            raise InvalidConfigError(f"RewardBufferConfig.fit_steps must be an integer >= 0, got {self.fit_steps!r}")
        if not (isinstance(self.fit_learning_rate, (int, float)) and self.fit_learning_rate > 0):
            raise InvalidConfigError(
                f"RewardBufferConfig.fit_learning_rate must be a number > 0, got {self.fit_learning_rate!r}"
            )
        if not isinstance(self.network, discriminator.DiscriminatorConfig):
            raise InvalidConfigError("RewardBufferConfig.network must be a DiscriminatorConfig")


class RewardBufferState(NamedTuple):
    """The last ``k`` completed pairs and the fitted reward.

    Attributes:
        disc_params: discriminator parameters ``D^(j)``, every leaf stacked ``[k, ...]``.
        etas: ``[k]`` multipliers ``eta^(j+1)`` of the policy trained on ``D^(j)``'s
            intermediate reward.
        base_params: ``R_fit`` parameters fitted to ``r^(j)`` (the reward slot ``j`` was
            applied to), stacked ``[k, ...]``; the oldest slot's one starts the chain.
        index: next slot to write (``int32``).
        count: number of valid slots, ``min(pushes, k)`` (``int32``).
        pushes: number of pairs pushed so far (``int32``).
        fit_params: the current ``R_fit`` parameters (copied into a slot by ``push``).
        fit_opt_state: Adam state of the ``R_fit`` regression.
        fixed_logits: ``[k, M]`` logits of each slot's ``D^(j)`` on ``M`` fixed inputs (e.g. the
            expert set), written by ``push`` so that :func:`corrected_fixed` reads them instead of
            running the ``k`` networks again; ``M = 0`` keeps no cache.
        fixed_ready: ``[]`` bool, true when ``fixed_logits`` belongs to ``disc_params``; false in a
            state restored from a checkpoint written before the cache (the leaf was missing and
            starts at zero): :func:`refill_fixed` recomputes it.
    """

    disc_params: Any
    etas: jax.Array
    base_params: Any
    index: jax.Array
    count: jax.Array
    pushes: jax.Array
    fit_params: Any
    fit_opt_state: Any
    fixed_logits: jax.Array
    fixed_ready: jax.Array


class BufferRewards(NamedTuple):
    """Rewards of a batch of ``N`` transitions.

    Attributes:
        corrected: ``r^(i)``, the corrected reward of the buffered pairs, ``[N]``.
        intermediate: ``r~^(i+1) = (1 - eps) r^(i) + eps beta D^(i)``, the reward the policy
            optimises this iteration, ``[N]``.
        newest_logit: ``D^(i)``, the newest discriminator's logits, ``[N]``.
    """

    corrected: jax.Array
    intermediate: jax.Array
    newest_logit: jax.Array


class FitMetrics(NamedTuple):
    """Mean squared error of ``R_fit`` against the corrected reward, before and after fitting."""

    mse_before: jax.Array
    mse_after: jax.Array


def _fit_optimizer(config: RewardBufferConfig) -> optax.GradientTransformation:
    return optax.adam(config.fit_learning_rate)


def init(config: RewardBufferConfig, key, obs_dim: int, input_dim: int, num_fixed: int = 0) -> RewardBufferState:
    """An empty buffer (all slots invalid) and a freshly initialised ``R_fit``, caching the logits
    of ``num_fixed`` fixed inputs (0: no cache; :func:`fixed_cache_size` chooses it)."""
    template = discriminator.init_params(config.network, key, obs_dim, input_dim)
    stacked_zeros = jax.tree.map(lambda x: jnp.zeros((config.capacity,) + x.shape, x.dtype), template)
    return RewardBufferState(
        disc_params=stacked_zeros,
        etas=jnp.zeros(config.capacity),
        base_params=stacked_zeros,
        index=jnp.zeros((), jnp.int32),
        count=jnp.zeros((), jnp.int32),
        pushes=jnp.zeros((), jnp.int32),
        fit_params=template,
        fit_opt_state=_fit_optimizer(config).init(template),
        fixed_logits=jnp.zeros((config.capacity, num_fixed)),
        fixed_ready=jnp.ones((), bool),
    )


#: largest cache of fixed-input logits (``[k, M]`` float32) a buffer keeps, in bytes
CACHE_MAX_BYTES = 64 * 2**20


def fixed_cache_size(config: RewardBufferConfig, num_fixed: int, samples_per_iteration: int) -> int:
    """``M`` for :func:`init`: ``num_fixed`` when caching the buffered discriminators' logits on
    ``num_fixed`` fixed inputs saves work and fits :data:`CACHE_MAX_BYTES`, else 0 (no cache).

    The cache costs one network on the ``M`` inputs per ``push``; it saves ``k`` networks on the
    ``samples_per_iteration`` fixed samples an iteration reads (e.g. the expert half of the fit)."""
    saves = num_fixed <= config.capacity * samples_per_iteration
    return num_fixed if saves and 4 * config.capacity * num_fixed <= CACHE_MAX_BYTES else 0


def fixed_logits(config: RewardBufferConfig, disc_params, fixed) -> jax.Array:
    """Logits ``[M]`` of one discriminator on the fixed inputs ``fixed = (obs [M, O], x [M, D],
    absorbing [M])`` (what :func:`push` stores in the slot)."""
    return discriminator.logits(config.network, disc_params, *fixed)


def push(state: RewardBufferState, disc_params, eta, logits_fixed=None) -> RewardBufferState:
    """Append the completed pair ``(D^(i), eta^(i+1))``, overwriting the oldest when full.

    The slot also records the current ``R_fit`` (call ``fit_reward`` before ``push`` so that it
    approximates ``r^(i)``, the reward this pair corrects) and, with a cache (``M > 0``), the
    pair's logits on the fixed inputs ``logits_fixed [M]`` (:func:`fixed_logits`).
    """
    if jnp.ndim(eta) != 0:
        raise InvalidConfigError(f"eta must be a scalar multiplier, got shape {jnp.shape(eta)}")
    capacity, num_fixed = state.fixed_logits.shape
    if num_fixed and (logits_fixed is None or jnp.shape(logits_fixed) != (num_fixed,)):
        raise InvalidConfigError(f"push: the buffer caches logits on {num_fixed} fixed inputs, so logits_fixed "
                                 f"[{num_fixed}] must come with the pair (reward.fixed_logits), got "
                                 f"{None if logits_fixed is None else jnp.shape(logits_fixed)}")
    if num_fixed:
        state = state._replace(fixed_logits=state.fixed_logits.at[state.index].set(logits_fixed))

    def write(stacked, new):
        return stacked.at[state.index].set(new)

    return state._replace(
        disc_params=jax.tree.map(write, state.disc_params, disc_params),
        etas=state.etas.at[state.index].set(eta),
        base_params=jax.tree.map(write, state.base_params, state.fit_params),
        index=(state.index + 1) % capacity,
        count=jnp.minimum(state.count + 1, capacity),
        pushes=state.pushes + 1,
    )


def correct(base, logits, etas, valid, eps, beta):
    """The correction recursion of Algorithm 2 (lines 19-23) for one sample.

    ``base []`` is the reward the chain starts from, ``logits [k]`` and ``etas [k]`` the pairs
    in chronological order (oldest first) and ``valid [k]`` masks empty slots. Each valid pair
    applies ``r <- corrected_reward(r, logit, eps, beta, eta)`` (step ``eps / (1 + eta)``).
    Trailing axes of ``base`` and ``logits[j]`` broadcast.
    """

    def correction_step(r, pair):
        logit, eta, is_valid = pair
        return jnp.where(is_valid, corrected_reward(r, logit, eps, beta, eta), r), None

    r, _ = jax.lax.scan(correction_step, base, (logits, etas, valid))
    return r


def _chronological_slots(state: RewardBufferState):
    """Slot indices oldest-first and their validity; the oldest valid slot is ``index - count``."""
    capacity = state.etas.shape[0]
    position = jnp.arange(capacity)
    return (state.index - state.count + position) % capacity, position < state.count


def _check_inputs(obs, action_or_next_obs, absorbing):
    n = jnp.shape(obs)[0] if jnp.ndim(obs) == 2 else None
    if n is None or jnp.shape(action_or_next_obs)[:1] != (n,) or jnp.ndim(action_or_next_obs) != 2 \
            or jnp.shape(absorbing) != (n,):
        raise InvalidConfigError(
            "reward inputs must be obs [N, obs_dim], action_or_next_obs [N, D], absorbing [N]; got "
            f"{jnp.shape(obs)}, {jnp.shape(action_or_next_obs)}, {jnp.shape(absorbing)}"
        )


#: buffered discriminators evaluated at once (one vmapped network over their stacked parameters)
CHUNK = 10


def _chain_start(config: RewardBufferConfig, state: RewardBufferState, obs, action_or_next_obs, absorbing):
    """``[N]`` reward the correction chain starts from: ``beta R_fit`` of the oldest slot."""
    slots, _ = _chronological_slots(state)
    oldest_base = jax.tree.map(lambda x: x[slots[0]], state.base_params)
    # Until the buffer wraps, the chain starts at iteration 0, whose reward is exactly r^(0) = 0.
    # R_fit predicts r / beta (log-ratio units, where the network's outputs live) and is scaled back.
    fitted = discriminator.logits(config.network, oldest_base, obs, action_or_next_obs, absorbing)
    return jnp.where(state.pushes > state.count, config.beta * fitted, jnp.zeros(jnp.shape(obs)[:1]))


def _corrected(config: RewardBufferConfig, state: RewardBufferState, obs, action_or_next_obs, absorbing):
    net = config.network

    def run(params):
        return discriminator.logits(net, params, obs, action_or_next_obs, absorbing)

    capacity = state.etas.shape[0]
    chunk = min(CHUNK, capacity)
    base = _chain_start(config, state, obs, action_or_next_obs, absorbing)

    def correct_chunk(i, r):
        # pairs i * chunk ... (i + 1) * chunk - 1 in chronological order; those past count are empty
        position = i * chunk + jnp.arange(chunk)
        slot = (state.index - state.count + position) % capacity
        params = jax.tree.map(lambda x: x[slot], state.disc_params)
        logits = jax.vmap(run)(params)  # [chunk, N]
        return correct(r, logits, state.etas[slot], (position < state.count)[:, None], config.eps, config.beta)

    # only the chunks that hold a valid pair are evaluated: while the buffer fills, a fraction of k
    return jax.lax.fori_loop(0, (state.count + chunk - 1) // chunk, correct_chunk, base)


def corrected_rewards(config: RewardBufferConfig, state: RewardBufferState, obs, action_or_next_obs, absorbing):
    """``r^(i)`` for a batch ``obs [N, obs_dim], action_or_next_obs [N, D], absorbing [N]`` -> ``[N]``."""
    _check_inputs(obs, action_or_next_obs, absorbing)
    return _corrected(config, state, obs, action_or_next_obs, absorbing)


def corrected_fixed(config: RewardBufferConfig, state: RewardBufferState, indices, obs, action_or_next_obs,
                    absorbing):
    """:func:`corrected_rewards` of fixed inputs ``indices [N]`` (int, into the ``M`` cached ones),
    read off the cached logits (``state.fixed_logits``) instead of running the ``k`` networks;
    ``obs [N, O], action_or_next_obs [N, D], absorbing [N]`` are those inputs (``R_fit`` of the
    oldest slot, the chain's start, runs on them). Equal to :func:`corrected_rewards` up to the
    float rounding of one network run on ``M`` rows instead of ``N`` (the same arithmetic)."""
    _check_inputs(obs, action_or_next_obs, absorbing)
    if state.fixed_logits.shape[1] == 0:
        raise InvalidConfigError("corrected_fixed: the buffer caches no fixed inputs (init with num_fixed > 0)")
    slots, valid = _chronological_slots(state)
    logits = state.fixed_logits[:, indices][slots]  # [k, N], oldest first
    base = _chain_start(config, state, obs, action_or_next_obs, absorbing)
    return correct(base, logits, state.etas[slots], valid[:, None], config.eps, config.beta)


def refill_fixed(config: RewardBufferConfig, state: RewardBufferState, fixed) -> RewardBufferState:
    """``state`` with the cache ``fixed_logits`` recomputed from the buffered discriminators (one at
    a time) where ``fixed_ready`` is false (a checkpoint written before the cache), else unchanged.
    ``fixed``: the ``M`` fixed inputs, as for :func:`fixed_logits`."""
    fresh = jax.lax.map(lambda params: fixed_logits(config, params, fixed), state.disc_params)
    return state._replace(fixed_logits=jnp.where(state.fixed_ready, state.fixed_logits, fresh),
                          fixed_ready=jnp.ones((), bool))


def rewards(
    config: RewardBufferConfig, state: RewardBufferState, newest_disc_params, obs, action_or_next_obs, absorbing
) -> BufferRewards:
    """Corrected ``r^(i)`` and intermediate ``r~^(i+1)`` rewards of a batch, given the newest
    discriminator ``D^(i)`` (not yet in the buffer). Jittable with ``config`` static."""
    _check_inputs(obs, action_or_next_obs, absorbing)
    corrected = _corrected(config, state, obs, action_or_next_obs, absorbing)
    newest = discriminator.logits(config.network, newest_disc_params, obs, action_or_next_obs, absorbing)
    intermediate = function_space_update(corrected, newest, config.eps, config.beta)
    return BufferRewards(corrected=corrected, intermediate=intermediate, newest_logit=newest)


def fit_reward(
    config: RewardBufferConfig, state: RewardBufferState, obs, action_or_next_obs, absorbing, corrected=None
) -> tuple[RewardBufferState, FitMetrics]:
    """Regress ``R_fit`` onto the corrected reward of the batch (Algorithm 2, line 25):
    ``config.fit_steps`` full-batch Adam steps on the mean squared error, warm started.
    ``corrected [N]``: the batch's corrected reward :func:`corrected_rewards` if the caller has it
    (e.g. from :func:`rewards`), so that the ``k`` discriminators do not run on it again.

    ``R_fit`` predicts ``r^(i) / beta`` (the scale of the logits), so that a large ``beta`` (the
    paper's ``1 / entropy_coef``, ~1e3) does not ask the regression for outputs of that size;
    :func:`corrected_rewards` multiplies it back. ``metrics`` are in these units."""
    _check_inputs(obs, action_or_next_obs, absorbing)
    # In log-ratio units: the corrected reward is beta times a combination of logits, so the fit
    # regresses onto r / beta and ``_corrected`` multiplies its prediction by beta (exact for beta = 1).
    if corrected is None:
        corrected = _corrected(config, state, obs, action_or_next_obs, absorbing)
    elif jnp.shape(corrected) != jnp.shape(absorbing):
        raise InvalidConfigError(f"corrected must have shape [N] = {jnp.shape(absorbing)}, got {jnp.shape(corrected)}")
    target = jax.lax.stop_gradient(corrected / config.beta)
    optimizer = _fit_optimizer(config)

    def mse(params):
        prediction = discriminator.logits(config.network, params, obs, action_or_next_obs, absorbing)
        return jnp.mean(jnp.square(prediction - target))

    def fit_step(carry, _):
        params, opt_state = carry
        grads = jax.grad(mse)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    mse_before = mse(state.fit_params)
    (params, opt_state), _ = jax.lax.scan(
        fit_step, (state.fit_params, state.fit_opt_state), None, length=config.fit_steps
    )
    metrics = FitMetrics(mse_before=mse_before, mse_after=mse(params))
    return state._replace(fit_params=params, fit_opt_state=opt_state), metrics
