"""Generalised advantage estimation (Schulman et al., 2016) with absorbing states (paper C.4).

One function on one trajectory of ``T`` steps; callers ``vmap`` over the batch axis. The
one-step target distinguishes the two kinds of episode end:

    delta_t = r_t + (absorbing_t ? V(s_a) : gamma V(s'_t)) - V(s_t)
    A_t     = delta_t + gamma lambda (1 - done_t) A_{t+1}

``s'_t`` is the *true* next observation (also after a time-limit truncation, which bootstraps),
``done_t`` cuts the recursion at every episode boundary, and ``V(s_a)`` is the value of the
absorbing state: 0 for the true environment reward, ``gamma / (1 - gamma) r(s_a)`` with a learnt
absorbing reward (paper C.4, after Kostrikov et al., 2019).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(rewards, values, next_values, absorbing, done, gamma: float, lam: float, absorbing_value=0.0):
    """Advantages and value targets ``(A [T], A + V [T])`` of one trajectory.

    ``rewards, values, next_values`` are ``[T]`` floats (``next_values[t] = V(s'_t)``),
    ``absorbing, done`` are ``[T]`` bools, ``absorbing_value`` a scalar or ``[T]``.
    """
    bootstrap = jnp.where(absorbing, absorbing_value, gamma * next_values)
    deltas = rewards + bootstrap - values
    decay = gamma * lam * (1.0 - done.astype(deltas.dtype))

    def backward(advantage, step):
        delta, keep = step
        advantage = delta + keep * advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(deltas[0]), (deltas, decay), reverse=True)
    return advantages, advantages + values
