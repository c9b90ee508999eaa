"""A suite's figures (``suite.png``, ``learning_curves.png``) and its table as text, from the summary
:func:`trirl.bench.suite.aggregate.aggregate` returns."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from trirl.stats import iqm

AGGREGATE_IQM_LABEL = "IQM over runs and tasks, 95 % CI"
AGGREGATE_MEAN_LABEL = "mean over runs and tasks, 95 % CI"
PAPER_LABEL = "paper (Table 2; point maze: Table 1), value +- as printed"
NOTHING_YET = "no task has every stage yet"
TITLES = ("aggregate over the complete tasks", "performance profile", "probability of improvement",
          "per task: IQM over seeds, 95 % CI")


def _label(summary: dict[str, Any], method: str) -> str:
    return summary["methods"][method]["label"]


def plot_suite(summary: dict[str, Any]):
    """The suite's figure, four panels: (a) aggregate IQM and mean per method with CIs; (b) the
    performance profiles (fraction of runs above each score, non-increasing), CI bands; (c) the
    probability that the reference method beats each other, CI, 0.5 = a tie; (d) per task and
    method the IQM with its CI, every seed (dots) and the paper's value (star)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(25, 6.4), gridspec_kw={"width_ratios": [1, 1.1, 1, 2.2]})
    colors = {m: f"C{i}" for i, m in enumerate(summary["order"]["methods"])}
    for ax, title in zip(axes, TITLES):
        ax.set_title(title)
        ax.grid(alpha=0.3)

    ax = axes[0]
    methods = [m for m in summary["order"]["methods"] if m in summary["aggregate"]]
    ys = np.arange(len(methods), dtype=float)
    for offset, stat, label, marker in ((0.15, "iqm", AGGREGATE_IQM_LABEL, "o"), (-0.15, "mean", AGGREGATE_MEAN_LABEL, "D")):
        if not methods:
            break
        values = np.array([summary["aggregate"][m][stat] for m in methods])
        ci = np.array([summary["aggregate"][m][f"{stat}_ci"] for m in methods])
        ax.errorbar(values, ys + offset, xerr=[values - ci[:, 0], ci[:, 1] - values], fmt=marker, color="black",
                    mfc="black" if stat == "iqm" else "none", capsize=3, label=label)
    ax.set_yticks(ys, [_label(summary, m) for m in methods])
    if methods:
        ax.set_ylim(len(methods) - 0.5, -0.5)  # the spec's first method on top
    ax.set_xlabel("expert-normalised score")
    ax.axvline(1.0, color="green", lw=0.8, ls=":", label="expert (1)")
    ax.axvline(0.0, color="0.3", lw=0.8, ls=":", label="uniform random actions (0)")
    if methods:
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    else:
        ax.text(0.5, 0.5, NOTHING_YET, ha="center", va="center", transform=ax.transAxes)

    ax = axes[1]
    tau = np.asarray(summary["performance_profiles"]["tau"])
    profiles = summary["performance_profiles"]["methods"]
    for method, profile in ((m, profiles[m]) for m in summary["order"]["methods"] if m in profiles):  # the spec's order
        ax.plot(tau, profile["fraction"], color=colors[method], label=_label(summary, method))
        ax.fill_between(tau, *profile["ci"], color=colors[method], alpha=0.15, lw=0)
    ax.set_xlabel(r"expert-normalised score $\tau$")
    ax.set_ylabel(r"fraction of runs with score > $\tau$")
    ax.set_ylim(-0.02, 1.02)
    if summary["performance_profiles"]["methods"]:
        ax.legend(fontsize="x-small")
    else:
        ax.text(0.5, 0.5, NOTHING_YET, ha="center", va="center", transform=ax.transAxes)

    ax = axes[2]
    poi = summary["probability_of_improvement"]
    others = [m for m in summary["order"]["methods"] if m in poi["over"]]
    ys = np.arange(len(others), dtype=float)
    if others:
        values = np.array([poi["over"][m]["value"] for m in others])
        ci = np.array([poi["over"][m]["ci"] for m in others])
        ax.errorbar(values, ys, xerr=[values - ci[:, 0], ci[:, 1] - values], fmt="o", color="black", capsize=3)
    else:
        ax.text(0.5, 0.5, NOTHING_YET, ha="center", va="center", transform=ax.transAxes)
    ax.set_yticks(ys, [f"{_label(summary, poi['of'])}\nover {_label(summary, m)}" for m in others], fontsize="small")
    if others:
        ax.set_ylim(len(others) - 0.5, -0.5)
    ax.axvline(0.5, color="0.4", ls="--", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"P({_label(summary, poi['of'])} > other)")

    _plot_per_task(axes[3], summary, colors)
    complete = ", ".join(summary["aggregate_tasks"]) or "none"
    fig.suptitle(f"{summary['suite']}: {summary['seeds']} seeds per task and method; aggregate over {complete} "
                 f"({len(summary['done'])} of {len(summary['stages'])} stages done)")
    notes = [f"* {task['label']}: {task['note']}" for task in summary["tasks"].values() if task["note"]]
    if notes:
        fig.text(0.01, 0.01, "\n".join(notes), fontsize="small", va="bottom")
    fig.tight_layout(rect=(0, 0.035 * len(notes), 1, 1))
    return fig


