"""Collect a folder of continuous training runs into one results JSON and one learning-curve figure.

::

    trirl bench report --runs runs/ant_cpu --out continuous/results/ant_cpu/ant_cpu.json \
        [--figure continuous/results/ant_cpu/learning_curves.png] [--line "standing still=0.43"]

A run is a subfolder of ``--runs`` holding ``config.json`` and ``metrics.jsonl`` (``trirl train``
or ``trirl expert train``). For each run the JSON records its config, how far it got (iterations,
env steps, whether ``summary.json`` says it finished), its deterministic evaluations
(``eval_curve``: iteration, env steps, return, expert-normalised return), the final and the best
evaluation (and an expert run's best-evaluated checkpoint), the IRL diagnostics every
``--every`` iterations (``eta`` and, for a line-search run, ``projection_eta``, ...), and
``retrain.json`` / ``transfer.json`` of ``trirl evaluate`` (and probes saved as
``retrain_<what>.json``) when the run folder holds them. The figure draws every run's
expert-normalised evaluation return against env steps (one line per run, ``gid`` = the run's
name), the expert at 1 and any ``--line`` references. ``make ant-cpu`` ends with this command.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any

from trirl.errors import InvalidConfigError
from trirl.provenance import machine
from trirl.rundir import best_checkpoint_file, read_json, read_metrics, write_json

#: per-iteration diagnostics kept (every ``every`` iterations): what tells a failing IRL run apart
DIAGNOSTICS = ("normalised_return", "episodes", "expert_accuracy", "agent_accuracy", "reward_mean",
               "absorbing_reward", "policy_kl", "rollout_kl", "step_fraction", "eta", "projection_eta",
               "log_std_mean", "value_loss")
#: of ``trirl evaluate``'s result: the learnt reward's retraining and its true-reward control
EVALUATE_KEYS = ("env", "source_env", "env_steps", "seeds", "init_log_std", "returns", "normalised_return",
                 "control_returns", "control_normalised_return", "normalised_return_ratio", "learnt_reward_return",
                 "control_learnt_reward_return", "absorbing_reward", "absorbing_reward_probe",
                 "absorbing_reward_used", "expert_returns", "command", "wall_clock_s", "date")
Y_LABEL = "expert-normalised evaluation return"
X_LABEL = "environment steps (millions)"


def collect_run(path: Path, every: int = 25) -> dict[str, Any]:
    """One run folder as a record (module doc).

    Raises:
        InvalidConfigError: when ``path`` holds no ``config.json`` or no logged iteration.
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise InvalidConfigError(f"--runs: {path} is not a run directory (config.json missing)")
    rows = read_metrics(path)
    if not rows:
        raise InvalidConfigError(f"--runs: {path} has no logged iteration (metrics.jsonl empty or missing)")
    config = read_json(path / "config.json", "the run's configuration (written by trirl train)")
    evals = [{"iteration": r["iteration"], "env_steps": r["env_steps"], "eval_return": r["eval_return"],
              "eval_normalised_return": r.get("eval_normalised_return")}
             for r in rows if "eval_return" in r]
    scored = [e for e in evals if e["eval_normalised_return"] is not None]
    record = {
        "algo": config.get("algo", "ppo"), "env": config.get("env"),
        "features": (config.get("discriminator") or {}).get("features") or None,
        "config": config, "finished": (path / "summary.json").is_file(),
        "iterations": rows[-1]["iteration"], "env_steps": rows[-1]["env_steps"],
        "eval_curve": evals, "final_eval": evals[-1] if evals else None,
        "best_eval": max(scored, key=lambda e: e["eval_normalised_return"]) if scored else None,
        # trirl expert train keeps its best-evaluated state (trirl expert evaluate|collect --best)
        "best_checkpoint": str(best.relative_to(path)) if (best := best_checkpoint_file(path)) else None,
        "diagnostics": [{k: r[k] for k in ("iteration", "env_steps", *DIAGNOSTICS) if k in r}
                        for r in rows if r["iteration"] % every == 0 or r is rows[-1]],
    }
    for file in sorted(path.glob("*.json")):  # retrain.json, transfer.json and probes such as retrain_<what>.json
        if file.stem.split("_")[0] in ("retrain", "transfer"):
            result = read_json(file, "a result of trirl evaluate")
            record[file.stem] = {k: result[k] for k in EVALUATE_KEYS if k in result}
    return record


def collect(runs: Path, every: int = 25) -> dict[str, dict[str, Any]]:
    """Every run folder directly under ``runs`` (sorted by name) as :func:`collect_run` records.

    Raises:
        InvalidConfigError: when ``runs`` is not a folder or holds no run.
    """
    runs = Path(runs)
    if not runs.is_dir():
        raise InvalidConfigError(f"--runs: {runs} is not a folder")
    found = {p.name: collect_run(p, every) for p in sorted(runs.iterdir()) if (p / "config.json").is_file()}
    if not found:
        raise InvalidConfigError(f"--runs: {runs} holds no run directory (a folder with config.json)")
    return found


def plot(records: dict[str, dict[str, Any]], lines: dict[str, float] | None = None, title: str = ""):
    """Every run's expert-normalised evaluation return against env steps (millions): a line per run
    (``gid`` and label: its name), the expert at 1 and the ``lines`` references (dashed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name, record in records.items():
        curve = [e for e in record["eval_curve"] if e["eval_normalised_return"] is not None]
        if not curve:
            continue
        (line,) = ax.plot([e["env_steps"] / 1e6 for e in curve], [e["eval_normalised_return"] for e in curve],
                          lw=1.5, marker=".", ms=3, label=name)
        line.set_gid(name)
    ax.axhline(1.0, color="green", lw=0.8, ls=":", label="expert (1)")
    for label, value in (lines or {}).items():
        ax.axhline(value, color="grey", lw=0.8, ls="--", label=label)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def _line(text: str) -> tuple[str, float]:
    label, sep, value = text.rpartition("=")
    try:
        if not (sep and label):
            raise ValueError
        return label, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--line {text!r}: expected LABEL=NUMBER, e.g. 'standing still=0.43'") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trirl bench report", description=__doc__.split("\n\n")[0].replace("\n", " "))
    p.add_argument("--runs", type=Path, required=True, help="folder whose subfolders are run directories")
    p.add_argument("--out", type=Path, required=True, help="the results JSON to write")
    p.add_argument("--figure", type=Path, default=None, help="the learning-curve PNG to write")
    p.add_argument("--line", type=_line, action="append", default=[], help="a reference level LABEL=NUMBER (repeatable)")
    p.add_argument("--every", type=int, default=25, help="keep the diagnostics of every N-th iteration")
    p.add_argument("--note", default="", help="a sentence saying what the runs are, kept in the JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.every < 1:
        print(f"error: --every is {args.every}, expected an integer >= 1", file=sys.stderr)
        return 2
    try:
        records = collect(args.runs, args.every)
    except InvalidConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    argv = sys.argv[1:] if argv is None else argv
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, {"what": args.note, "command": shlex.join(["trirl", "bench", "report", *argv]),
                          "machine": machine(accelerator=True, command=False), "runs": records})
    written = [args.out]
    if args.figure is not None:
        fig = plot(records, dict(args.line), title=args.note)
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.figure, dpi=120)
        written.append(args.figure)
    print("wrote " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
