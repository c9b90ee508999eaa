"""Scaling over devices: the same seeds of ``trirl train`` on 1, 2, 4, ... devices.

::

    trirl bench scaling [--devices 1,2,4] [--config trirl_point_maze] [--seeds 4] [--iterations 5]
                        [--out continuous/results/scaling_cpu.json]

Each device count ``N`` runs in its own process with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
(``N`` CPU devices; on a GPU node the flag changes nothing and the process uses the first ``N`` of
the node's GPUs): the config's learner, ``--seeds`` seeds on :func:`trirl.driver.seed_mesh` over
those ``N`` devices (:func:`trirl.driver.jitted`), one compiling iteration untimed, then
``--iterations`` timed ones.
It reports per configuration:

- ``env_steps_per_second``: ``seeds * batch_size * iterations / wall seconds`` (and per process CPU
  second, the steadier figure on a shared machine), and ``speedup``: that rate over the 1-device
  rate measured in the same run (the first entry of ``--devices`` is the baseline);
- ``mesh``: how many devices held seeds (the largest count that divides ``--seeds``);
- ``max_relative_difference``: the largest ``|x - x_1| / max(|x_1|, 1e-6)`` over every metric of
  every seed and iteration against the baseline: a seed's numbers do not depend on the device
  count, up to XLA's float rounding for another batch per device.

Forced host devices share the machine's cores: with no more cores than devices, more devices cannot
be faster (the JSON's ``note`` says so when that is the case); what the CPU figures show is that the
sharded program runs and agrees, and what splitting costs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from trirl.argtypes import integer
from trirl.provenance import machine
from trirl.errors import InvalidConfigError
from trirl.rundir import write_json

DEFAULT_OUT = Path("continuous") / "results" / "scaling_cpu.json"


def measure(config_name: str, seeds: int, iterations: int, devices: int) -> dict:
    """Run in the worker process: time ``iterations`` iterations of ``seeds`` seeds on this process's
    first ``devices`` devices (after one compiling iteration); returns the rates, the mesh and every
    metric (``{name: [iterations, seeds]}``).

    Raises:
        InvalidConfigError: the process has fewer than ``devices`` devices (naming ``--devices``).
    """
    import jax

    from trirl import driver
    from trirl.continuous import train

    local = jax.local_devices()
    if len(local) < devices:
        raise InvalidConfigError(f"--devices {devices}: this process has {len(local)} {jax.default_backend()} device(s)")
    local = local[:devices]
    config = train.load_config(config_name, seeds=seeds)
    demos, _ = train.prepare(config)
    learner = driver.jitted(train.build(config, demos), seeds, devices=local)
    init_key, step_key, _ = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    state = learner.init(jax.random.split(init_key, seeds))
    state, _ = learner.step(state, jax.random.fold_in(step_key, 0))  # compiles
    jax.block_until_ready(state)
    metrics = []
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(1, iterations + 1):
        state, row = learner.step(state, jax.random.fold_in(step_key, i))
        metrics.append(row)
    jax.block_until_ready((state, metrics))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps = seeds * config.ppo.batch_size * iterations
    mesh = driver.seed_mesh(seeds, local)
    return {"devices": len(local), "mesh": 1 if mesh is None else mesh.size, "platform": jax.default_backend(),
            "wall_seconds": wall, "cpu_seconds": cpu, "env_steps": steps,
            "env_steps_per_second": steps / wall, "env_steps_per_cpu_second": steps / cpu,
            "metrics": {name: np.stack([np.asarray(row[name], np.float64) for row in metrics]).tolist()
                        for name in metrics[0]}}


def run_devices(devices: int, config_name: str, seeds: int, iterations: int, timeout: float = 3600) -> dict:
    """:func:`measure` in a fresh process with ``devices`` forced host devices."""
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join([*flags, f"--xla_force_host_platform_device_count={devices}"])
    code = ("import json, sys; from trirl.bench.scaling import measure; "
            "print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))")
    done = subprocess.run([sys.executable, "-c", code, config_name, str(seeds), str(iterations), str(devices)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"trirl bench scaling: the run on {devices} device(s) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def max_relative_difference(metrics: dict, baseline: dict) -> tuple[float, str]:
    """The largest ``|x - x_1| / max(|x_1|, 1e-6)`` over the metrics both runs report, and the
    metric where it occurs (``(0.0, "")`` when all agree exactly). NaN entries (e.g. a mean over no
    finished episode) count where both runs have NaN and only there."""
    worst, where = 0.0, ""
    for name in baseline:
        want, have = np.asarray(baseline[name], np.float64), np.asarray(metrics[name], np.float64)
        if not np.array_equal(np.isnan(want), np.isnan(have)):
            return float("inf"), name
        ok = ~np.isnan(want)
        if ok.any():
            value = float(np.max(np.abs(have[ok] - want[ok]) / np.maximum(np.abs(want[ok]), 1e-6)))
            if value > worst:
                worst, where = value, name
    return worst, where


def scaling(devices: list[int], config_name: str, seeds: int, iterations: int, command: str = "") -> dict:
    """Every device count of ``devices`` in its own process; the result that ``main`` writes."""
    runs = []
    for count in devices:
        print(f"{count} device(s) ...", flush=True)
        runs.append(run_devices(count, config_name, seeds, iterations))
    base = runs[0]
    cores = machine(command=False)["cores"]
    entries = [{"devices": count, **{k: v for k, v in run.items() if k not in ("metrics", "devices")},
                "speedup": run["env_steps_per_second"] / base["env_steps_per_second"],
                "cpu_speedup": run["env_steps_per_cpu_second"] / base["env_steps_per_cpu_second"],
                **dict(zip(("max_relative_difference", "max_relative_difference_metric"),
                           max_relative_difference(run["metrics"], base["metrics"])))}
               for count, run in zip(devices, runs)]
    note = (f"{len(devices)} device counts in separate processes, same seeds and keys; speedup against "
            f"{devices[0]} device(s) measured in the same run.")
    if runs[0]["platform"] == "cpu" and max(devices) > cores:
        note += (f" Forced CPU host devices share this machine's {cores} cores: with more devices than cores "
                 "no speedup is possible, and other jobs on the machine slow every configuration; the figures "
                 "show that the sharded program runs and agrees, and what splitting costs.")
    return {"benchmark": "scaling", "config": config_name, "seeds": seeds, "timed_iterations": iterations,
            "machine": {**machine(command=False), "command": command, "jax": version("jax"), "jax_backend": runs[0]["platform"]},
            "command": command, "note": note, "configurations": entries}


def table(result: dict) -> str:
    """A Markdown table of a result of :func:`scaling` (as written to JSON): one row per device
    count with the devices holding seeds, env-steps per wall and per CPU second, the speedup against
    the first count and the largest relative difference of the metrics (and which metric)."""
    lines = ["| devices | holding seeds | env-steps/s | speedup | env-steps per CPU second | max. relative difference |",
             "|---:|---:|---:|---:|---:|:---|"]
    for entry in result["configurations"]:
        lines.append(f"| {entry['devices']} | {entry['mesh']} | {entry['env_steps_per_second']:,.0f} | "
                     f"{entry['speedup']:.2f} | {entry['env_steps_per_cpu_second']:,.0f} | "
                     f"{entry['max_relative_difference']:.1e} {_metric(entry)}|")
    return "\n".join(lines)


def _metric(entry: dict) -> str:
    name = entry.get("max_relative_difference_metric", "")
    return f"(`{name}`) " if name else ""


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected device counts >= 1 separated by commas (e.g. 1,2,4), got {text!r}")
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trirl bench scaling", description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=_counts, default=[1, 2, 4],
                        help="device counts, the first the baseline (default 1,2,4)")
    parser.add_argument("--config", default="trirl_point_maze", help="train config: a path or a shipped name")
    parser.add_argument("--seeds", type=integer(1), default=4,
                        help="seeds, the same in every configuration (default 4)")
    parser.add_argument("--iterations", type=integer(1), default=5,
                        help="timed iterations after the compiling one (default 5)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"JSON to write (default {DEFAULT_OUT})")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        command = shlex.join(["trirl", "bench", "scaling", *argv])
        result = scaling(args.devices, args.config, args.seeds, args.iterations, command)
    except (InvalidConfigError, RuntimeError) as err:
        print(f"trirl bench scaling: error: {err}", file=sys.stderr)
        return 2
    for entry in result["configurations"]:
        print(f"{entry['devices']} device(s), {entry['mesh']} holding seeds: {entry['env_steps_per_second']:,.0f} "
              f"env-steps/s ({entry['speedup']:.2f}x), max relative difference {entry['max_relative_difference']:.1e} "
              f"({entry['max_relative_difference_metric'] or '-'})")
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