def _plot_per_task(ax, summary: dict[str, Any], colors: dict[str, str]) -> None:
    tasks, methods = summary["order"]["tasks"], summary["order"]["methods"]
    width = 0.8 / max(len(methods), 1)
    rng = np.random.default_rng(0)
    paper_drawn, labelled = False, set()
    for i, task in enumerate(tasks):
        for j, method in enumerate(methods):
            row = summary["per_task"].get(task, {}).get(method)
            if row is None:
                continue
            x = i - 0.4 + width * (j + 0.5)
            values = np.asarray(row["values"])
            ax.scatter(x + 0.15 * width * rng.uniform(-1, 1, values.size), values, s=7, color=colors[method], alpha=0.35)
            ax.errorbar([x], [row["iqm"]], yerr=[[row["iqm"] - row["iqm_ci"][0]], [row["iqm_ci"][1] - row["iqm"]]],
                        fmt="o", color=colors[method], capsize=3,
                        label=None if method in labelled else _label(summary, method))
            labelled.add(method)
            if row.get("paper"):
                ax.errorbar([x + 0.3 * width], [row["paper"][0]], yerr=[row["paper"][1]], fmt="*", color="black",
                            markersize=9, capsize=2, label=None if paper_drawn else PAPER_LABEL)
                paper_drawn = True
        if task not in summary["per_task"]:
            ax.text(i, 0.5, "missing", rotation=90, ha="center", va="center", color="0.5", fontsize="small")
    labels = [textwrap.fill(summary["tasks"][t]["label"] + (" *" if summary["tasks"][t]["note"] else ""), 18) for t in tasks]
    ax.set_xticks(np.arange(len(tasks)), labels, rotation=20, ha="right")
    ax.axhline(1.0, color="green", lw=0.8, ls=":", label="expert (1)")
    ax.axhline(0.0, color="0.3", lw=0.8, ls=":", label="uniform random actions (0)")
    ax.set_ylabel("expert-normalised return")
    ax.set_xlim(-0.5, len(tasks) - 0.5)
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)  # below two-line task names


