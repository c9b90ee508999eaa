"""A suite's numbers: per task and method the expert-normalised per-seed scores with IQM and mean
(95 % stratified bootstrap CIs), and over the tasks rliable's aggregate IQM and mean, performance
profiles and the probability of improvement of the reference method over each other
(:mod:`trirl.stats`), beside the paper's values, the budget and its measured cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from trirl.bench.study import expert_normaliser, training_curve
from trirl.bench.suite.spec import Suite
from trirl.stats import aggregate_estimates, interval_estimates, performance_profiles, probability_of_improvement

#: thresholds of the performance profiles (expert-normalised score)
PROFILE_TAU = tuple(np.round(np.linspace(0.0, 1.25, 26), 3).tolist())


def aggregated_tasks(suite: Suite, results: dict[str, Any]) -> list[str]:
    """The tasks of the aggregate: those where every method that can run has completed (so every
    method's aggregate covers the same tasks, save the feature-based ones on tasks without features),
    controls (``aggregate = false``) left out."""
    tasks = []
    for task in (name for name, entry in suite.tasks.items() if entry.aggregate):
        runnable = [s for s in suite.stages if s.split("/")[0] == task and s not in suite.unavailable]
        if runnable and all(stage in results for stage in runnable):
            tasks.append(task)
    return tasks


def measured_throughput(env: str, results_dir: Path | None = None) -> tuple[float, float] | None:
    """PPO's env steps per second of wall clock and per CPU second on ``env`` from
    ``bench_<env>_cpu.json`` (``trirl bench continuous``: one seed, the CPU expert's config), or
    None where it was not measured."""
    from trirl.configfile import CONFIG_DIR

    path = (results_dir or CONFIG_DIR / "results") / f"bench_{env}_cpu.json"
    if not path.is_file():
        return None
    rows = [row for row in json.loads(path.read_text()).get("results", []) if row.get("env") == env]
    return (float(rows[0]["ppo_env_steps_per_s"]), float(rows[0]["ppo_env_steps_per_cpu_s"])) if rows else None


def budget(suite: Suite) -> dict[str, Any]:
    """Per task the env steps per seed (every method the same), seeds and iterations, and the hours
    its stages cost at PPO's measured throughput, of wall clock on the measuring machine and of CPU
    (an estimate: TRIRL's discriminators and reward fit come on top; vmapped seeds share the cores
    better than one)."""
    tasks = {}
    for name, task in suite.tasks.items():
        configs = [suite.configs[f"{name}/{m}"] for m in suite.methods if f"{name}/{m}" in suite.configs]
        rates = measured_throughput(task.env)
        steps = configs[0].iterations * configs[0].ppo.batch_size if configs else task.total_steps
        total = len(configs) * suite.train.seeds * steps
        tasks[name] = {"env": task.env, "env_steps_per_seed": steps, "seeds": suite.train.seeds,
                       "iterations": configs[0].iterations if configs else None, "stages": len(configs),
                       "ppo_env_steps_per_s": rates and rates[0], "ppo_env_steps_per_cpu_s": rates and rates[1],
                       "estimated_hours": round(total / rates[0] / 3600, 2) if rates else None,
                       "estimated_cpu_hours": round(total / rates[1] / 3600, 2) if rates else None}
    measured = [t for t in tasks.values() if t["estimated_hours"] is not None]
    return {"tasks": tasks, "estimated_hours_measured_tasks": round(sum(t["estimated_hours"] for t in measured), 2),
            "estimated_cpu_hours_measured_tasks": round(sum(t["estimated_cpu_hours"] for t in measured), 2),
            "note": "estimated: stages x seeds x steps at PPO's env steps per second of wall clock (hours) and per "
                    "CPU second (cpu_hours) of trirl bench continuous (continuous/results/bench_<env>_cpu.json, one "
                    "seed, 64 envs, 2-core CPU); stages waiting for an expert counted; null where not measured"}


def _input_mode(suite: Suite, method: str) -> str | None:
    """The discriminator input ``method`` trains with (the same on every task), ``None`` if it runs nowhere."""
    configs = [config for stage, config in suite.configs.items() if stage.split("/")[1] == method]
    return configs[0].discriminator.input_mode if configs else None


def aggregate(suite: Suite, results: dict[str, Any], missing: dict[str, str], runs: Path) -> dict[str, Any]:
    """The suite's summary (module doc): ``per_task``, ``aggregate``, ``performance_profiles``,
    ``probability_of_improvement``, ``stages`` (every stage: done, or missing and why), ``budget``."""
    per_task: dict[str, dict[str, Any]] = {}
    scores = {}
    for stage, result in results.items():
        task, method = stage.split("/")
        config = suite.configs[stage]
        normalise = expert_normaliser(config)
        paper_row = suite.paper.get(suite.methods[method].paper, {})
        per_task.setdefault(task, {})[method] = {
            "returns": result["returns"], "values": normalise(result["returns"]).tolist(),
            "env_steps": result["env_steps"], "wall_clock_s": result.get("wall_clock_s"),
            "pieces": result.get("pieces"), "run": str(runs / stage),
            "paper": paper_row.get(suite.tasks[task].paper), "curve": training_curve(runs / stage, normalise)}
        scores[stage] = per_task[task][method]["values"]
    for stage, estimate in interval_estimates(scores, suite.bootstrap_reps).items():
        task, method = stage.split("/")
        per_task[task][method].update(estimate)

    tasks = aggregated_tasks(suite, results)
    matrices, covered = {}, {}
    for method in suite.methods:
        columns = [t for t in tasks if f"{t}/{method}" in results]
        if columns:
            covered[method] = columns
            matrices[method] = np.stack([per_task[t][method]["values"] for t in columns], axis=1)  # [seeds, tasks]
    overall = aggregate_estimates(matrices, suite.bootstrap_reps)
    for method, columns in covered.items():
        overall[method]["tasks"] = columns
    profiles = performance_profiles(matrices, PROFILE_TAU, suite.bootstrap_reps)
    pairs, shared = {}, {}
    for other in (m for m in covered if m != suite.reference):
        columns = [t for t in covered.get(suite.reference, []) if t in covered[other]]
        if columns:
            shared[other] = columns
            pairs[other] = tuple(np.stack([per_task[t][m]["values"] for t in columns], axis=1) for m in (suite.reference, other))
    improvement = probability_of_improvement(pairs, suite.bootstrap_reps)
    for other, columns in shared.items():
        improvement[other]["tasks"] = columns

    stages = {stage: {"status": "done"} if stage in results else {"status": "missing", "reason": missing.get(stage, "not run")}
              for stage in suite.stages}
    return {"suite": suite.name, "spec": suite.source, "seeds": suite.train.seeds, "seed": suite.train.seed,
            "reference": suite.reference, "bootstrap_reps": suite.bootstrap_reps,
            "tasks": {name: {"label": t.label, "env": t.env, "total_steps": t.total_steps, "features": t.features or None,
                             "config": t.config, "demos": t.demos, "paper_column": t.paper or None, "note": t.note,
                             "methods": list(t.methods) or None, "aggregate": t.aggregate}
                      for name, t in suite.tasks.items()},
            "methods": {name: {"label": m.label, "algo": m.algo, "features": m.features,
                               "input_mode": _input_mode(suite, name), "paper_row": m.paper or None}
                        for name, m in suite.methods.items()},
            "order": {"tasks": list(suite.tasks), "methods": list(suite.methods)},
            "stages": stages, "done": sorted(results), "missing": {s: r for s, r in stages.items() if r["status"] == "missing"},
            "per_task": per_task, "aggregate_tasks": tasks, "aggregate": overall,
            "performance_profiles": {"tau": list(PROFILE_TAU), "methods": profiles},
            "probability_of_improvement": {"of": suite.reference, "over": improvement},
            "paper": suite.paper, "budget": budget(suite),
            "normalisation": "expert-normalised return (R - R_random) / (R_expert - R_random): the expert = 1, uniform "
                             "random actions = 0 (continuous/experts/<env>/returns.json, paper Table 8); the score of a "
                             "seed is its final deterministic evaluation"}
