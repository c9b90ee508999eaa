"""Evaluating a learnt reward: retrain a fresh PPO on it (new seeds), optionally in another env.

::

    trirl evaluate --run runs/pm [--env point_maze_mirrored]
        [--steps 200000] [--init-log-std 0] [--seed 100] [--reward-scale 1] [--reward-shift 0] [--out retrain.json]
        [--expert-returns continuous/experts/ant_disabled/returns.json]
        [--figure landscape.png]

The frozen reward is the learner's ``reward`` (TRIRL: the buffer's corrected reward ``r^(i)``
including ``R_fit``; GAIL/AMP: their discriminator reward; AIRL: ``g(s)``) of seed ``j`` of the
run's newest checkpoint; fresh PPO seed ``j`` trains on it with the run's PPO config. With
``--env point_maze_mirrored`` (or ``ant_disabled`` on a GPU) this is the paper's transfer test:
the reward must carry "what the expert wants", not "what the expert did".

**Control.** In the same call, PPO with the same seeds (the same initial networks and
environments), steps and config trains on the target environment's *true* reward. A retraining
score means little without it: if PPO on the true reward also falls short within ``--steps``,
the budget is to blame, not the reward. The result reports both and ``normalised_return_ratio``
= learnt / control normalised return (``None`` when the control does not beat the random policy,
where the ratio would mean nothing).

**Protocol.** Fresh policies start from ``init_log_std = 0`` (standard deviation 1, as the
paper's code starts every policy) whatever the run trained with, and train for 200k steps with
the run's other PPO settings; deterministic evaluation (the policy mean) over 16 episodes per
seed. Measured on the point maze with PPO on the true reward (10 seeds each, seeds 100 and 101,
the point-maze configs' PPO): from ``init_log_std = -0.5`` 2 and 4 of 10 control seeds stop
under the wall (0.51 each; mean 0.88 / 0.80 at 200k steps, 0.82 / 0.81 at 300k: more budget does
not help), from 0 none does (mean 0.97 / 1.00, lowest seed 0.77); a smaller learning rate (3e-4)
is uniform but plateaus at 0.96-0.97 with a still wide policy, and a larger entropy weight (1e-2)
does not stop the collapse onto the wall.

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

import argparse
import dataclasses
import json
import math
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from trirl import configflags, driver
from trirl.continuous import checkpoint as ckpt
from trirl.continuous import compile_cache, envs
from trirl.continuous.baselines import INPUT_MODE
from trirl.continuous.evaluation import normalized_return, policy_act_fn, run_episode
from trirl.continuous.ppo import make_ppo
from trirl.continuous.rollout import MAY_BE_NAN, Transition, env_reward
from trirl.continuous.train import build, from_dict, iqm, load_expert_returns, prepare
from trirl.continuous.discriminator import absorbing_sample, agent_inputs, input_dim, transition_input
from trirl.errors import InvalidConfigError, InvalidDemonstrationError, RunDirWriteError, plain_warnings
from trirl.rundir import STATE_PREFIX, lock_holder, newest_checkpoint, saved_config, write_json

#: ``retrain(absorbing_reward=...)``: the absorbing state's learnt reward, or the probe below it
ABSORBING_REWARDS = ("learnt", "demonstrations-min")


def load_run(path: str | Path, running: bool = False, env: str | None = None):
    """``(config, learner, state)`` of a run directory's newest checkpoint (state ``[seeds, ...]``);
    see :func:`open_run`."""
    return open_run(path, running, env)[:3]


def open_run(path: str | Path, running: bool = False, env: str | None = None):
    """``(config, learner, state, record)`` of a run directory's newest readable checkpoint.

    ``record`` says what was evaluated: ``checkpoint_iteration``, ``run_state`` (``"finished"``:
    the checkpoint is the run's last iteration; ``"stopped"``: paused or interrupted before it;
    ``"running"``: a live ``trirl train`` holds the run) and ``run_holder`` when running.
    Everything is checked before the learner is built (nothing compiles): the run's lock (a run
    being written is refused unless ``running``), its files, and that ``env`` (the retraining
    environment) takes the states and actions of the run's.

    Raises:
        InvalidConfigError: naming ``--run`` (not a run, no checkpoint, being written), ``--env``
            (other state or action sizes), or the damaged file.
    """
    path = Path(path)
    holder = lock_holder(path)
    if holder is not None and not running:
        raise InvalidConfigError(
            f"--run: {path} is being written by a live trirl train ({holder}); its newest checkpoint may be "
            "replaced while it is read and the result would describe an unfinished run. Wait for the run to "
            "finish (or stop it: Ctrl-C keeps its checkpoint), or pass --running to evaluate its newest "
            "checkpoint as it is now")
    data = saved_config(path)  # config.json, or the newest checkpoint's record of it
    if data is None:
        raise InvalidConfigError(f"--run: {path} is not a run directory (config.json missing)")
    if data.get("algo") in INPUT_MODE and isinstance(data.get("discriminator"), dict):
        # runs written before config.json recorded the baseline's own input_mode hold the default there
        data["discriminator"].pop("input_mode", None)
    config = from_dict(data, str(path / "config.json"))
    if env is not None:
        check_transfer(config.env, env, config.env_options)
    checkpoint = newest_checkpoint(path)  # a damaged newest one falls back to the previous (a warning)
    if checkpoint is None:
        raise InvalidConfigError(f"--run: {path} holds no checkpoint")
    demos, _ = prepare(config)
    learner = build(config, demos)
    keys = jax.random.split(jax.random.PRNGKey(config.seed), config.seeds)
    template = jax.eval_shape(jax.vmap(learner.init), keys)
    state = ckpt.unflatten(template, checkpoint.arrays, STATE_PREFIX)
    state_name = "running" if holder is not None else "finished" if checkpoint.step >= config.iterations else "stopped"
    record = {"checkpoint_iteration": checkpoint.step, "run_iterations": config.iterations, "run_state": state_name}
    if holder is not None:
        record["run_holder"] = holder
    return config, learner, state, record


def check_transfer(source: str, target: str, options: dict | None = None) -> None:
    """The learnt reward of a ``source`` run takes ``source``'s observations and actions: refuse a
    retraining ``target`` whose sizes differ (before anything compiles), naming ``--env``."""
    have, want = envs.make(source, options).spec, envs.make(target, options).spec
    if (have.observation_size, have.action_size) != (want.observation_size, want.action_size):
        same = [name for name in envs.ENV_NAMES if name != source and name.startswith(source.split("_")[0])]
        raise InvalidConfigError(
            f"--env {target}: its observations have {want.observation_size} entries and its actions "
            f"{want.action_size}, but the run's reward was learnt on {source} ({have.observation_size} and "
            f"{have.action_size}); retrain in an environment of the same sizes"
            + (f" (e.g. {', '.join(same)})" if same else ""))


def retrain(config, learner, state, env_name: str | None = None, steps: int = 200_000, seed: int = 100,
            eval_episodes: int = 16, reward_scale: float = 1.0, reward_shift: float = 0.0,
            init_log_std: float | None = 0.0, control: bool = True,
            expert_returns: str | Path | None = None, absorbing_reward: str = "learnt") -> dict:
    """Train fresh PPO seeds on the frozen learnt rewards of ``state`` and, as the control, on the
    true reward (same seeds, steps and config); evaluate both (see the module doc).
    ``control=False`` skips the control (the result then has no ``control_*`` entries and no
    ratio): a study whose variants share the seeds, steps and PPO config trains it once
    (:mod:`trirl.continuous.study`).

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
    ant_disabled/returns.json``), so that 1 means that expert's return there (see :func:`normalise`).
    """
    if not (math.isfinite(reward_scale) and reward_scale > 0):
        raise InvalidConfigError(f"reward_scale must be a finite number > 0, got {reward_scale!r}")
    if not math.isfinite(reward_shift):
        raise InvalidConfigError(f"reward_shift must be a finite number, got {reward_shift!r}")
    if absorbing_reward not in ABSORBING_REWARDS:
        raise InvalidConfigError(f"absorbing_reward must be one of {ABSORBING_REWARDS}, got {absorbing_reward!r}")
    if init_log_std is not None and not math.isfinite(init_log_std):
        raise InvalidConfigError(f"init_log_std must be a finite number, got {init_log_std!r}")
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
        demo_obs, demo_actions, demo_next_obs, demo_absorbing = prepare(config)[0].flat()
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
    return normalise(result, expert_returns or config.expert_returns, required=expert_returns is not None)


def normalise(result: dict, expert_returns: str | Path, required: bool = False) -> dict:
    """``result`` with its ``returns`` (and ``control_returns`` when present) normalised by the
    expert and random returns of the ``returns.json`` at ``expert_returns`` (expert 1, random 0;
    ``normalised_*`` keys and, with a control, ``normalised_return_ratio``) and that file's path
    under ``"expert_returns"``.

    A missing file leaves ``result`` unnormalised, unless ``required`` (the user named the file),
    where it raises :class:`InvalidConfigError` naming ``--expert-returns``.
    """
    expert_random = load_expert_returns(expert_returns)
    if expert_random is None:
        if required:
            raise InvalidConfigError(f"--expert-returns: {expert_returns} does not exist (a returns.json of trirl expert evaluate)")
        return result
    normalised = normalized_return(np.asarray(result["returns"]), *expert_random)
    result.update(expert_returns=str(expert_returns), normalised_return=float(normalised.mean()),
                  normalised_return_iqm=iqm(normalised))
    if "control_returns" in result:
        control_normalised = normalized_return(np.asarray(result["control_returns"]), *expert_random)
        result.update(control_normalised_return=float(control_normalised.mean()),
                      control_normalised_return_iqm=iqm(control_normalised),
                      normalised_return_ratio=ratio(float(normalised.mean()), float(control_normalised.mean())))
    return result


def diagnose(config, learner, state, figure: str | Path | None = None, mirrored: bool = False) -> dict:
    """The pre-retraining check of :mod:`trirl.continuous.landscape` for every seed of a point-maze
    run (``{"landscape_check": [per seed]}``) and, with ``figure``, seed 0's reward landscape
    (paper Fig. 9: best and mean over actions, the demonstrations overlaid) as a PNG."""
    from trirl.continuous import landscape as lsc

    if not config.env.startswith("point_maze") or config.learner_config().discriminator.input_mode != "state_action":
        return {}
    demos, _ = prepare(config)
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


def machine() -> dict:
    """The machine, the versions and the accelerator the retraining ran on."""
    from trirl.bench.machine import describe

    info = describe()
    info.pop("command")  # the result records its own command
    info.update(jax=jax.__version__, jax_backend=jax.default_backend(), jax_devices=[str(d) for d in jax.devices()])
    return info


@dataclass(frozen=True)
class EvaluateOptions:
    """``trirl evaluate``'s options: one flag per field (:mod:`trirl.configflags`), validated here.

    Attributes:
        run: run directory of trirl train; seed j of its newest checkpoint gives the reward that
            fresh PPO seed j retrains on.
        env: retrain in this env (the transfer test, e.g. point_maze_mirrored); default: the run's.
        steps: PPO environment steps per seed (an integer >= 1; rounded up to whole PPO iterations).
        init_log_std: initial log std of the fresh policies (a finite number; 0 is a standard
            deviation of 1, the protocol's).
        seed: seed of the fresh PPO runs (their initial networks and environments).
        reward_scale: retrain on reward_scale * r + reward_shift (a probe; a finite number > 0).
        reward_shift: retrain on reward_scale * r + reward_shift (a probe; a finite number).
        expert_returns: normalise by this returns.json (expert 1, random 0) instead of the run's;
            for a transfer, the target env's expert (e.g. continuous/experts/ant_disabled/returns.json).
        absorbing_reward: the absorbing state's reward in retraining: learnt, or (a probe)
            demonstrations-min, the lowest learnt reward on the demonstrations' transitions.
        out: write the result as JSON here (default: evaluate_<env>.json in the run directory).
        figure: point maze: write the learnt reward's landscape (PNG) here.
        running: evaluate a run that trirl train is still writing: its newest checkpoint as it is
            now (the result records run_state "running"); without it such a run is refused.

    Raises:
        InvalidConfigError: naming the flag and the expected form.
    """

    run: str
    env: str | None = None
    steps: int = 200_000
    init_log_std: float = 0.0
    seed: int = 100
    reward_scale: float = 1.0
    reward_shift: float = 0.0
    expert_returns: str | None = None
    absorbing_reward: str = "learnt"
    out: str | None = None
    figure: str | None = None
    running: bool = False

    def __post_init__(self):
        if self.env is not None and self.env not in envs.ENV_NAMES:
            raise InvalidConfigError(f"--env is {self.env!r}, expected one of {list(envs.ENV_NAMES)}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise InvalidConfigError(f"--steps is {self.steps!r}, expected an integer >= 1")
        if not (_is_number(self.init_log_std) and math.isfinite(self.init_log_std)):
            raise InvalidConfigError(f"--init-log-std is {self.init_log_std!r}, expected a finite number")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InvalidConfigError(f"--seed is {self.seed!r}, expected an integer")
        if not (_is_number(self.reward_scale) and math.isfinite(self.reward_scale) and self.reward_scale > 0):
            raise InvalidConfigError(f"--reward-scale is {self.reward_scale!r}, expected a finite number > 0")
        if not (_is_number(self.reward_shift) and math.isfinite(self.reward_shift)):
            raise InvalidConfigError(f"--reward-shift is {self.reward_shift!r}, expected a finite number")
        if self.absorbing_reward not in ABSORBING_REWARDS:
            raise InvalidConfigError(f"--absorbing-reward is {self.absorbing_reward!r}, expected one of {list(ABSORBING_REWARDS)}")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def build_parser() -> argparse.ArgumentParser:
    """``trirl evaluate``'s flags: one per :class:`EvaluateOptions` field, and the compilation cache's."""
    parser = argparse.ArgumentParser(prog="trirl evaluate", description=__doc__.split("\n")[0])
    configflags.add_option_flags(parser, EvaluateOptions, choices={"env": envs.ENV_NAMES,
                                                                    "absorbing_reward": ABSORBING_REWARDS})
    compile_cache.add_arguments(parser)
    return parser


def source_commit() -> str | None:
    """The git commit of the trirl source that ran (``+dirty`` with uncommitted changes), or the
    installed version when trirl is not a git checkout."""
    import subprocess

    import trirl

    root = Path(trirl.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"trirl {version('trirl')}"
        except PackageNotFoundError:
            return None
    return commit + ("+dirty" if dirty else "")


def summary_line(result: dict) -> str:
    """One line: the retrained policies' normalised return with its 95 % bootstrap CI (the mean
    over seeds, :func:`trirl.continuous.study.interval_estimates`), the control's, the ratio, and
    what was evaluated."""
    from trirl.continuous.study import interval_estimates

    def scored(name: str, values) -> str:
        if len(values) < 2:
            return f"{name} {float(np.mean(values)):.3f}"
        estimate = interval_estimates({name: np.asarray(values)}, reps=2000)[name]
        low, high = estimate["mean_ci"]
        return f"{name} {estimate['mean']:.3f} (95% CI {low:.3f} to {high:.3f})"

    if "normalised_return" in result:
        expert, random = load_expert_returns(result["expert_returns"])
        parts = [scored("normalised return", normalized_return(np.asarray(result["returns"]), expert, random))]
        if "control_returns" in result:
            parts.append(scored("control", normalized_return(np.asarray(result["control_returns"]), expert, random)))
            ratio_ = result.get("normalised_return_ratio")
            parts.append("ratio " + ("n/a (the control does not beat random)" if ratio_ is None else f"{ratio_:.2f}"))
    else:
        parts = [scored("return", result["returns"])]
        if "control_returns" in result:
            parts.append(scored("control", result["control_returns"]))
    where = (f"{result['algo']} on {result['source_env']} -> {result['env']}, {result['seeds']} seed(s), "
             f"checkpoint iteration {result['checkpoint_iteration']} ({result['run_state']})")
    return f"{'; '.join(parts)} [{where}]"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = configflags.options_from_args(EvaluateOptions, args)
    except InvalidConfigError as err:  # before anything is loaded or compiled
        print(f"trirl evaluate: error: {err}", file=sys.stderr)
        return 2
    compile_cache.from_args(args)
    with plain_warnings("trirl evaluate"):
        return _evaluate(options, argv)


def _evaluate(options: EvaluateOptions, argv: list[str] | None) -> int:
    try:
        if options.expert_returns is not None and load_expert_returns(options.expert_returns) is None:  # before compiling
            raise InvalidConfigError(f"--expert-returns: {options.expert_returns} does not exist (a returns.json of trirl expert evaluate)")
        config, learner, state, record = open_run(options.run, options.running, options.env)
        checks = diagnose(config, learner, state, options.figure)
        start = time.monotonic()
        result = retrain(config, learner, state, options.env, options.steps, options.seed,
                         reward_scale=options.reward_scale, reward_shift=options.reward_shift,
                         init_log_std=options.init_log_std, expert_returns=options.expert_returns,
                         absorbing_reward=options.absorbing_reward)
    except (InvalidConfigError, InvalidDemonstrationError) as err:
        print(f"trirl evaluate: error: {err}", file=sys.stderr)
        return 2
    result.update(checks)
    result.update(record)
    argv = argv if argv is not None else sys.argv[1:]
    result.update(command=" ".join(["trirl evaluate", *map(shlex.quote, argv)]),
                  run=str(options.run), wall_clock_s=round(time.monotonic() - start, 1),
                  date=datetime.now(UTC).isoformat(timespec="seconds"), commit=source_commit(), machine=machine())
    out = Path(options.out) if options.out else Path(options.run) / f"evaluate_{result['env']}.json"
    try:
        write_json(out, result)
    except RunDirWriteError as err:  # the retraining is not lost: the result goes to stdout instead
        print(f"{summary_line(result)}\n{json.dumps(result, indent=1)}")
        print(f"trirl evaluate: error: {err}; the result is printed above", file=sys.stderr)
        return 2
    print(f"{summary_line(result)}\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
