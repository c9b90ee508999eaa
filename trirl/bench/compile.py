"""Compilation time of a resumed piece with and without JAX's persistent compilation cache.

::

    trirl bench compile --config continuous/ant_expert_cpu.toml \
        --out continuous/results/compile_cache_ant_cpu.json

A resumed piece of ``trirl expert train`` starts a fresh process that
compiles the PPO iteration and the evaluation again. This script times exactly that, each in a
fresh process (``lower(...).compile()`` of the jitted ``ppo.step`` and of the evaluation, the
functions :func:`trirl.continuous.expert.train` runs):

- ``no_cache``: ``--no-compile-cache`` (what every piece paid before the cache);
- ``cold``: an empty cache folder (the first piece: compiles and writes the cache);
- ``warm``: the same folder again (every later piece).

and reports the wall-clock seconds of each (``total``), the process CPU seconds (``total_cpu``,
all threads; steadier than wall clock on a machine shared with other jobs) and ``warm / no_cache``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trirl.errors import InvalidConfigError


def compile_seconds(config_path: str) -> dict[str, float]:
    """Seconds to compile the PPO iteration and the evaluation of ``config_path`` (this process)."""
    import jax

    from trirl.continuous import envs, expert
    from trirl.continuous.evaluation import episode_returns, policy_act_fn

    config = expert.load_config(config_path)
    ppo = expert.build(config)
    key = jax.random.PRNGKey(0)
    state = jax.eval_shape(ppo.init, key)  # shapes only, as a resumed run restores the arrays
    env = envs.make(config.env, config.env_options)

    def evaluate(state, key):
        act = policy_act_fn(ppo.networks, state.params.policy, state.normalizer)
        return episode_returns(env, act, key, config.eval_episodes)

    out = {}
    for name, fn, args in (("ppo_step", ppo.step, (state, key)), ("evaluate", evaluate, (state, key))):
        start, start_cpu = time.perf_counter(), time.process_time()
        jax.jit(fn).lower(*args).compile()
        out[name] = time.perf_counter() - start
        out[f"{name}_cpu"] = time.process_time() - start_cpu
    out["total"] = out["ppo_step"] + out["evaluate"]
    out["total_cpu"] = out["ppo_step_cpu"] + out["evaluate_cpu"]
    return out


def _child(config_path: str, cache: str | None) -> dict[str, float]:
    command = [sys.executable, "-m", "trirl.bench.compile", "--child", "--config", config_path]
    command += ["--compile-cache", cache] if cache else ["--no-compile-cache"]
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=dict(os.environ))
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from trirl.continuous import compile_cache

    parser = argparse.ArgumentParser(prog="trirl bench compile", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="expert TOML (e.g. continuous/ant_expert_cpu.toml)")
    parser.add_argument("--out", help="JSON results file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    compile_cache.add_arguments(parser)
    args = parser.parse_args(argv)
    if not Path(args.config).exists():
        raise InvalidConfigError(f"--config: {args.config} does not exist")
    if args.child:
        compile_cache.from_args(args)
        print(json.dumps(compile_seconds(args.config)))
        return 0
    if not args.out:
        raise InvalidConfigError("--out is required")
    from trirl.provenance import machine
    from trirl.rundir import write_json

    command = "trirl bench compile " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    with tempfile.TemporaryDirectory() as folder:
        no_cache = _child(args.config, None)
        print(f"no cache: {no_cache}", flush=True)
        cold = _child(args.config, folder)
        print(f"cold cache: {cold}", flush=True)
        warm = _child(args.config, folder)
        print(f"warm cache: {warm}", flush=True)
        cache_bytes = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    result = {"command": command, "machine": machine(accelerator=True, command=False), "config": args.config, "no_cache_s": no_cache,
              "cold_cache_s": cold, "warm_cache_s": warm, "cache_bytes": cache_bytes,
              "warm_over_no_cache": warm["total"] / no_cache["total"],
              "warm_over_no_cache_cpu": warm["total_cpu"] / no_cache["total_cpu"]}
    write_json(Path(args.out), result)
    print(f"resumed piece compiles in {warm['total']:.1f} s with the cache, {no_cache['total']:.1f} s without "
          f"({result['warm_over_no_cache']:.3f}); CPU {warm['total_cpu']:.1f} s against {no_cache['total_cpu']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
