"""Policy and value networks, the Gaussian policy's maths and running observation normalisation.

The policy is ``pi(a|s) = N(mu_theta(s), diag(exp(log_std))^2)`` with a **state-independent**
``log_std`` parameter (a vector of length ``action_size``), as TRPL (paper Sec. 4, C.3) needs to
project the mean per state and the covariance once. Networks are tanh MLPs (paper C.5: 3 x 256).
Observations are normalised by running statistics held *outside* the parameters, so gradient
steps never touch them and a discriminator can share them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# float32 log(2 pi), the value jnp.log gave, as a Python float: JAX computes nothing at import
# (jax.distributed starts after the imports, trirl.continuous.distributed)
LOG_2PI = float(np.float32(math.log(2.0 * math.pi)))


class MLP(nn.Module):
    """A tanh MLP with a linear output layer of width ``out``."""

    hidden: Sequence[int]
    out: int
    out_scale: float = 1.0  #: scale of the orthogonal init of the last layer (0.01 for policy means)

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.tanh(nn.Dense(width, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)))(x))
        return nn.Dense(self.out, kernel_init=nn.initializers.orthogonal(self.out_scale))(x)


class PolicyParams(NamedTuple):
    mean: dict  #: flax params of the mean network mu_theta
    log_std: jax.Array  #: [A] state-independent log standard deviation


class ActorCriticParams(NamedTuple):
    policy: PolicyParams
    value: dict  #: flax params of the critic V(s)


class NormalizerState(NamedTuple):
    """Running mean and variance of observations (Chan et al. parallel update)."""

    mean: jax.Array  #: [obs]
    var: jax.Array  #: [obs]
    count: jax.Array  #: [] number of observations seen


class Networks(NamedTuple):
    """The two flax modules; ``apply`` functions below take their params explicitly."""

    mean: MLP
    value: MLP


def make_networks(action_size: int, policy_hidden: Sequence[int], value_hidden: Sequence[int]) -> Networks:
    return Networks(MLP(tuple(policy_hidden), action_size, 0.01), MLP(tuple(value_hidden), 1, 1.0))


def init_params(networks: Networks, key: jax.Array, observation_size: int, action_size: int, init_log_std: float) -> ActorCriticParams:
    mean_key, value_key = jax.random.split(key)
    dummy = jnp.zeros((observation_size,))
    # a strong float dtype: a weak-typed log_std (from the Python float) would differ in type from
    # the one an update returns, and every jitted step would compile twice more
    policy = PolicyParams(networks.mean.init(mean_key, dummy), jnp.full((action_size,), init_log_std, float))
    return ActorCriticParams(policy, networks.value.init(value_key, dummy))


# -- observation normalisation -------------------------------------------------------------------
def init_normalizer(observation_size: int) -> NormalizerState:
    return NormalizerState(jnp.zeros(observation_size), jnp.ones(observation_size), jnp.zeros(()))


def update_normalizer(state: NormalizerState, batch: jax.Array) -> NormalizerState:
    """Merge a batch ``[N, obs]`` (any leading axes are flattened) into the running statistics."""
    batch = batch.reshape(-1, batch.shape[-1])
    n = batch.shape[0]
    batch_mean, batch_var = batch.mean(0), batch.var(0)
    total = state.count + n
    delta = batch_mean - state.mean
    mean = state.mean + delta * n / total
    m2 = state.var * state.count + batch_var * n + delta**2 * state.count * n / total
    return NormalizerState(mean, m2 / total, total)


def normalize(state: NormalizerState, obs: jax.Array, clip: float = 10.0) -> jax.Array:
    return jnp.clip((obs - state.mean) / jnp.sqrt(state.var + 1e-8), -clip, clip)


# -- the Gaussian policy on one (or a broadcast batch of) observation(s) --------------------------
def policy_distribution(networks: Networks, params: PolicyParams, normalizer: NormalizerState, obs):
    """``(mean [A], log_std [A])`` of ``pi(.|obs)``; TRPL projects exactly these two."""
    mean = networks.mean.apply(params.mean, normalize(normalizer, obs))
    return mean, jnp.broadcast_to(params.log_std, mean.shape)


def value(networks: Networks, params: dict, normalizer: NormalizerState, obs) -> jax.Array:
    return networks.value.apply(params, normalize(normalizer, obs))[..., 0]


def gaussian_log_prob(mean, log_std, action) -> jax.Array:
    """``log N(action; mean, diag(exp(log_std))^2)`` summed over the last (action) axis."""
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=-1)


def gaussian_entropy(log_std) -> jax.Array:
    return jnp.sum(log_std + 0.5 * (1.0 + LOG_2PI), axis=-1)


def gaussian_kl(mean, log_std, old_mean, old_log_std) -> jax.Array:
    """``KL(pi_new || pi_old)`` between diagonal Gaussians, summed over the action axis.

    The mean and covariance parts of :func:`trirl.continuous.trpl.gaussian_kl_parts`, computed
    from the log-std difference (``expm1(x) - x``): the textbook ``var / old_var - 1 - log(...)``
    loses every digit of a small KL in float32 and overflows for large log-std jumps.
    """
    from trirl.continuous.trpl import gaussian_kl_parts

    parts = gaussian_kl_parts(mean, log_std, old_mean, old_log_std)
    return parts.mean + parts.cov


def sample_action(mean, log_std, key) -> jax.Array:
    return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
