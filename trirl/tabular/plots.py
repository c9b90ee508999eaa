"""Plots of grid worlds and runs: policy arrows, reward heat maps, learning curves, Figure 2.

Every function draws on a matplotlib ``Axes`` the caller owns (the widgets and the book reuse
them); :func:`figure2` composes the paper's Figure 2 for a finished run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import matplotlib

if "ipykernel" not in sys.modules:  # scripts and tests draw off-screen; a notebook keeps its inline backend
    matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CELL_COLOURS = {"#": "#3b3b3b", "G": "#7fc97f", "L": "#f0746e", "~": "#cfe8f7", "S": "#fde9a9"}
CELL_NAMES = {"#": "wall", "~": "ice", "L": "lava", "G": "goal", "S": "start"}
ARROW_COLOUR = "#1f3b73"


def _background(ax, world) -> None:
    rows, cols = world.shape
    image = np.ones((rows, cols, 3))
    for r, line in enumerate(world.cells):
        for c, char in enumerate(line):
            if char in CELL_COLOURS:
                image[r, c] = matplotlib.colors.to_rgb(CELL_COLOURS[char])
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def cell_legend(ax, world, loc: str = "upper center", **kwargs):
    """A legend of the cell types present in ``world`` (wall, ice, lava, goal, start), under ``ax``.

    Patches are legend-only proxies, so they add no artist to the axes' collections.
    """
    present = {char for line in world.cells for char in line}
    handles = [matplotlib.patches.Patch(facecolor=CELL_COLOURS[char], edgecolor="#888888", label=name)
               for char, name in CELL_NAMES.items() if char in present]
    kwargs = {"bbox_to_anchor": (0.5, 0.0), "ncol": len(handles), "fontsize": "small", "frameon": False,
              "handlelength": 1.0, "columnspacing": 1.0, **kwargs}
    return ax.legend(handles=handles, loc=loc, **kwargs)


def normalise(values: np.ndarray) -> np.ndarray:
    """Affine map to ``[0, 1]`` (rewards are only identified up to such maps and shaping)."""
    values = np.asarray(values, dtype=float)
    span = np.nanmax(values) - np.nanmin(values)
    return np.zeros_like(values) if span == 0 else (values - np.nanmin(values)) / span


def state_reward(reward: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """``r(s) = sum_a pi(a|s) r(s, a)``: a state-action reward seen through a policy."""
    return np.sum(np.asarray(policy) * np.asarray(reward), axis=1)


def policy_arrows(world, policy) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, u, v, stay)`` of the non-absorbing states, in the data coordinates of an ``imshow``
    of the grid: ``x = col``, ``y = row``, ``(u, v) = sum_a pi(a|s) (d_col, d_row)`` and ``stay``
    the probability of the actions that do not move ``[S_moving]``.

    ``imshow`` puts row 0 at the top (the y axis points down), so a move to a larger row is a
    positive ``v``: drawn with ``angles="xy"`` the arrow points down on screen, as the agent moves.
    """
    policy = np.asarray(policy, dtype=float)
    deltas = np.asarray(world.action_deltas, dtype=float)  # [A, 2] as (d_row, d_col)
    move = policy @ deltas
    moving = ~world.mdp.absorbing
    stay = np.flatnonzero(np.all(deltas == 0, axis=1))
    return (world.coords[moving, 1], world.coords[moving, 0], move[moving, 1], move[moving, 0],
            policy[moving][:, stay].sum(axis=1))


def plot_policy(ax, world, policy, title: str = "", legend: bool = False) -> None:
    """Arrows of the expected move ``sum_a pi(a|s) delta_a``; dots sized by the probability of
    staying. ``legend`` adds :func:`cell_legend` under the map."""
    _background(ax, world)
    x, y, u, v, stay = policy_arrows(world, policy)
    ax.quiver(x, y, u, v, angles="xy", scale_units="xy", scale=1.6, width=0.006, color=ARROW_COLOUR)
    ax.scatter(x, y, s=40 * stay, color=ARROW_COLOUR)
    ax.set_title(title)
    if legend:
        cell_legend(ax, world)


def set_policy(ax, world, policy) -> None:
    """Replace the arrows and stay-dots of a :func:`plot_policy` panel in place (the widgets)."""
    from matplotlib.quiver import Quiver

    _, _, u, v, stay = policy_arrows(world, policy)
    arrows = next(c for c in ax.collections if isinstance(c, Quiver))
    arrows.set_UVC(u, v)
    dots = [c for c in ax.collections if not isinstance(c, Quiver)]
    if dots:
        dots[0].set_sizes(40 * stay)


def plot_values(ax, world, values, title: str = "", cmap: str = "viridis", label: str = "",
                vmin: float | None = None, vmax: float | None = None) -> None:
    """A per-state array as a heat map over the grid (walls blank), its colour bar labelled ``label``."""
    _background(ax, world)
    image = ax.imshow(world.to_grid(values), cmap=cmap, interpolation="nearest", vmin=vmin, vmax=vmax)
    bar = plt.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if label:
        bar.set_label(label)
    ax.set_title(title)


