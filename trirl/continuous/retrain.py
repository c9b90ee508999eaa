"""Retraining on a learnt reward: fresh PPO seeds on the frozen reward of a run (:class:`LoadedRun`,
read by :func:`trirl.continuous.evaluate.load_run`), beside PPO on the true reward.

**Control.** In the same call, PPO with the same seeds (the same initial networks and
environments), steps and config trains on the target environment's *true* reward. A retraining
score means little without it: if PPO on the true reward also falls short within ``--steps``,
the budget is to blame, not the reward. The result reports both and ``normalised_return_ratio``
= learnt / control normalised return (``None`` when the control does not beat the random policy,
where the ratio would mean nothing).

**Protocol.** Fresh policies start from ``init_log_std = 0`` (standard deviation 1, as the
paper's code starts every policy) whatever the run trained with, and train for 200k steps with
the run's other PPO settings; deterministic evaluation (the policy mean) over 16 episodes per
seed. Why (from a narrower start some control seeds stop under the wall; a smaller learning rate
or a larger entropy weight does not help): ``book/findings.md``, with the measurements.

**Diagnostic.** ``learnt_reward_return`` is the undiscounted learnt-reward return of the retrained
policies' evaluation episodes, ``control_learnt_reward_return`` that of the control policies
(scored by the same seed's learnt reward). If the retrained policies score much higher than the
control under the learnt reward but lower under the true one, PPO did optimise the learnt reward
and the reward is wrong where it sent the agent; if they score lower on both, the optimisation
fell short (budget, scale).

**Before retraining** (point maze), ``landscape_check`` reports per seed where the learnt reward
pays more than on the demonstrations, away from them (:mod:`trirl.continuous.landscape`), and
``--figure`` draws seed 0's reward over the maze with the demonstrations overlaid (paper Fig. 9).

The normalised return uses the source task's ``returns.json`` (expert 1, random 0) unless
``--expert-returns`` names another: the mirrored maze has the same start, goal and reward, so the
source's scale is comparable but not identical; Ant-Disabled's expert is much slower than Ant's, so
its transfer is normalised by ``continuous/experts/ant_disabled/returns.json``.
Terminated transitions bootstrap from the learnt absorbing reward, ``V(s_a) = gamma / (1 - gamma)
r(s_a)``, as during IRL training (paper C.4); the control uses ``V(s_a) = 0``. The point maze
never terminates (its episodes are truncated at the time limit), so there a constant added to
the reward changes no optimal policy.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trirl import driver
from trirl.continuous import envs
from trirl.continuous.demos import Demonstrations
from trirl.continuous.discriminator import absorbing_sample, agent_inputs, input_dim, transition_input
from trirl.continuous.evaluation import normalized_return, policy_act_fn, run_episode
from trirl.continuous.ppo import make_ppo
from trirl.continuous.rollout import MAY_BE_NAN, Transition, env_reward
from trirl.continuous.evaluation import load_expert_returns
from trirl.continuous.train import TrainConfig
from trirl.errors import InvalidConfigError
from trirl.stats import iqm

#: ``retrain(absorbing_reward=...)``: the absorbing state's learnt reward, or the probe below it
ABSORBING_REWARDS = ("learnt", "demonstrations-min")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value) -> bool:
    return _is_number(value) and math.isfinite(value)


#: :func:`retrain`'s options and the form each must have, one rule each, checked where the options
#: come in (``trirl evaluate``'s flags: :class:`EvaluateOptions`; a study's ``[retrain]`` table:
#: :func:`trirl.bench.table1.spec.load_study`); :func:`retrain` trusts them
RETRAIN_OPTIONS = {
    "steps": (lambda v: _is_integer(v) and v >= 1, "an integer >= 1"),
    "seed": (_is_integer, "an integer"),
    "eval_episodes": (lambda v: _is_integer(v) and v >= 1, "an integer >= 1"),
    "reward_scale": (lambda v: _is_finite(v) and v > 0, "a finite number > 0"),
    "reward_shift": (_is_finite, "a finite number"),
    "init_log_std": (_is_finite, "a finite number"),
    "expert_returns": (lambda v: isinstance(v, str), "a string (the path of a returns.json)"),
    "absorbing_reward": (lambda v: v in ABSORBING_REWARDS, f"one of {list(ABSORBING_REWARDS)}"),
}


def retrain_option_problem(name: str, value) -> str | None:
    """The expected form of :func:`retrain`'s option ``name`` when ``value`` does not have it, else
    ``None`` (:data:`RETRAIN_OPTIONS`; the caller names the flag or the ``[section] key``)."""
    ok, expected = RETRAIN_OPTIONS[name]
    return None if ok(value) else expected


class LoadedRun(NamedTuple):
    """A run directory of ``trirl train`` read back (:func:`load_run`).

    Attributes:
        config: the run's :class:`~trirl.continuous.train.TrainConfig`.
        learner: its learner, built from ``config`` and ``demos`` (nothing compiled).
        state: the newest readable checkpoint's learner state, every leaf ``[seeds, ...]``.
        demos: the demonstrations it learnt from (checked against the env).
        returns: ``(expert_return, random_return)`` of ``returns_file`` (expert 1, random 0 in a
            normalised return), or ``None`` when that file does not exist.
        returns_file: the ``returns.json`` ``returns`` came from (the run's ``expert_returns``, or
            another env's: :func:`with_expert_returns`).
        record: what was evaluated (see :func:`load_run`).
    """

    config: TrainConfig
    learner: Any
    state: Any
    demos: Demonstrations
    returns: tuple[float, float] | None
    returns_file: str
    record: dict


def with_expert_returns(run: LoadedRun, path: str | Path) -> LoadedRun:
    """``run`` normalised by the ``returns.json`` at ``path`` instead of its own (a transfer: the
    target env's expert), read once, before anything compiles.

    Raises:
        InvalidConfigError: naming ``--expert-returns`` when the file does not exist.
    """
    return run._replace(returns=read_expert_returns(path), returns_file=str(path))


def read_expert_returns(path: str | Path) -> tuple[float, float]:
    """``(expert_return, random_return)`` of the ``returns.json`` a user named.

    Raises:
        InvalidConfigError: naming ``--expert-returns`` when the file does not exist.
    """
    returns = load_expert_returns(path)
    if returns is None:
        raise InvalidConfigError(f"--expert-returns: {path} does not exist (a returns.json of trirl expert evaluate)")
    return returns


def retrain(run: LoadedRun, env_name: str | None = None, steps: int = 200_000, seed: int = 100,
            eval_episodes: int = 16, reward_scale: float = 1.0, reward_shift: float = 0.0,
            init_log_std: float | None = 0.0, control: bool = True,
            expert_returns: str | Path | None = None, absorbing_reward: str = "learnt") -> dict:
    """Train fresh PPO seeds on the frozen learnt rewards of ``run.state`` and, as the control, on the
    true reward (same seeds, steps and config); evaluate both (see the module doc).
    ``control=False`` skips the control (the result then has no ``control_*`` entries and no
    ratio): a study whose variants share the seeds, steps and PPO config trains it once
    (:mod:`trirl.bench.table1`).

    ``reward_scale`` and ``reward_shift`` retrain on ``reward_scale * r + reward_shift`` instead
    of ``r`` (absorbing state included): a learnt reward is only defined up to such constants,
    and the retrained policy should not depend on them. ``learnt_reward_return`` always scores
    the unchanged ``r``. ``init_log_std`` is the fresh policies' initial log standard deviation
    (``None``: the run's ``[ppo] init_log_std``; see the module doc's protocol).

    ``absorbing_reward`` (a probe): ``"learnt"`` retrains with the absorbing state's learnt reward
    ``r(s_a)``; ``"demonstrations-min"`` replaces it by the lowest learnt reward on the
    demonstrations' transitions, so that ending an episode pays no more than the worst step the
    expert took (the result records the value per seed as ``absorbing_reward_used``).

    ``expert_returns`` (a ``returns.json``) normalises the returns instead of the run's own
    expert file: for a transfer, the target environment's expert (e.g. ``continuous/experts/
    ant_disabled/returns.json``), so that 1 means that expert's return there (:func:`with_expert_returns`;
    ``None`` keeps ``run.returns``).

    The options are trusted: they were checked where they came in (:data:`RETRAIN_OPTIONS`).

    Returns:
        The result (module doc): per-seed ``returns``, ``learnt_reward_return``, the control's and,
        with expert returns, their normalised values (:func:`normalise`).

    Raises:
        InvalidConfigError: ``expert_returns`` does not exist (read before anything compiles).
        FloatingPointError: a return is not finite.
    """
    if expert_returns is not None:
        run = with_expert_returns(run, expert_returns)
    config, learner, state = run.config, run.learner, run.state
    ppo_config = config.ppo if init_log_std is None else dataclasses.replace(config.ppo, init_log_std=init_log_std)
    env_name = env_name or config.env
    env = envs.make(env_name, config.env_options)
    mode = config.learner_config().discriminator.input_mode
    absorbing_input = absorbing_sample(env.observation_size, input_dim(env, mode))

    def episode_inputs(obs, actions, states):
        """The learnt reward's inputs of one evaluation episode (``[T, ...]``), as in ``agent_inputs``."""
        return obs, transition_input(mode, actions, states.next_obs, states.absorbing), jnp.zeros(obs.shape[0])

    def reward_fn(learner_state, transitions: Transition):
        obs, other, _ = agent_inputs(transitions, mode)
        r = learner.reward(learner_state, obs, other, jnp.zeros(obs.shape[0])).reshape(transitions.reward.shape)
        return reward_scale * r + reward_shift

    def learnt_r_absorbing(learner_state):
        return learner.reward(learner_state, *absorbing_input)[0]

    r_absorbing = learnt_r_absorbing
    if absorbing_reward == "demonstrations-min":
        demo_obs, demo_actions, demo_next_obs, demo_absorbing = run.demos.flat()
        keep = ~demo_absorbing.astype(bool)  # the visited states; s_a is what is being replaced
        demo_other = np.clip(demo_actions, -1.0, 1.0) if mode == "state_action" else demo_next_obs
        demo_inputs = (jnp.asarray(demo_obs[keep]), jnp.asarray(demo_other[keep]), jnp.zeros(int(keep.sum())))

        def r_absorbing(learner_state):
            return jnp.min(learner.reward(learner_state, *demo_inputs))

    def absorbing_reward_fn(learner_state):
        return reward_scale * r_absorbing(learner_state) + reward_shift

    iterations = max(1, -(-steps // config.ppo.batch_size))
    init_key, train_key, eval_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    seed_keys = jax.random.split(init_key, config.seeds)
    eval_keys = jax.random.split(eval_key, config.seeds)

    def train_and_evaluate(ppo):
        # seed j of the fresh PPO trains on seed j's frozen reward (``state`` carries the seed axis)
        ppo_state = driver.run(driver.jitted(ppo, config.seeds, state, name="retrain"), iterations,
                               init_key=seed_keys, key=train_key,
                               hooks=driver.Hooks(row=lambda iteration, *_: {"iteration": iteration},
                                                  nonfinite=driver.jitted_nonfinite, may_be_nan=MAY_BE_NAN)).state

        @jax.jit
        def evaluate(ppo_state):
            def one(s, learner_state, key):
                act = policy_act_fn(ppo.networks, s.params.policy, s.normalizer)

                def episode(k):
                    states, obs, actions, alive = run_episode(env, act, k, env.spec.episode_length)
                    learnt = learner.reward(learner_state, *episode_inputs(obs, actions, states))
                    return (jnp.sum(jnp.where(alive, states.reward, 0.0)), jnp.sum(jnp.where(alive, learnt, 0.0)))

                true, learnt = jax.vmap(episode)(jax.random.split(key, eval_episodes))
                return jnp.mean(true), jnp.mean(learnt)
            return jax.vmap(one)(ppo_state, state, eval_keys)

        true, learnt = evaluate(ppo_state)
        return np.asarray(true), np.asarray(learnt)

    returns, learnt_returns = train_and_evaluate(make_ppo(env, ppo_config, reward_fn, absorbing_reward_fn))
    result = {"source_env": config.env, "env": env_name, "algo": config.algo, "seeds": config.seeds,
              "env_steps": iterations * config.ppo.batch_size, "seed": seed,
              "reward_scale": reward_scale, "reward_shift": reward_shift, "init_log_std": ppo_config.init_log_std,
              "eval_episodes": eval_episodes,
              "returns": returns.tolist(), "mean_return": float(returns.mean()), "iqm_return": iqm(returns),
              "learnt_reward_return": learnt_returns.tolist(),
              "absorbing_reward": np.asarray(jax.vmap(learnt_r_absorbing)(state)).tolist(),
              "absorbing_reward_probe": absorbing_reward,
              "absorbing_reward_used": np.asarray(jax.vmap(r_absorbing)(state)).tolist()}
    arrays = {"returns": returns, "learnt_reward_return": learnt_returns}
    if control:
        arrays["control_returns"], arrays["control_learnt_reward_return"] = train_and_evaluate(
            make_ppo(env, ppo_config, env_reward))
        result.update(control_returns=arrays["control_returns"].tolist(),
                      control_mean_return=float(arrays["control_returns"].mean()),
                      control_learnt_reward_return=arrays["control_learnt_reward_return"].tolist())
    for name, values in arrays.items():
        if not np.all(np.isfinite(values)):
            raise FloatingPointError(f"retrain: {name} is not finite ({values.tolist()})")
    return normalise(result, run.returns, run.returns_file)


def normalise(result: dict, expert_random: tuple[float, float] | None, source: str | Path) -> dict:
    """``result`` with its ``returns`` (and ``control_returns`` when present) normalised by
    ``expert_random = (expert_return, random_return)`` (expert 1, random 0; ``normalised_*`` keys
    and, with a control, ``normalised_return_ratio``) and ``source``, the ``returns.json`` they
    came from, under ``"expert_returns"``; ``expert_random = None`` leaves ``result`` unnormalised.
    """
    if expert_random is None:
        return result
    normalised = normalized_return(np.asarray(result["returns"]), *expert_random)
    result.update(expert_returns=str(source), normalised_return=float(normalised.mean()),
                  normalised_return_iqm=iqm(normalised))
    if "control_returns" in result:
        control_normalised = normalized_return(np.asarray(result["control_returns"]), *expert_random)
        result.update(control_normalised_return=float(control_normalised.mean()),
                      control_normalised_return_iqm=iqm(control_normalised),
                      normalised_return_ratio=ratio(float(normalised.mean()), float(control_normalised.mean())))
    return result


def diagnose(run: LoadedRun, figure: str | Path | None = None, mirrored: bool = False) -> dict:
    """The pre-retraining check of :mod:`trirl.continuous.landscape` for every seed of a point-maze
    run (``{"landscape_check": [per seed]}``) and, with ``figure``, seed 0's reward landscape
    (paper Fig. 9: best and mean over actions, the demonstrations overlaid) as a PNG."""
    from trirl.continuous import landscape as lsc

    config, learner, state, demos = run.config, run.learner, run.state, run.demos
    if not config.env.startswith("point_maze") or config.learner_config().discriminator.input_mode != "state_action":
        return {}
    demo_obs, demo_actions, _, _ = demos.flat()
    checks, first = [], None
    for seed in range(config.seeds):
        reward_fn = lsc.learner_reward_fn(learner, state, seed)
        view = lsc.landscape(reward_fn)
        first = first or (view, reward_fn)
        checks.append(lsc.overpaying(reward_fn, view, demo_obs, demo_actions).as_dict())
    if figure is not None:
        paths = [demos.observations[i, : demos.lengths[i]] for i in range(len(demos.lengths))]
        fig = lsc.plot(first[0], paths, title=f"{config.algo} reward (seed 0)", mirrored=mirrored)
        Path(figure).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(figure, dpi=100)
        import matplotlib.pyplot as plt

        plt.close(fig)
    return {"landscape_check": checks}


def ratio(learnt: float, control: float) -> float | None:
    """``learnt / control`` normalised return; ``None`` when the control does not beat the random
    policy (``control <= 0``), where a ratio would be meaningless or of the wrong sign."""
    return learnt / control if control > 0 else None