def plot_curves(summary: dict[str, Any]):
    """All-seed training curves, a panel per task (rows) and method (columns): every seed a thin
    line (``gid`` ``seed J``), the IQM over seeds bold; missing stages say why."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    tasks, methods = summary["order"]["tasks"], summary["order"]["methods"]
    fig, axes = plt.subplots(len(tasks), len(methods), figsize=(3.6 * len(methods), 2.8 * len(tasks)), sharey=True,
                             squeeze=False)
    for row_axes, task in zip(axes, tasks):
        for ax, method in zip(row_axes, methods):
            ax.set_title(f"{summary['tasks'][task]['label']}: {_label(summary, method)}", fontsize="small")
            entry = summary["per_task"].get(task, {}).get(method)
            if f"{task}/{method}" not in summary["stages"]:  # a control task's methods are a few
                ax.set_title(f"{summary['tasks'][task]['label']}: {_label(summary, method)}\n(not run on this task)",
                             fontsize="small", color="0.5")
                ax.axis("off")
                continue
            if entry is None:
                reason = summary["stages"][f"{task}/{method}"].get("reason", "")
                ax.text(0.5, 0.5, "missing:\n" + textwrap.fill(reason, 40), ha="center", va="center", fontsize="x-small",
                        transform=ax.transAxes)
                ax.set_xticks([])
                continue
            x = np.asarray(entry["curve"]["env_steps"])
            per_seed = np.asarray(entry["curve"]["per_seed"]).reshape(len(x), -1)
            for j in range(per_seed.shape[1]):
                (line,) = ax.plot(x, per_seed[:, j], lw=0.7, alpha=0.45, color="tab:blue",
                                  label=f"each seed (n = {per_seed.shape[1]})" if j == 0 else None)
                line.set_gid(f"seed {j}")
            ax.plot(x, [iqm(v) for v in per_seed], lw=2.2, color="black", label="IQM over seeds")
            ax.axhline(1.0, color="green", lw=0.8, ls=":")
            ax.set_xlabel("environment steps per seed", fontsize="small")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="xx-small", loc="lower right")
        row_axes[0].set_ylabel("expert-normalised\nevaluation return", fontsize="small")
    fig.suptitle(f"{summary['suite']}: training curves, every seed")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.25 / fig.get_figheight()))  # the title above the first row's titles
    return fig


def write_outputs(summary: dict[str, Any], out: Path) -> list[Path]:
    """``out/NAME.json``, ``suite.png`` and ``learning_curves.png``; their paths."""
    from trirl.bench import study

    return study.write_outputs(summary, out, summary["suite"],
                               {"suite.png": plot_suite, "learning_curves.png": plot_curves}, dpi=90)


def format_table(summary: dict[str, Any]) -> str:
    """The suite as text: per task and method IQM [95 % CI] (and the paper's), then the aggregate,
    the probability of improvement and the missing stages with their reasons."""
    lines = [f"{summary['suite']}: expert-normalised return, IQM [95 % CI] over {summary['seeds']} seeds"]
    for task in summary["order"]["tasks"]:
        cells = []
        for method in summary["order"]["methods"]:
            row = summary["per_task"].get(task, {}).get(method)
            if row is not None:
                paper = f" (paper {row['paper'][0]:.2f} +- {row['paper'][1]:g})" if row.get("paper") else ""
                cells.append(f"{method} {row['iqm']:.2f} [{row['iqm_ci'][0]:.2f}, {row['iqm_ci'][1]:.2f}]{paper}")
        lines.append(f"  {summary['tasks'][task]['label']:<14} " + ("; ".join(cells) or "no stage done"))
    for method, row in ((m, summary["aggregate"][m]) for m in summary["order"]["methods"] if m in summary["aggregate"]):
        lines.append(f"  aggregate {method}: IQM {row['iqm']:.2f} [{row['iqm_ci'][0]:.2f}, {row['iqm_ci'][1]:.2f}], "
                     f"mean {row['mean']:.2f} over {', '.join(row['tasks'])}")
    poi = summary["probability_of_improvement"]
    for other, row in ((m, poi["over"][m]) for m in summary["order"]["methods"] if m in poi["over"]):
        lines.append(f"  P({poi['of']} > {other}) = {row['value']:.2f} [{row['ci'][0]:.2f}, {row['ci'][1]:.2f}]")
    for task in summary["order"]["tasks"]:  # one line per task where every method misses for one reason
        rows = {m: summary["missing"][f"{task}/{m}"]["reason"] for m in summary["order"]["methods"]
                if f"{task}/{m}" in summary["missing"]}
        if len(rows) == sum(s.split("/")[0] == task for s in summary["stages"]) > 1 and len(set(rows.values())) == 1:
            lines.append(f"  missing {task} (every method): {next(iter(rows.values()))}")
        else:
            lines.extend(f"  missing {task}/{method}: {reason}" for method, reason in rows.items())
    return "\n".join(lines)
