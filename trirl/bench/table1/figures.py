"""A study's figures (``table1.png``, ``learning_curves.png``) and its table as text, from the summary
:func:`trirl.bench.table1.aggregate.aggregate` returns."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from trirl.stats import iqm

IQM_LABEL = "ours: IQM, 95 % CI"
MEAN_LABEL = "ours: mean"
SEEDS_LABEL = "ours: each seed"
CONTROL_LABEL = "PPO on the true reward: IQM, 95 % CI"
PAPER_LABEL = "paper, Table 1 (value +- as printed)"
CURVE_IQM_LABEL = "IQM over seeds"
STAGE_TITLES = {"training": "training", "retraining": "retraining (frozen reward, new seeds)", "transfer": "transfer"}


def plot_table(summary: dict[str, Any]):
    """The Table-1 figure: one panel per stage; per variant the seeds (dots), the IQM with its
    95 % CI (error bar), the mean, the paper's value and the control's IQM and CI (grey band)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = summary["order"]
    labels = [summary["variants"][n]["label"] for n in names]
    xs = np.arange(len(names), dtype=float)
    stages = summary["stages"]
    fig, axes = plt.subplots(1, len(stages), figsize=(1.2 * len(names) * len(stages) + 2, 4.6), sharey=True, squeeze=False)
    rng = np.random.default_rng(0)
    for ax, stage in zip(axes[0], stages):
        rows = [summary["variants"][n]["stages"][stage] for n in names]
        for x, row in zip(xs, rows):
            if "control" in row:
                control = row["control"]
                lo, hi = control["iqm_ci"]
                ax.add_patch(matplotlib.patches.Rectangle((x - 0.42, lo), 0.84, max(hi - lo, 1e-3), color="0.6", alpha=0.3,
                                                          lw=0))
                ax.hlines(control["iqm"], x - 0.42, x + 0.42, colors="0.45", linestyles="--",
                          label=CONTROL_LABEL if x == xs[0] else None)
            values = np.asarray(row["values"])
            ax.scatter(x - 0.12 + 0.08 * rng.uniform(-1, 1, values.size), values, s=9, color="tab:blue", alpha=0.35,
                       label=SEEDS_LABEL if x == xs[0] else None)
        iqm = np.array([row["iqm"] for row in rows])
        ci = np.array([row["iqm_ci"] for row in rows])
        ax.errorbar(xs, iqm, yerr=[iqm - ci[:, 0], ci[:, 1] - iqm], fmt="o", color="black", capsize=4, label=IQM_LABEL)
        ax.scatter(xs + 0.12, [row["mean"] for row in rows], marker="D", facecolors="none", edgecolors="tab:blue",
                   label=MEAN_LABEL)
        paper = [(x, row["paper"]) for x, row in zip(xs, rows) if row.get("paper")]
        if paper:
            ax.errorbar([x + 0.25 for x, _ in paper], [p[0] for _, p in paper], yerr=[p[1] for _, p in paper], fmt="*",
                        color="tab:red", markersize=10, capsize=3, label=PAPER_LABEL)
        ax.axhline(1.0, color="green", lw=0.8, ls=":", label="expert (1)")
        ax.axhline(0.0, color="0.3", lw=0.8, ls=":", label="uniform random actions (0)")
        env = next((row["env"] for row in rows), "")
        ax.set_title(f"{STAGE_TITLES.get(stage, stage)}\non {env}")
        ax.set_xticks(xs, labels, rotation=25, ha="right")
        ax.set_xlabel("variant")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("expert-normalised return")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:  # the paper's marker may be in a later panel only
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize="small", frameon=False)
    fig.suptitle(f"{summary['study']}: {summary['env']}, {summary['seeds']} seeds per variant, "
                 f"IQM with 95 % stratified bootstrap CI (rliable)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def plot_curves(summary: dict[str, Any]):
    """All-seed training curves (paper Fig. 8 style): a panel per variant, every seed's evaluation
    a thin line (``gid`` ``seed J``), the IQM over seeds bold."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = summary["order"]
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.5 * rows), sharey=True, squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        entry = summary["variants"][name]
        x = np.asarray(entry["curve"]["env_steps"])
        per_seed = np.asarray(entry["curve"]["per_seed"]).reshape(len(x), -1)
        for j in range(per_seed.shape[1]):
            (line,) = ax.plot(x, per_seed[:, j], lw=0.7, alpha=0.45, color="tab:blue",
                              label=f"each seed (n = {per_seed.shape[1]})" if j == 0 else None)
            line.set_gid(f"seed {j}")
        ax.plot(x, [iqm(v) for v in per_seed], lw=2.5, color="black", label=CURVE_IQM_LABEL)
        ax.axhline(1.0, color="green", lw=0.8, ls=":", label="expert (1)")
        ax.set_title(f"{entry['label']} ({entry['algo']})")
        ax.set_xlabel("environment steps per seed")
        ax.set_ylabel("expert-normalised evaluation return")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="lower right")
    fig.suptitle(f"{summary['study']}: training curves on {summary['env']}, every seed (paper Fig. 8 style)")
    fig.tight_layout()
    return fig


def write_outputs(summary: dict[str, Any], runs: Path, out: Path) -> list[Path]:
    """``out/NAME.json``, ``table1.png``, ``learning_curves.png`` and the landscapes; their paths."""
    from trirl.bench import study

    written = study.write_outputs(summary, out, summary["study"],
                                  {"table1.png": plot_table, "learning_curves.png": plot_curves}, dpi=100)
    for variant in summary["variants"]:
        landscape = runs / variant / "retraining" / "landscape.png"
        if landscape.exists():
            shutil.copyfile(landscape, out / f"landscape_{variant}.png")
            written.append(out / f"landscape_{variant}.png")
    return written


def format_table(summary: dict[str, Any]) -> str:
    """The table as text: per variant and stage IQM [95 % CI], the control's IQM and the paper's."""
    lines = [f"{summary['study']}: expert-normalised return, IQM [95 % CI] over {summary['seeds']} seeds "
             f"(control: PPO on the true reward; paper: Table 1)"]
    for entry in (summary["variants"][name] for name in summary["order"]):
        cells = []
        for stage in summary["stages"]:  # the paper's order (a reloaded JSON has its keys sorted)
            row = entry["stages"][stage]
            cell = f"{stage} {row['iqm']:.2f} [{row['iqm_ci'][0]:.2f}, {row['iqm_ci'][1]:.2f}]"
            if "control" in row:
                cell += f" (control {row['control']['iqm']:.2f})"
            if "demonstrator_normalised" in row:
                cell += f" (demonstrations = 1: {row['demonstrator_normalised']['iqm']:.2f})"
            if row.get("paper"):
                cell += f" (paper {row['paper'][0]:.2f} +- {row['paper'][1]:g})"
            cells.append(cell)
        lines.append(f"  {entry['label']:<24} " + "; ".join(cells))
    return "\n".join(lines)

