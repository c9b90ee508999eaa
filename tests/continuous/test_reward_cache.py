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


def test_cached_corrected_rewards_equal_freshly_evaluated_ones():
    config = reward.RewardBufferConfig(capacity=4, eps=0.6, beta=3.0, network=NETWORK)
    fixed = _fixed()
    indices = jnp.asarray(np.random.default_rng(1).integers(0, M, 64))  # with repeats, as the fit draws them
    inputs = tuple(x[indices] for x in fixed)
    cached_fn = jax.jit(reward.corrected_fixed, static_argnums=0)
    fresh_fn = jax.jit(reward.corrected_rewards, static_argnums=0)
    for pushes in (1, 4, 7):  # filling, full, wrapped (the chain starts at R_fit)
        state = _filled(config, pushes, fixed)
        cached = np.asarray(cached_fn(config, state, indices, *inputs))
        fresh = np.asarray(fresh_fn(config, state, *inputs))
        scale = np.max(np.abs(fresh))
        assert scale > 0.1  # the rewards are not trivially zero
        np.testing.assert_allclose(cached, fresh, rtol=ULPS, atol=ULPS * scale, err_msg=f"after {pushes} pushes")


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


@pytest.mark.slow
def test_a_checkpoint_without_the_cache_resumes_with_it_refilled(tmp_path):
    """A TRIRL run checkpointed without the cache's leaves (as before it existed) resumes: the
    leaves restore as "not ready", the learner's restore refills the cache with the logits the
    checkpoint had, and training continues."""
    from trirl.continuous import checkpoint as ckpt
    from trirl.continuous import envs
    from trirl.continuous import train
    from trirl.rundir import STATE_PREFIX, checkpoint_files, read_metrics

    config = train.load_config(
        None, env="point_maze", algo="trirl", total_steps=3 * 32, eval_every=3, eval_episodes=2, checkpoint_every=2,
        seeds=2, env_options={"episode_length": 10},
        ppo={"num_envs": 4, "rollout_length": 8, "num_epochs": 1, "num_minibatches": 2, "policy_hidden": [8],
             "value_hidden": [8]},
        discriminator={"hidden_sizes": [8], "epochs": 1, "minibatch_size": 16},
        buffer={"capacity": 100})  # k x 32 samples >= the 3,001 fixed inputs: the cache is kept
    run = tmp_path / "run"
    train.train(dataclasses.replace(config, total_steps=2 * 32), run, progress=False)
    (path,) = checkpoint_files(run)
    with np.load(path) as arrays:
        written = dict(arrays)
    kept = {name: array for name, array in written.items() if ".buffer.fixed_" not in name}
    assert len(kept) == len(written) - 2  # fixed_logits and fixed_ready were there, and are gone
    np.savez(path, **kept)

    env = envs.make(config.env, config.env_options)
    learner = train.build(config, train.prepare(config, None, env)[0], env)
    template = jax.eval_shape(jax.vmap(learner.init), jax.random.split(jax.random.PRNGKey(0), 2))
    stale = ckpt.unflatten(template, kept, STATE_PREFIX)
    assert not np.any(stale.buffer.fixed_ready)
    restored = learner.restore(stale)
    assert np.all(restored.buffer.fixed_ready)
    cache = written[STATE_PREFIX + ".buffer.fixed_logits"]
    assert cache.shape[1:] == (100, 3001) and np.any(cache != 0)  # the expert set and s_a, two pairs pushed
    np.testing.assert_allclose(restored.buffer.fixed_logits, cache, rtol=ULPS, atol=ULPS * np.max(np.abs(cache)))

    train.train(config, run, resume=True, progress=False)
    rows = read_metrics(run)
    assert [row["iteration"] for row in rows] == [1, 2, 3] and np.isfinite(rows[-1]["fit_mse"])


@pytest.mark.slow
def test_the_learner_with_the_cache_trains_as_without_it(monkeypatch):
    """TRIRL's iterations read the fit's expert half and r(s_a) off the cache; the same iterations
    with the k networks run afresh (no cache) give the same metrics to the tolerance above."""
    from trirl.continuous import trirl
    from trirl.continuous.demos import load_demonstrations
    from trirl.continuous.envs import make
    from trirl.continuous.ppo import PPOConfig
    from trirl.continuous.train import EXPERTS_DIR

    network = disc.DiscriminatorConfig(hidden_sizes=(16,), minibatch_size=16, epochs=1)
    config = trirl.TRIRLConfig(
        ppo=PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=2, policy_hidden=(8,),
                      value_hidden=(8,), entropy_coef=0.5),
        discriminator=network, buffer=reward.RewardBufferConfig(capacity=100, beta=2.0, fit_steps=2, network=network),
        acting_policy="line-search")
    env, demos = make("point_maze", {"episode_length": 10}), load_demonstrations(EXPERTS_DIR / "point_maze" / "demos.npz")
    runs = {}
    for cached in (True, False):
        if not cached:
            monkeypatch.setattr(reward, "fixed_cache_size", lambda *args: 0)
        learner = trirl.make_trirl(env, config, demos)
        state, step = learner.init(jax.random.PRNGKey(0)), jax.jit(learner.step)
        assert state.buffer.fixed_logits.shape == ((100, 3001) if cached else (100, 0))
        rows = []
        for i in range(3):
            state, metrics = step(state, jax.random.PRNGKey(i))
            rows.append({name: float(value) for name, value in metrics.items()})
        runs[cached] = rows
    for i, (got, expected) in enumerate(zip(runs[True], runs[False])):
        for name in ("corrected_reward_mean", "fit_mse", "disc_loss", "value_loss", "policy_loss", "eta"):
            np.testing.assert_allclose(got[name], expected[name], rtol=ULPS, atol=ULPS * abs(expected[name]),
                                       err_msg=f"{name} in iteration {i + 1}")
