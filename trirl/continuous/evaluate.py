"""Evaluating a learnt reward: retrain a fresh PPO on it (new seeds), optionally in another env.

::

    python -m trirl.continuous.evaluate --run runs/pm [--env point_maze_mirrored] [--seeds 3]
        [--steps 100000] [--seed 100] [--out retrain.json]

The frozen reward is the learner's ``reward`` (TRIRL: the buffer's corrected reward ``r^(i)``
including ``R_fit``; GAIL/AMP: their discriminator reward; AIRL: ``g(s)``) of seed ``j`` of the
run's newest checkpoint; fresh PPO seed ``j`` trains on it with the run's PPO config. With
``--env point_maze_mirrored`` (or ``ant_disabled`` on a GPU) this is the paper's transfer test:
the reward must carry "what the expert wants", not "what the expert did".
The normalised return uses the source task's ``returns.json`` (expert 1, random 0): the mirrored
maze has the same start, goal and reward, so the scale is comparable but not identical.
Absorbing states are not rewarded during retraining (``V(s_a) = 0``); point maze has none.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from trirl.continuous import checkpoint as ckpt
from trirl.continuous import envs
from trirl.continuous.evaluation import episode_returns, normalized_return, policy_act_fn
from trirl.continuous.ppo import make_ppo
from trirl.continuous.rollout import Transition
from trirl.continuous.train import STATE_PREFIX, build, from_dict, iqm, load_expert_returns, prepare
from trirl.continuous.trirl import agent_inputs
from trirl.errors import InvalidConfigError, InvalidDemonstrationError
from trirl.rundir import write_json


def load_run(path: str | Path):
    """``(config, learner, state)`` of a run directory's newest checkpoint (state ``[seeds, ...]``)."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise InvalidConfigError(f"--run: {path} is not a run directory (config.json missing)")
    data = json.loads((path / "config.json").read_text())
    config = from_dict(data)
    demos, _ = prepare(config)
    learner = build(config, demos)
    files = sorted((path / "checkpoints").glob("step_*.npz"))
    if not files:
        raise InvalidConfigError(f"--run: {path} holds no checkpoint")
    keys = jax.random.split(jax.random.PRNGKey(config.seed), config.seeds)
    template = jax.eval_shape(jax.vmap(learner.init), keys)
    with np.load(files[-1]) as arrays:
        state = ckpt.unflatten(template, {k: arrays[k] for k in arrays.files if k != "__meta__"}, STATE_PREFIX)
    return config, learner, state


def retrain(config, learner, state, env_name: str | None = None, steps: int = 100_000, seed: int = 100,
            eval_episodes: int = 16) -> dict:
    """Train fresh PPO seeds on the frozen learnt rewards of ``state`` and evaluate them."""
    env_name = env_name or config.env
    env = envs.make(env_name, config.env_options)
    mode = config.learner_config().discriminator.input_mode

    def reward_fn(learner_state, transitions: Transition):
        obs, other, _ = agent_inputs(transitions, mode)
        return learner.reward(learner_state, obs, other, jnp.zeros(obs.shape[0])).reshape(transitions.reward.shape)

    ppo = make_ppo(env, config.ppo, reward_fn)
    iterations = max(1, -(-steps // config.ppo.batch_size))
    init_key, train_key, eval_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    ppo_state = jax.vmap(ppo.init)(jax.random.split(init_key, config.seeds))
    step = jax.jit(jax.vmap(ppo.step))
    for it in range(iterations):
        ppo_state, _ = step(ppo_state, jax.random.split(jax.random.fold_in(train_key, it), config.seeds), state)

    @jax.jit
    def evaluate(ppo_state, key):
        def one(s, k):
            act = policy_act_fn(ppo.networks, s.params.policy, s.normalizer)
            return jnp.mean(episode_returns(env, act, k, eval_episodes))
        return jax.vmap(one)(ppo_state, jax.random.split(key, config.seeds))

    returns = np.asarray(evaluate(ppo_state, eval_key))
    result = {"source_env": config.env, "env": env_name, "algo": config.algo, "seeds": config.seeds,
              "env_steps": iterations * config.ppo.batch_size, "returns": returns.tolist(),
              "mean_return": float(returns.mean()), "iqm_return": iqm(returns)}
    expert_random = load_expert_returns(config.expert_returns)
    if expert_random is not None:
        normalised = normalized_return(returns, *expert_random)
        result.update(normalised_return=float(normalised.mean()), normalised_return_iqm=iqm(normalised))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trirl.continuous.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="run directory of trirl.continuous.train")
    parser.add_argument("--env", choices=envs.ENV_NAMES, help="retrain in this env (transfer); default: the run's")
    parser.add_argument("--steps", type=int, default=100_000, help="PPO environment steps per seed")
    parser.add_argument("--seed", type=int, default=100, help="seed of the fresh PPO runs")
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args(argv)
    try:
        if args.steps < 1:
            raise InvalidConfigError(f"--steps must be >= 1, got {args.steps}")
        config, learner, state = load_run(args.run)
        result = retrain(config, learner, state, args.env, args.steps, args.seed)
    except (InvalidConfigError, InvalidDemonstrationError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result)
    if args.out:
        write_json(Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
