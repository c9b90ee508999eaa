"""Learning curves of a run directory, drawn from its ``metrics.jsonl`` into ``learning_curves.png``.

The continuous drivers (``trirl.continuous.train``, ``trirl.continuous.expert``) call
:func:`write_learning_curves` when a run finishes, pauses or stops on a non-finite value, so a run
directory always holds a plot of what its metrics say (the tabular ``trirl grid`` draws
``figure2.png`` instead). Each panel appears only when the run logged one of its metrics:

- return: training ``episode_return`` and evaluation ``eval_return`` (mean over seeds);
- expert-normalised return: ``normalised_return`` and ``eval_normalised_return``;
- discriminator accuracy on expert and agent samples (``expert_accuracy``, ``agent_accuracy``);
- the trust-region multiplier ``eta`` (and ``minibatch_eta``);
- ``policy_kl``, the KL between successive policies.

The x axis is ``env_steps`` when logged, else ``iteration``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from trirl.rundir import METRICS_FILE, _atomic_write_bytes, read_metrics

CURVES_FILE = "learning_curves.png"


class Panel(NamedTuple):
    title: str
    ylabel: str
    series: tuple[tuple[str, str], ...]  # (metric, legend label)
    log: bool = False


PANELS = (
    Panel("return (mean over seeds)", "episode return", (("episode_return", "training"), ("eval_return", "evaluation"))),
    Panel("expert-normalised return", "(R - R_random) / (R_expert - R_random)",
          (("normalised_return", "training"), ("eval_normalised_return", "evaluation"))),
    Panel("discriminator accuracy", "accuracy", (("expert_accuracy", "on expert samples"), ("agent_accuracy", "on agent samples"))),
    Panel("trust-region multiplier", "eta", (("eta", "eta"), ("minibatch_eta", "minibatch eta")), log=True),
    Panel("policy change per iteration", "KL between successive policies (nats)", (("policy_kl", "policy_kl"),), log=True),
)


def plot_learning_curves(rows: Sequence[Mapping[str, Any]], title: str = ""):
    """A figure with one panel per :data:`PANELS` entry that ``rows`` have data for; ``None`` if none."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    xkey = "env_steps" if any("env_steps" in row for row in rows) else "iteration"
    present = [p for p in PANELS if any(metric in row for row in rows for metric, _ in p.series)]
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], present):
        for metric, label in panel.series:
            points = [(row[xkey], row[metric]) for row in rows if metric in row and xkey in row]
            if points:
                x, y = zip(*points)
                ax.plot(x, y, marker="." if len(points) < 30 else None, label=label)
        if panel.log and all(row[m] > 0 for row in rows for m, _ in panel.series if m in row):
            ax.set_yscale("log")
        ax.set_title(panel.title)
        ax.set_xlabel("environment steps" if xkey == "env_steps" else "iteration")
        ax.set_ylabel(panel.ylabel)
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def write_learning_curves(run_path: str | Path, title: str = "") -> Path | None:
    """Draw ``run_path/metrics.jsonl`` into ``run_path/learning_curves.png`` (written atomically).

    Returns the PNG's path, or ``None`` when the metrics hold none of the plotted series (an
    empty run).
    """
    import matplotlib.pyplot as plt

    run_path = Path(run_path)
    fig = plot_learning_curves(read_metrics(run_path / METRICS_FILE), title)
    if fig is None:
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    target = run_path / CURVES_FILE
    _atomic_write_bytes(target, buffer.getvalue())
    return target


__all__ = ["CURVES_FILE", "PANELS", "plot_learning_curves", "write_learning_curves"]
