"""The buffer's cache of the buffered discriminators' logits on fixed inputs (trirl.continuous.reward):
read off the cache, the corrected reward equals the one from running the k networks afresh; a
checkpoint written before the cache existed still resumes, the cache refilled.

Tolerance. Cached and fresh rewards do the same arithmetic; only the row count of each
network's matrix products differs (``M`` fixed inputs at push time against the ``N`` samples
read), which may change the float32 rounding of a dot product by a few units in the last place
(``2**-23 ~ 1.2e-7`` relative per rounding). The corrected reward is a combination of the logits
with weights that sum to at most ``beta`` (a chain of convex steps), so its error stays within a
few ulps of its scale: ``rtol = atol / scale = 1e-6`` (8 ulps).
"""

import dataclasses

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from trirl.continuous import discriminator as disc  # noqa: E402
from trirl.continuous import reward  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = pytest.mark.continuous

OBS_DIM, X_DIM, M = 3, 2, 40
NETWORK = disc.DiscriminatorConfig(hidden_sizes=(16, 8))
ULPS = 1e-6


def _fixed(seed=0, n=M):
    rng = np.random.default_rng(seed)
    absorbing = (rng.uniform(size=n) < 0.1).astype(np.float32)
    return (jnp.asarray(rng.normal(size=(n, OBS_DIM)), jnp.float32),
            jnp.asarray(rng.normal(size=(n, X_DIM)), jnp.float32), jnp.asarray(absorbing))


def _filled(config, pushes, fixed, seed=0):
    """A caching buffer after ``pushes`` pairs of random discriminators and fits."""
    state = reward.init(config, jax.random.PRNGKey(seed), OBS_DIM, X_DIM, fixed[0].shape[0])
    push = jax.jit(reward.push)
    for t in range(pushes):
        params = disc.init_params(NETWORK, jax.random.PRNGKey(100 + t), OBS_DIM, X_DIM)
        fit = disc.init_params(NETWORK, jax.random.PRNGKey(200 + t), OBS_DIM, X_DIM)
        state = state._replace(fit_params=fit)
        state = push(state, params, jnp.float32(0.3 * t), reward.fixed_logits(config, params, fixed))
    return state


@pytest.mark.parametrize("pushes", [1, 3, 7])  # filling, full, wrapped (the chain starts at R_fit)
def test_cached_corrected_rewards_equal_freshly_evaluated_ones(pushes):
    config = reward.RewardBufferConfig(capacity=4, eps=0.6, beta=3.0, network=NETWORK)
    fixed = _fixed()
    state = _filled(config, pushes, fixed)
    indices = jnp.asarray(np.random.default_rng(1).integers(0, M, 64))  # with repeats, as the fit draws them
    inputs = tuple(x[indices] for x in fixed)
    cached = np.asarray(jax.jit(reward.corrected_fixed, static_argnums=0)(config, state, indices, *inputs))
    fresh = np.asarray(jax.jit(reward.corrected_rewards, static_argnums=0)(config, state, *inputs))
    scale = np.max(np.abs(fresh))
    assert scale > 0.1  # the rewards are not trivially zero
    np.testing.assert_allclose(cached, fresh, rtol=ULPS, atol=ULPS * scale)


def test_push_needs_the_logits_of_a_caching_buffer_and_refill_rebuilds_them():
    config = reward.RewardBufferConfig(capacity=3, network=NETWORK)
    fixed = _fixed(2)
    state = _filled(config, 5, fixed)
    params = disc.init_params(NETWORK, jax.random.PRNGKey(9), OBS_DIM, X_DIM)
    with pytest.raises(InvalidConfigError, match=r"fixed inputs.*logits_fixed \[40\]"):
        reward.push(state, params, jnp.float32(0.0))
    # a state restored from a checkpoint that predates the cache: zeros, not ready
    stale = state._replace(fixed_logits=jnp.zeros_like(state.fixed_logits), fixed_ready=jnp.zeros((), bool))
    refilled = reward.refill_fixed(config, stale, fixed)
    assert bool(refilled.fixed_ready)
    np.testing.assert_allclose(refilled.fixed_logits, state.fixed_logits, rtol=ULPS,
                               atol=ULPS * float(jnp.max(jnp.abs(state.fixed_logits))))
    # a ready cache is kept bit for bit
    np.testing.assert_array_equal(reward.refill_fixed(config, state, fixed).fixed_logits, state.fixed_logits)
    with pytest.raises(InvalidConfigError, match="caches no fixed inputs"):
        reward.corrected_fixed(config, reward.init(config, jax.random.PRNGKey(0), OBS_DIM, X_DIM), jnp.arange(2),
                               *(x[:2] for x in fixed))


def test_the_cache_is_kept_only_where_it_saves_work_and_fits_in_memory():
    config = reward.RewardBufferConfig(capacity=100)
    assert reward.fixed_cache_size(config, 3001, 1024) == 3001  # the point maze: 30 demos of 100 steps
    assert reward.fixed_cache_size(config, 200_000, 1024) == 0  # one network on M costs more than it saves
    assert reward.fixed_cache_size(config, 10**6, 2**16) == 0  # 400 MB of logits


def test_a_checkpoint_without_the_cache_resumes_with_it_refilled(tmp_path):
    """A TRIRL run checkpointed without the cache's leaves (as before it existed) resumes: the
    learner's restore refills the cache, and the resumed run continues as the uninterrupted one."""
    from trirl.continuous import train
    from trirl.rundir import checkpoint_files

    config = train.load_config(
        None, env="point_maze", algo="trirl", total_steps=4 * 32, eval_every=4, eval_episodes=2, checkpoint_every=2,
        seeds=2, env_options={"episode_length": 10},
        ppo={"num_envs": 4, "rollout_length": 8, "num_epochs": 1, "num_minibatches": 2, "policy_hidden": [8],
             "value_hidden": [8]},
        discriminator={"hidden_sizes": [8], "epochs": 1, "minibatch_size": 16}, buffer={"capacity": 2})
    full = tmp_path / "full"
    train.train(config, full, progress=False)
    piece = tmp_path / "piece"
    train.train(dataclasses.replace(config, total_steps=2 * 32), piece, progress=False)
    (checkpoint,) = checkpoint_files(piece)
    with np.load(checkpoint) as arrays:
        kept = {name: arrays[name] for name in arrays.files if ".buffer.fixed_" not in name}
    assert len(kept) < len(np.load(checkpoint).files)  # the cache's leaves were there, and are gone
    np.savez(checkpoint, **kept)
    train.train(config, piece, resume=True, progress=False)
    rows = [train_rows(run) for run in (full, piece)]
    assert [row["iteration"] for row in rows[1]] == [1, 2, 3, 4]
    for got, expected in zip(rows[1][2:], rows[0][2:]):
        for name in ("disc_loss", "fit_mse", "corrected_reward_mean", "episode_return"):
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, err_msg=name)


def train_rows(run):
    from trirl.rundir import read_metrics

    return read_metrics(run)