def plot_curves(ax, histories: dict[str, Sequence[dict]], metric: str, log: bool = False, title: str = "",
                ylabel: str = "") -> None:
    """One metric over iterations for one or more runs (``{label: history}``)."""
    for label, history in histories.items():
        x = [row["iteration"] for row in history if metric in row]
        y = [row[metric] for row in history if metric in row]
        ax.plot(x, y, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=1))  # no half iterations
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title or metric)
    if len(histories) > 1:
        ax.legend(fontsize="small")


POLICY_NOTE = "arrow: mean move, dot: P(stay)"
REWARD_LABEL = "r(s) = sum_a pi_E(a|s) r(s, a)"


NO_PREFERENCE_NOTE = ("The true reward gives no preference:\nevery policy is equally good under it\n"
                      "(e.g. the goal cannot be reached),\nso the learned reward is not compared with it.")


def figure2(world, expert_policy, true_reward, result, fit=None) -> plt.Figure:
    """The paper's Figure 2 for a finished run, readable on its own.

    Top: expert and learned policies (arrows of the mean move), reverse KL and dual over
    iterations. Bottom: the true reward, the learned reward as learned, the learned reward with
    its fitted offset and potential shaping removed and divided by the fitted scale ``c``
    (:func:`trirl.tabular.shaping.shaping_fit`, drawn on the true reward's colour scale, so a
    reward recovered up to the IRL ambiguity looks the same as the true one), and the
    shaping-invariant distance ``D`` over iterations when the run logged it. Rewards of
    ``(s, a)`` are shown per state through the expert policy.

    Args:
        fit: the :class:`~trirl.tabular.shaping.ShapingFit` of ``result.reward`` (computed if None;
            where the true reward gives no preference, the bottom-right panels say so instead).
    """
    from trirl.tabular.shaping import NoPreferenceError, shaping_fit

    if fit is None:
        try:
            fit = shaping_fit(world.mdp, result.reward, true_reward)
        except NoPreferenceError:
            fit = None
    fig, axes = plt.subplots(2, 4, figsize=(19, 8.6))
    plot_policy(axes[0, 0], world, expert_policy, f"expert policy\n{POLICY_NOTE}", legend=True)
    plot_policy(axes[0, 1], world, result.policy, f"learned policy ({result.algorithm})\n{POLICY_NOTE}", legend=True)
    history = {result.algorithm: result.history}
    plot_curves(axes[0, 2], history, "reverse_kl", log=True, title="reverse KL(rho_pi || rho_E)", ylabel="reverse KL (nats)")
    plot_curves(axes[0, 3], history, "dual", title="dual G(r) (lower is better)", ylabel="G(r)")
    true_s = state_reward(true_reward, expert_policy)
    low, high = float(np.min(true_s)), float(np.max(true_s))
    plot_values(axes[1, 0], world, true_s, "true reward", label=REWARD_LABEL, cmap="RdYlGn", vmin=low, vmax=high)
    plot_values(axes[1, 1], world, state_reward(result.reward, expert_policy),
                "learned reward, as learned\n(any scale, offset and shaping)", label=REWARD_LABEL, cmap="RdYlGn")
    if fit is None:
        for ax in axes[1, 2:]:
            ax.axis("off")
        axes[1, 2].text(0.02, 0.5, NO_PREFERENCE_NOTE, transform=axes[1, 2].transAxes, fontsize="small", wrap=True)
        fig.suptitle(f"{result.algorithm} on {world.name}" + (f" ({world.variant})" if world.variant else ""))
        fig.tight_layout()
        return fig
    scaled = fit.scale > 0
    unshaped = state_reward(fit.unshaped / fit.scale if scaled else fit.unshaped, expert_policy)
    plot_values(axes[1, 2], world, unshaped,
                f"learned reward minus fitted shaping{', / c' if scaled else ''}\n"
                f"c = {fit.scale:.3g}, relative residual {fit.relative_residual:.2g}",
                label=REWARD_LABEL, cmap="RdYlGn",
                vmin=low if scaled else None, vmax=high if scaled else None)
    if any("reward_distance" in row for row in result.history):
        plot_curves(axes[1, 3], history, "reward_distance", log=True,
                    title="shaping-invariant distance D to the true reward", ylabel="D (0: same up to shaping)")
    else:
        axes[1, 3].axis("off")
    axes[1, 3].text(0.02, -0.22 if axes[1, 3].axison else 0.5,
                    f"final D = {fit.distance:.2g}  (0: equal up to c > 0, offset and shaping; unrelated ~0.71)",
                    transform=axes[1, 3].transAxes, fontsize="small")
    fig.suptitle(f"{result.algorithm} on {world.name}" + (f" ({world.variant})" if world.variant else ""))
    fig.tight_layout()
    return fig


def save(fig: plt.Figure, path) -> None:
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["cell_legend", "figure2", "normalise", "plot_curves", "plot_policy", "plot_values", "policy_arrows", "save",
           "set_policy", "state_reward"]
