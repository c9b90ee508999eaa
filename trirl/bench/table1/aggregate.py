"""A study's table: per variant and stage the expert-normalised per-seed scores, their IQM and mean
with 95 % stratified bootstrap CIs (:func:`trirl.stats.interval_estimates`), the true-reward
control's and the paper's numbers (the module doc of :mod:`trirl.bench.table1`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from trirl.bench.study import RESULT_FILE, expert_normaliser, training_curve
from trirl.bench.table1.spec import Study
from trirl.errors import InvalidConfigError
from trirl.rundir import read_json
from trirl.stats import interval_estimates


def _saved_result(path: Path) -> dict[str, Any]:
    """A completed stage's ``result.json`` (a control trained by a variant that ``--only`` left out)."""
    if not (path / RESULT_FILE).exists():
        raise InvalidConfigError(f"{path} holds no completed stage, and its true-reward control is needed: "
                                 f"run that variant too (--only)")
    return read_json(path / RESULT_FILE, "a completed stage's result (written by trirl bench table1)")


def aggregate(study: Study, results: dict[str, dict[str, Any]], runs: Path) -> dict[str, Any]:
    """The study's table (module doc): per variant and stage the per-seed expert-normalised values,
    IQM and mean with CIs, the control's and the paper's; per variant the training curves."""
    from trirl.continuous.demos import load_demonstrations

    scores, variants = {}, {}
    for variant in study.variants.values():
        if variant.name not in results:  # left out by --only
            continue
        config = study.configs[variant.name]
        normalise = expert_normaliser(config)

        # The demonstrations' own mean return as 1 (same env only): a score the paper's > 1 training
        # values suggest (a stochastic demonstrator scores below its deterministic mean policy).
        demonstrations_return = float(np.mean(load_demonstrations(config.demos_file).returns))

        stages = {}
        for stage in study.stages:
            result = results[variant.name][stage]
            stages[stage] = {"returns": result["returns"], "values": normalise(result["returns"]).tolist(),
                             "env": result.get("env", config.env), "env_steps": result["env_steps"],
                             "wall_clock_s": result.get("wall_clock_s"), "run": str(runs / variant.name / stage),
                             "paper": study.paper.get(variant.paper, {}).get(stage)}
            scores[f"{variant.name}/{stage}"] = stages[stage]["values"]
            if demonstrations_return is not None and stages[stage]["env"] == config.env:
                stages[stage]["demonstrator_normalised"] = {
                    "demonstrations_return": demonstrations_return,
                    "values": normalise(result["returns"], one=demonstrations_return).tolist()}
                scores[f"{variant.name}/{stage}/demonstrator"] = stages[stage]["demonstrator_normalised"]["values"]
            if stage != "training":
                owner = result["control_from"]
                control = results.get(owner, {}).get(stage) or _saved_result(runs / owner / stage)
                stages[stage]["control"] = {"from": owner, "returns": control["control_returns"],
                                            "values": normalise(control["control_returns"]).tolist()}
                scores[f"control:{owner}/{stage}"] = stages[stage]["control"]["values"]
                if "landscape_check" in result:
                    shares = [check["share"] for check in result["landscape_check"]]
                    stages[stage]["overpaying_share"] = {"per_seed": shares, "median": float(np.median(shares))}
        variants[variant.name] = {"label": variant.label, "config": variant.config, "algo": config.algo,
                                  "paper_row": variant.paper or None, "stages": stages,
                                  "curve": training_curve(runs / variant.name / "training", normalise)}
    estimates = interval_estimates(scores, study.bootstrap_reps)
    for name, entry in variants.items():
        for stage, values in entry["stages"].items():
            values.update(estimates[f"{name}/{stage}"])
            if "demonstrator_normalised" in values:
                values["demonstrator_normalised"].update(estimates[f"{name}/{stage}/demonstrator"])
            if "control" in values:
                values["control"].update(estimates[f"control:{values['control']['from']}/{stage}"])
    return {"study": study.name, "spec": study.source, "env": study.env, "transfer_env": study.transfer_env or None,
            "stages": list(study.stages), "order": list(variants),
            "not_run": [name for name in study.variants if name not in variants], "seeds": study.train.seeds, "train": dataclasses.asdict(study.train),
            "retrain": study.retrain, "bootstrap_reps": study.bootstrap_reps, "paper": study.paper,
            "normalisation": "expert-normalised return (R - R_random) / (R_expert - R_random): the deterministic expert "
                             "= 1, uniform random actions = 0 (the training env's returns.json, also for the transfer env); "
                             "demonstrator_normalised (training env only): the demonstrations' mean return = 1 instead",
            "variants": variants}

