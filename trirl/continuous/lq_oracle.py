"""The exact answer for a run on the ``lqr`` environment: what ``trirl train`` learnt against the closed forms.

::

    python -m trirl.continuous.lq_oracle expert --out continuous/experts/lqr [--episodes 64] [--instance 1]
    python -m trirl.continuous.lq_oracle evaluate --run runs/lqr [--every 10] [--json FILE]
    python -m trirl.continuous.lq_oracle track --config trirl_lqr [--every 20] [--steps N] [--json FILE]
    python -m trirl.continuous.lq_oracle swaps --config trirl_lqr [--instances 0 1] [--seeds 3] [--beta B] [--json FILE]

``expert`` writes the demonstrations of the soft-optimal (temperature 1) policy of the true
reward, sampled exactly (:func:`trirl.continuous.envs.lqr.expert_demonstrations`), and its
``returns.json`` (expert and uniform-random undiscounted returns for the normalised return).

``evaluate`` reads every checkpoint of a run with the linear discriminator on ``lqr:quadratic``
features and reports, per seed and checkpoint:

- ``reward_residual``: the learnt reward ``theta^T phi + b`` against the true one up to potential
  shaping within the quadratic class and a positive scale (:func:`trirl.continuous.lq.reward_distance`),
  0 = recovered, 1 = no better than the zero reward; ``reward_scale`` is the best scale;
- ``reward_policy_kl``: ``E_{d_E}[KL(pi_E || pi_theta)] / Z``, exact, between the expert and the
  soft-optimal policy of the learnt reward at its best scale (whether the reward *induces* the expert);
- ``policy_kl``: ``E_{d_net}[KL(pi_net || pi_E)]`` normalised, the acting network's policy against
  the expert, by Monte Carlo over the network's own states (``policy_kl_se`` its standard error);
- ``dual``: ``G_beta(theta)`` (book chapter 3) at the run's ``beta`` for the learnt reward, exact up to
  the stated truncation (``inf`` where the reward's soft value is infinite);
- ``policy_std_ratio`` and ``reward_std_ratio``: the acting policy's standard deviation and that of the
  soft-optimal policy of the learnt reward (as PPO weighs it), over the expert's
  (:func:`trirl.continuous.lq_readout.std_ratios`).

``track`` trains exactly as ``trirl train --config ...`` does (the same learner, keys
``fold_in(train_key, i - 1)`` and seeds, without the run directory) and evaluates the oracle every
``--every`` iterations: the exact dual and distances *along* the run, and the learner's ``eta``,
``eps_tr``, ``step_fraction`` and ``rollout_kl`` averaged in between (``mean_<name>``).

``swaps`` runs the exact iteration with one piece swapped for the learner's
(:mod:`trirl.continuous.lq_swaps`) on random instances: which component deviates.

The learnt ``theta`` is read by evaluating the learner's corrected reward at ``4 F`` points and
solving the linear system (exact for a linear head; ``linear_fit_error`` reports the misfit, which
is rounding unless the discriminator has hidden layers).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from trirl import provenance
from trirl.continuous import lq
from trirl.continuous.envs import lqr
from trirl.continuous.lq_readout import evaluate_state, learnt_theta, policy_kl_network  # noqa: F401 (re-exported)
from trirl.errors import InvalidConfigError


def write_expert(out: str | Path, config: lqr.LQRConfig = lqr.LQRConfig(), episodes: int = 64, seed: int = 0) -> dict:
    """Write ``demos.npz`` and ``returns.json`` of the closed-form expert of ``config`` under ``out``."""
    from trirl.continuous.demos import save_demonstrations
    from trirl.rundir import write_json

    out = Path(out)
    demos = lqr.expert_demonstrations(config, episodes, seed)
    save_demonstrations(out / "demos.npz", demos)
    rng = np.random.default_rng(seed + 1)
    problem, T = config.problem, config.episode_length
    s = problem.m0 + config.init_scale * rng.standard_normal((1000, problem.n))
    random_returns = np.zeros(1000)
    for _ in range(T):  # uniform actions in [-1, 1], the usual "random" normalisation point
        a = rng.uniform(-1.0, 1.0, (1000, problem.m))
        random_returns += -config.state_cost * np.sum(s**2, 1) - config.action_cost * np.sum(a**2, 1)
        s = s @ problem.A.T + a @ problem.B.T + config.noise * rng.standard_normal((1000, problem.n))
    returns = {
        "env": "lqr",
        "env_options": {"instance": config.instance} if config.instance else {},
        "episodes": episodes,
        "expert_return": float(demos.returns.mean()),
        "expert_return_std": float(demos.returns.std()),
        "random_return": float(random_returns.mean()),
        "random_return_std": float(random_returns.std()),
        "note": "expert: the soft-optimal (temperature 1) policy of the true reward in closed form, stochastic, "
                "over the demonstrations; random: uniform actions in [-1, 1] over 1000 episodes",
        "command": f"python -m trirl.continuous.lq_oracle expert --out {out} --episodes {episodes} --seed {seed}"
                   + (f" --instance {config.instance}" if config.instance else ""),
    }
    write_json(out / "returns.json", returns)
    return returns


def lqr_instance(config, where: str, what: str):
    """``(LQRConfig, problem)`` of a train config on ``lqr`` whose ``[ppo] gamma`` is the instance's discount.

    Raises:
        InvalidConfigError: naming ``where`` (``--run`` or ``config``) when the env is not ``lqr``
            (``what`` says which it is) or the discounts differ.
    """
    if config.env != "lqr":
        raise InvalidConfigError(f"{where}: {what}; the oracle needs env = 'lqr'")
    env_config = lqr.LQRConfig(**config.env_options)
    problem = env_config.problem
    if not math.isclose(config.ppo.gamma, problem.gamma):
        raise InvalidConfigError(f"{where}: [ppo] gamma = {config.ppo.gamma} differs from [env_options] discount = "
                                 f"{problem.gamma}: the closed forms are for the instance's discount")
    return env_config, problem


def evaluate_run(path: str | Path, samples: int = 200_000, seed: int = 0, every: int = 1) -> dict:
    """Every checkpoint of the run at ``path`` (with ``every``, those whose iteration is a multiple of it)
    as ``track``'s rows (``{"rows": [{"iteration", "env_steps",
    "checkpoint", "seeds": [row...]}], ...}``); each seed's row has the learner's ``mean_<name>`` of
    :data:`LEARNER_METRICS` over the ``checkpoint_every`` iterations before (``metrics.jsonl``: a mean over seeds).

    Raises:
        InvalidConfigError: naming ``--every`` when ``every`` is below 1; naming ``--run`` when the run
            is not on ``lqr`` or its discount differs from the instance's (:func:`lqr_instance`).
    """
    import jax

    from trirl.continuous.evaluate import checkpoint_states, load_run
    from trirl.rundir import checkpoint_file, read_metrics

    run = load_run(path)
    config, learner = run.config, run.learner
    env_config, problem = lqr_instance(config, "--run", f"{path} trained on {config.env!r}")
    rng = np.random.default_rng(seed)
    expert = lq.soft_optimal(problem, env_config.reward).policy
    feature_cov = np.cov(lq.features(lq.sample_occupancy(problem, expert, samples, rng)), rowvar=False)
    history, rows = read_metrics(Path(path)), []
    if every < 1:
        raise InvalidConfigError(f"--every must be a positive number of iterations, got {every}")
    for step, state in checkpoint_states(path, run):
        if step % every:
            continue
        seeds = [evaluate_state(learner, jax.tree_util.tree_map(lambda x, j=j: x[j], state), config,
                                config.buffer.beta, rng, feature_cov) for j in range(config.seeds)]
        window = [m for m in history if step - config.checkpoint_every < m["iteration"] <= step]
        for row in seeds:
            row.update({f"mean_{k}": float(np.mean([m[k] for m in window])) for k in LEARNER_METRICS if k in window[-1]})
        rows.append({"iteration": step, "env_steps": step * config.ppo.batch_size,
                     "checkpoint": checkpoint_file(path, step).name, "seeds": seeds})
    return {"run": str(path), "env_options": config.env_options, "beta": config.buffer.beta,
            "feature_cov_samples": samples, "config": config.to_dict(), "rows": rows}


def track(config, every: int, samples: int = 200_000, seed: int = 0, log=print, on_row=None) -> dict:
    """Train ``config`` (a :class:`~trirl.continuous.train.TrainConfig`) as ``trirl train`` does and
    evaluate the oracle every ``every`` iterations and at the end (module docstring); ``on_row(result)``
    is called with the result so far after each evaluation (to save work as it comes)."""
    import time

    import jax

    from trirl import driver
    from trirl.continuous.train import build, prepare

    env_config, problem = lqr_instance(config, "config", f"env = {config.env!r}")
    demos, _ = prepare(config)
    learner = build(config, demos)
    rng = np.random.default_rng(seed)
    expert = lq.soft_optimal(problem, env_config.reward).policy
    feature_cov = np.cov(lq.features(lq.sample_occupancy(problem, expert, samples, rng)), rowvar=False)
    jitted = driver.jitted(learner, config.seeds)
    init_key, train_key, _ = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    state = jitted.init(jax.random.split(init_key, config.seeds))
    rows, started = [], time.monotonic()
    result = {"env_options": config.env_options, "beta": config.buffer.beta, "feature_cov_samples": samples,
              "config": config.to_dict(), "rows": rows, "complete": False}
    window = []
    for iteration in range(1, config.iterations + 1):
        state, metrics = jitted.step(state, jax.random.fold_in(train_key, iteration - 1))
        window.append({k: np.asarray(metrics[k], float) for k in LEARNER_METRICS if k in metrics})
        if iteration % every == 0 or iteration == config.iterations:
            seeds = [evaluate_state(learner, jax.tree_util.tree_map(lambda x, j=j: x[j], state), config,
                                    config.buffer.beta, rng, feature_cov) for j in range(config.seeds)]
            for j, row in enumerate(seeds):  # the learner's own metrics, averaged since the last row
                row.update({f"mean_{k}": float(np.mean([w[k][j] for w in window])) for k in window[0]})
            window = []
            rows.append({"iteration": iteration, "env_steps": iteration * config.ppo.batch_size, "seeds": seeds})
            log(f"iteration {iteration} ({time.monotonic() - started:.0f} s): " + "; ".join(
                " ".join(f"{k}={v:.4g}" for k, v in row.items()) for row in seeds))
            result["seconds"] = time.monotonic() - started
            result["complete"] = iteration == config.iterations
            if on_row is not None:
                on_row(result)
    return result


#: the learner's metrics that ``track`` averages between evaluations (``mean_<name>`` in each row)
LEARNER_METRICS = ("eta", "eps_tr", "step_fraction", "projection_eta", "rollout_kl")


def discriminator_noise_floor(config, iterations: int = 100, seed: int = 0) -> dict:
    """The discriminator's output when the agent **is** the expert: the exact target
    ``log(rho_E / rho_pi)`` is then 0, so whatever the discriminator of ``config`` learns is
    estimation noise, and Eq. 2 adds it to the reward with weight ``eps beta`` every iteration.

    Each iteration draws a fresh agent batch (``[ppo] batch_size`` transitions, uniform over fresh
    episodes of the closed-form expert, as rollouts are uniform over time) and updates the
    warm-started discriminator against the run's demonstrations, as TRIRL does. Returns the logits'
    standard deviation over the demonstrations per iteration (``logit_std``), and that of the
    reward ``r <- (1 - eps) r + eps beta D`` accumulated from ``r = 0`` (``reward_std``, ``eta = 0``),
    next to the true reward's standard deviation on the same samples (``true_reward_std``)."""
    import jax
    import jax.numpy as jnp

    from trirl.continuous import discriminator as disc
    from trirl.continuous.train import prepare

    env_config = lqr.LQRConfig(**config.env_options)
    demos, _ = prepare(config)
    dcfg = config.discriminator
    expert = disc.expert_batch(demos, dcfg.input_mode)
    n = config.ppo.batch_size
    key = jax.random.PRNGKey(seed)
    state = disc.init(dcfg, key, env_config.state_dim, env_config.action_dim)
    update = jax.jit(lambda st, agent, k: disc.update(dcfg, st, expert, agent, k)[0])
    logits = jax.jit(lambda params: disc.logits(dcfg, params, expert.obs, expert.action_or_next_obs, expert.absorbing))
    true_reward = env_config.reward(np.concatenate([np.asarray(expert.obs), np.asarray(expert.action_or_next_obs)], 1))
    eps, beta = config.buffer.eps, config.buffer.beta
    reward = np.zeros(expert.obs.shape[0])
    logit_std, reward_std = [], []
    rng = np.random.default_rng(seed + 1)
    for i in range(iterations):
        fresh = lqr.expert_demonstrations(env_config, max(1, -(-n // env_config.episode_length)) * 2, seed + 1000 + i)
        obs, actions, _, _ = fresh.flat()
        pick = rng.choice(obs.shape[0], n, replace=False)
        agent = disc.DiscriminatorBatch(jnp.asarray(obs[pick]), jnp.asarray(actions[pick]), jnp.zeros(n))
        state = update(state, agent, jax.random.fold_in(key, i))
        d = np.asarray(logits(state.params), float)
        reward = (1.0 - eps) * reward + eps * beta * d
        logit_std.append(float(d.std()))
        reward_std.append(float(reward.std()))
    return {"logit_std": logit_std, "reward_std": reward_std, "true_reward_std": float(true_reward.std()),
            "eps": eps, "beta": beta, "agent_batch": n}


def swaps(config, instances: tuple[int, ...], seeds: int, iterations: int, every: int = 10,
          samples: int = 200_000, log=print, on_row=None, log_ratios: tuple[str, ...] | None = None,
          kl_bound: float | None = None, correction_eta: float | None = None, step_fraction: float | None = None,
          eta_rule: str = "projection") -> dict:
    """The exact iteration with each log-ratio of :data:`trirl.continuous.lq_swaps.LOG_RATIOS` on each
    instance (``[env_options] instance`` replaced), at the config's ``eps``, ``beta``, starting
    policy and trust region (``kl_bound``, default ``eps_mean + eps_cov``); ``"trained"`` once per seed
    (the discriminator's initialisation, updates and samples), the exact ones once; ``on_row(result)``
    is called with the result so far after each trace; ``correction_eta``, ``step_fraction`` and
    ``eta_rule`` as in :func:`~trirl.continuous.lq_swaps.swap_trace`."""
    import dataclasses

    from trirl.continuous import lq_swaps

    rows = []
    if kl_bound is None:
        kl_bound = config.trust_region.eps_mean + config.trust_region.eps_cov
    result = {"env_options": config.env_options, "eps": config.buffer.eps, "beta": config.buffer.beta,
              "kl_bound": kl_bound, "correction_eta": correction_eta, "step_fraction": step_fraction,
              "eta_rule": eta_rule, "rows": rows}
    for instance in instances:
        env_config = dataclasses.replace(lqr.LQRConfig(**config.env_options), instance=instance)
        problem = env_config.problem
        expert = lq.soft_optimal(problem, env_config.reward).policy
        rng = np.random.default_rng(instance)
        feature_cov = np.cov(lq.features(lq.sample_occupancy(problem, expert, samples, rng)), rowvar=False)
        start = lq_swaps.start_policy(problem, config.ppo.init_log_std)
        demos = lqr.expert_demonstrations(env_config, 64, 0)
        for name in log_ratios or lq_swaps.LOG_RATIOS:
            for seed in range(seeds if name == "trained" else 1):
                log_ratio = name if name != "trained" else lq_swaps.TrainedLogRatio(
                    problem, demos, config.discriminator, config.ppo.batch_size, env_config.episode_length, seed)
                trace = lq_swaps.swap_trace(problem, expert, env_config.reward, start, config.buffer.eps,
                                            config.buffer.beta, None, iterations, feature_cov, log_ratio,
                                            env_config.episode_length, every, kl_bound, correction_eta,
                                            step_fraction, eta_rule)
                rows.append({"instance": instance, "log_ratio": name, "seed": seed,
                             "iterations": [i for i in range(iterations + 1) if i % every == 0 or i == iterations
                                            ][:len(trace.residual)],
                             "residual": trace.residual.tolist(), "scale": trace.scale.tolist(),
                             "expert_kl": trace.expert_kl.tolist(), "left_domain": trace.left_domain})
                log(f"instance {instance} {name} seed {seed}: residual " + " ".join(f"{r:.3f}" for r in trace.residual))
                if on_row is not None:
                    on_row(result)
    return result


def _finite_json(value):
    """``value`` with every non-finite float written as the string ``"inf"``, ``"-inf"`` or ``"nan"``
    (JSON has none; a learnt reward without a finite soft value has ``dual = inf``)."""
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trirl.continuous.lq_oracle", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("expert", help="write the closed-form expert's demos.npz and returns.json")
    e.add_argument("--out", required=True)
    e.add_argument("--episodes", type=int, default=64)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--instance", type=int, default=0, help="[env_options] instance (the random LQ problem)")
    v = sub.add_parser("evaluate", help="compare a run on lqr with the closed forms")
    v.add_argument("--run", required=True)
    v.add_argument("--json", default=None)
    v.add_argument("--every", type=int, default=1,
                   help="read only the checkpoints whose iteration is a multiple of this")
    t = sub.add_parser("track", help="train as trirl train does and evaluate the oracle along the run")
    t.add_argument("--config", required=True, help="a TOML config (path or shipped name, e.g. trirl_lqr)")
    t.add_argument("--every", type=int, default=20, help="iterations between evaluations")
    t.add_argument("--steps", type=int, default=None, help="environment steps per seed (default: the config's)")
    t.add_argument("--seeds", type=int, default=None)
    t.add_argument("--eps", type=float, default=None, help="[buffer] eps (default: the config's)")
    t.add_argument("--beta", type=float, default=None, help="[buffer] beta (default: the config's; entropy 1 / beta)")
    t.add_argument("--noise-floor", action="store_true",
                   help="instead of training: the discriminator's logits when the agent is the expert (discriminator_noise_floor)")
    t.add_argument("--capacity", type=int, default=None,
                   help="[buffer] capacity k (default: the config's; above the iterations, R_fit is never used)")
    t.add_argument("--hidden", type=int, nargs="*", default=None,
                   help="[discriminator] hidden_sizes: an MLP reward on the features, compared through its least-squares "
                        "quadratic (linear_fit_error says how far it is from one)")
    w = sub.add_parser("swaps", help="the exact iteration with each log-ratio swapped in (lq_swaps)")
    w.add_argument("--config", required=True)
    w.add_argument("--instances", type=int, nargs="+", default=[0])
    w.add_argument("--seeds", type=int, default=3, help="seeds of the trained discriminator")
    w.add_argument("--iterations", type=int, default=200)
    w.add_argument("--every", type=int, default=10)
    w.add_argument("--log-ratios", nargs="+", default=None, choices=("discounted", "uniform", "trained"))
    w.add_argument("--kl-bound", type=float, default=None, help="default: [trust_region] eps_mean + eps_cov")
    w.add_argument("--correction-eta", type=float, default=None,
                   help="the eta of Theorem 3.2's correction (default: the policy step's own)")
    w.add_argument("--step-fraction", type=float, default=None, help="the policy takes this part of each step")
    w.add_argument("--eta-rule", default="projection", choices=("projection", "step", "scaled-step", "exact"))
    w.add_argument("--beta", type=float, default=None, help="[buffer] beta (default: the config's)")
    w.add_argument("--json", default=None)
    t.add_argument("--normalize-advantages", default=None, choices=("true", "false"),
                   help="[ppo] normalize_advantages (default: the config's)")
    t.add_argument("--eta-from", default=None, choices=("projection", "step", "scaled-step"))
    t.add_argument("--acting-policy", default=None, choices=("network", "projected", "line-search"))
    t.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    command = "python -m trirl.continuous.lq_oracle " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = provenance.machine(accelerator=True, command=False)
    if args.command == "track":
        from trirl.continuous.train import load_config
        from trirl.rundir import write_json

        buffer = {k: v for k, v in (("eps", args.eps), ("beta", args.beta), ("capacity", args.capacity)) if v is not None}
        discriminator = None if args.hidden is None else {"hidden_sizes": args.hidden}
        config = load_config(args.config, total_steps=args.steps, seeds=args.seeds, buffer=buffer or None,
                             discriminator=discriminator, eta_from=args.eta_from, acting_policy=args.acting_policy,
                             ppo=None if args.normalize_advantages is None else
                             {"normalize_advantages": args.normalize_advantages == "true"})

        if args.noise_floor:
            result = discriminator_noise_floor(config, config.iterations)
            print(json.dumps({k: (v[::10] if isinstance(v, list) else v) for k, v in result.items()}))
            if args.json:
                write_json(Path(args.json), {**result, "command": command, "machine": machine})
            return 0

        def save(result):
            if args.json:
                write_json(Path(args.json), _finite_json({**result, "command": command, "machine": machine}))

        track(config, args.every, on_row=save)
        return 0
    if args.command == "swaps":
        from trirl.continuous.train import load_config
        from trirl.rundir import write_json

        def save_swaps(result):
            if args.json:
                write_json(Path(args.json), _finite_json({**result, "command": command, "machine": machine}))

        config = load_config(args.config, buffer=None if args.beta is None else {"beta": args.beta})
        swaps(config, tuple(args.instances), args.seeds, args.iterations, args.every,
              on_row=save_swaps, log_ratios=args.log_ratios and tuple(args.log_ratios), kl_bound=args.kl_bound,
              correction_eta=args.correction_eta, step_fraction=args.step_fraction, eta_rule=args.eta_rule)
        return 0
    if args.command == "expert":
        print(json.dumps(write_expert(args.out, lqr.LQRConfig(instance=args.instance), episodes=args.episodes,
                                      seed=args.seed), indent=1))
        return 0
    result = evaluate_run(args.run, every=args.every)
    for checkpoint in result["rows"]:
        for j, row in enumerate(checkpoint["seeds"]):
            print(checkpoint["checkpoint"], j, " ".join(f"{k}={v:.4g}" for k, v in row.items()))
    if args.json:
        from trirl.rundir import write_json

        write_json(Path(args.json), _finite_json({**result, "command": command, "machine": machine}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
