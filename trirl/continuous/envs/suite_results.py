"""The locomotion suite's measured results in one table, read from the committed JSON files.

One row per task of ``envs/locomotion.py`` (Gymnasium v5's tasks, version 2), gathered from
three kinds of file under ``continuous/``:

- ``results/suite_equivalence_cpu.json`` (``python -m trirl.continuous.envs.equivalence``): the
  median largest observation difference after 1, 5 and 20 paired steps, the uniform random
  policy's returns in trirl's MJX task and in Gymnasium's C MuJoCo one, and, where an expert was
  measured, its deterministic returns in both;
- ``results/bench_*_cpu.json`` (``trirl bench continuous``): raw physics and PPO env-steps/s and
  their ratio per wall-clock and per CPU second; a row counts for a task only if it timed
  version 2 (its ``env_options``, else the task's default version);
- ``experts/<task>/returns.json`` (``trirl expert evaluate``) with the run's ``config.json``:
  the committed expert's return and the version of the physics it was trained on.

The book's environment section (chapter 9) shows :func:`suite_table`; numbers are never pasted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from trirl.continuous.envs import LOCOMOTION_NAMES
from trirl.continuous.envs.locomotion import LATEST, V1_DEFAULT, LocomotionConfig

SETTING = "newton_4_4"  #: the default MJX setting (LocomotionConfig's), as the equivalence file names it
KS = (1, 5, 20)  #: the steps after which the table shows the observation difference
#: what a transfer variant changes in its Gymnasium task
VARIANT_LABELS = {"half_cheetah_windy": "5 m/s head wind", "half_cheetah_mars": "gravity 3.73 m/s²",
                  "ant_disabled": "front legs short, unpowered"}


class SuiteRow(NamedTuple):
    """One task's measurements (``None``: not measured yet)."""

    task: str
    gym_id: str  #: the Gymnasium task, with what a transfer variant changes
    obs_error: tuple[float, ...] | None  #: median largest |obs difference| after ``KS`` steps
    random_mjx: float | None  #: the uniform random policy's mean return in trirl's task
    random_gym: float | None  #: ... in Gymnasium's
    expert_mjx: float | None  #: the committed expert's (deterministic) mean return in trirl's task
    expert_gym: float | None  #: ... in Gymnasium's, from the same start states
    physics_per_s: float | None  #: raw MJX env-steps/s at the CPU config's batch
    ppo_per_s: float | None  #: PPO training env-steps/s at the CPU config
    ppo_over_physics: float | None  #: ppo_per_s / physics_per_s (wall clock)
    ppo_over_physics_cpu: float | None  #: the same per process CPU second
    expert: dict[str, Any] | None  #: the committed expert: ``return``, ``std``, ``random``, ``version``

    def hours_for(self, env_steps: float) -> float | None:
        """Wall-clock hours of PPO training for ``env_steps`` steps at the measured PPO throughput."""
        return None if self.ppo_per_s is None else env_steps / self.ppo_per_s / 3600


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def _bench_row(results_dir: Path, task: str) -> dict | None:
    default = 1 if task in V1_DEFAULT else LATEST
    for path in sorted(results_dir.glob("bench_*_cpu.json")):
        for row in _read(path).get("results", []):
            if row.get("env") == task and row.get("env_options", {}).get("version", default) == LATEST:
                return row
    return None


def _expert(experts_dir: Path, task: str) -> dict | None:
    returns_path = experts_dir / task / "returns.json"
    if not returns_path.exists():
        return None
    returns = _read(returns_path)
    config_path = experts_dir / task / "config.json"
    options = _read(config_path).get("env_options", {}) if config_path.exists() else {}
    version = LocomotionConfig(robot=task, **{k: v for k, v in options.items() if k == "version"}).version
    return {"return": returns["expert_return"], "std": returns["expert_return_std"],
            "random": returns["random_return"], "version": version}


def suite_rows(results_dir: str | Path, experts_dir: str | Path) -> list[SuiteRow]:
    """The suite's rows in ``envs.LOCOMOTION_NAMES`` order (module docstring)."""
    results_dir, experts_dir = Path(results_dir), Path(experts_dir)
    equivalence_path = results_dir / "suite_equivalence_cpu.json"
    equivalence = _read(equivalence_path)["results"] if equivalence_path.exists() else {}
    rows = []
    for task in LOCOMOTION_NAMES:
        entry = equivalence.get(task, {}).get(SETTING, {})
        k_steps, random, expert = entry.get("k_steps"), entry.get("random_policy_returns"), entry.get("expert_returns")
        obs_error = tuple(k_steps["obs_error_median"][k_steps["k"].index(k)] for k in KS) if k_steps else None
        bench = _bench_row(results_dir, task) or {}
        rows.append(SuiteRow(
            task, ", ".join([LocomotionConfig(robot=task, version=LATEST).task.gym_id]
                            + ([VARIANT_LABELS[task]] if task in VARIANT_LABELS else [])), obs_error,
            random and random["mjx_return_mean"], random and random["gym_return_mean"],
            expert and expert["mjx_return_mean"], expert and expert["gym_return_mean"],
            bench.get("physics_env_steps_per_s"), bench.get("ppo_env_steps_per_s"), bench.get("ppo_over_physics"),
            bench.get("ppo_over_physics_cpu"), _expert(experts_dir, task)))
    return rows


def _pair(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None else f"{a:,.0f} / {b:,.0f}"


def suite_table(rows: list[SuiteRow]) -> str:
    """The rows as a Markdown table ("–": not measured yet)."""
    head = ("| task | Gymnasium | obs. difference after 1 / 5 / 20 steps | random returns MJX / Gymnasium "
            "| expert MJX / Gymnasium | physics / PPO env-steps/s | PPO / physics (wall; CPU) | committed expert |")
    lines = [head, "|" + "---|" * 8]
    for row in rows:
        error = "–" if row.obs_error is None else " / ".join(f"{e:.0e}" for e in row.obs_error)
        ratio = "–" if row.ppo_over_physics is None else f"{row.ppo_over_physics:.2f}; {row.ppo_over_physics_cpu:.2f}"
        expert = "–"
        if row.expert is not None:
            expert = f"{row.expert['return']:,.0f} +- {row.expert['std']:,.0f} (version {row.expert['version']}"
            expert += ", the old physics)" if row.expert["version"] != LATEST else ")"
        lines.append(f"| {row.task} | {row.gym_id} | {error} | {_pair(row.random_mjx, row.random_gym)} "
                     f"| {_pair(row.expert_mjx, row.expert_gym)} | {_pair(row.physics_per_s, row.ppo_per_s)} "
                     f"| {ratio} | {expert} |")
    return "\n".join(lines)
