"""The parent run's plots: ``landscape.png`` (validation loss over the fixed-alpha grid, learned
alphas drawn on top) and ``trials.png`` (a search's trials over the alpha plane)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from alphalab.config.names import Arm, learns
from alphalab.results.searches import SearchSummary
from alphalab.results.verdict import Summary

LABELLED_CELLS = 100  # beyond this many grid cells, no value labels and thinner paths
BASIN_COLOR = "#1a9850"
ELSEWHERE_COLOR = "#d73027"


def _figure():
    """A figure without pyplot (no global state, a lighter import) and with fixed margins
    (matplotlib's tight_layout is the slowest part of a plot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, 6.5), dpi=110)
    fig.subplots_adjust(left=0.11, right=0.97, top=0.86, bottom=0.19)
    return fig, fig.add_subplot()


def _edges(centers: np.ndarray) -> np.ndarray:
    if len(centers) == 1:
        return np.array([centers[0] - 0.5, centers[0] + 0.5])
    mids = (centers[:-1] + centers[1:]) / 2
    return np.concatenate([[2 * centers[0] - mids[0]], mids, [2 * centers[-1] - mids[-1]]])


def plot_landscape(
    summary: Summary, paths: dict[str, list[tuple[float, float]]], out: Path
) -> Path:
    """``landscape.png``: a heat map over the grid (a curve when one component is fixed), each
    trainable run's path from start to learned alpha, the best fixed alpha and the true alpha."""
    from matplotlib.colors import LogNorm

    fixed = [g for g in summary.groups if g.arm == Arm.FIXED and g.finished]
    reals = np.array(sorted({g.start[0] for g in fixed}))
    imags = np.array(sorted({g.start[1] for g in fixed}))
    fig, ax = _figure()
    two_d = len(reals) > 1 and len(imags) > 1 or not fixed
    if two_d:
        _draw_heatmap(ax, fig, fixed, reals, imags, LogNorm)
        _draw_trajectories(ax, summary, paths)
        _draw_points(ax, summary)
        ax.set_xlabel("alpha_real")
        ax.set_ylabel("alpha_imag")
    else:
        _draw_curve(ax, summary, fixed, vary_real=len(reals) > 1)
    ax.set_title(_wrap(summary.headline), fontsize=10)
    fig.suptitle("Validation loss: fixed alpha (grid) vs learned alpha (trajectories)", fontsize=12)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    fig.savefig(out)
    return out


def _wrap(text: str, width: int = 95) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _draw_heatmap(ax, fig, fixed, reals, imags, LogNorm) -> None:
    if not fixed:
        return
    grid = np.full((len(imags), len(reals)), np.nan)
    for group in fixed:
        i = int(np.searchsorted(imags, group.start[1]))
        j = int(np.searchsorted(reals, group.start[0]))
        grid[i, j] = group.loss[0]
    positive = grid[np.isfinite(grid) & (grid > 0)]
    norm = LogNorm(positive.min(), positive.max()) if positive.size else None
    if len(fixed) > LABELLED_CELLS and np.isfinite(grid).all():  # fine grids: a smooth map
        mesh = ax.pcolormesh(reals, imags, grid, cmap="viridis_r", norm=norm, shading="gouraud")
        ax.set_xlim(reals[0], reals[-1])
        ax.set_ylim(imags[0], imags[-1])
    else:
        mesh = ax.pcolormesh(
            _edges(reals), _edges(imags), grid, cmap="viridis_r", norm=norm, shading="flat"
        )
    fig.colorbar(mesh, ax=ax, label="validation loss at fixed alpha (log scale)")
    if len(fixed) > LABELLED_CELLS:  # the colours say it: labels would not fit
        return
    dy = (imags[-1] - imags[0]) / max(len(imags) - 1, 1) * 0.3 if len(imags) > 1 else 0.15
    for group in fixed:
        ax.annotate(
            f"{group.loss[0]:.3g}",
            (group.start[0], group.start[1] - dy),
            ha="center",
            va="center",
            fontsize=7,
            color="white",
            bbox={"boxstyle": "round,pad=0.15", "fc": "black", "alpha": 0.35, "lw": 0},
        )


def _draw_trajectories(ax, summary: Summary, paths) -> None:
    """Every learned run's path, one collection per colour (thousands draw in well under a
    second), its start as a ring and its end as a dot."""
    from matplotlib.collections import LineCollection

    drawn, many = False, False
    for near, color, label in (
        (True, BASIN_COLOR, "learned alpha, best basin"),
        (False, ELSEWHERE_COLOR, "learned alpha, elsewhere"),
    ):
        runs = [
            paths[row.run_id]
            for row in summary.rows
            if row.ok and paths.get(row.run_id) and summary.in_basin.get(row.run_id, False) == near
        ]
        if not runs:
            continue
        drawn = True
        width, alpha = (0.9, 0.55) if len(runs) <= LABELLED_CELLS else (0.5, 0.3)
        ax.add_collection(LineCollection(runs, colors=color, linewidths=width, alpha=alpha))
        ax.plot([], [], "-", color=color, label=label)
        starts, ends = np.array([p[0] for p in runs]), np.array([p[-1] for p in runs])
        many = many or len(runs) > LABELLED_CELLS
        if not many:  # on a fine grid the starts are the grid itself
            ax.scatter(starts[:, 0], starts[:, 1], s=14, facecolors="white", edgecolors=color)
        ax.scatter(ends[:, 0], ends[:, 1], s=30, color=color, edgecolors="black", zorder=8)
    if drawn and not many:
        ax.plot([], [], "o", mfc="white", mec="gray", ms=4, label="trainable start")
    if drawn:
        ax.plot([], [], "o", color="gray", mec="black", ms=6, label="learned alpha (end)")


def _mark_best(ax, alpha: tuple[float, float], label: str) -> None:
    ax.plot(*alpha, "s", mfc="none", mec="red", mew=2, ms=13, zorder=6, label=label)


def _draw_points(ax, summary: Summary) -> None:
    if summary.best_fixed is not None:
        label = f"best fixed alpha, val_loss {summary.best_fixed.loss[0]:.3g}"
        _mark_best(ax, summary.best_fixed.start, label)
    if summary.true_alpha is not None:
        ax.plot(
            *summary.true_alpha, "*", color="gold", mec="black", ms=20, zorder=4, label="true alpha"
        )


def _draw_curve(ax, summary: Summary, fixed, vary_real: bool) -> None:
    index = 0 if vary_real else 1
    name = "alpha_real" if vary_real else "alpha_imag"
    fixed = sorted(fixed, key=lambda g: g.start[index])
    xs = [g.start[index] for g in fixed]
    ys = [g.loss[0] for g in fixed]
    ax.plot(xs, ys, "o-", color="#4575b4", label="fixed alpha (lambda)")
    for row in summary.rows:
        if not learns(row.approach) or not row.ok:
            continue
        near = summary.in_basin.get(row.run_id, False)
        color = BASIN_COLOR if near else ELSEWHERE_COLOR
        ax.annotate(
            "",
            xy=(row.learned[index], row.final_val_loss),
            xytext=(row.start[index], row.final_val_loss),
            arrowprops={"arrowstyle": "->", "color": color, "lw": 1.2},
        )
        marker, size = ("*", 14) if row.arm == Arm.REFINED else ("o", 7)
        ax.plot(row.learned[index], row.final_val_loss, marker, color=color, mec="black", ms=size)
    ax.plot([], [], "o", color=BASIN_COLOR, mec="black", label="learned alpha, best basin")
    ax.plot([], [], "o", color=ELSEWHERE_COLOR, mec="black", label="learned alpha, elsewhere")
    if any(row.arm == Arm.REFINED for row in summary.rows):
        ax.plot([], [], "*", color="gray", mec="black", ms=12, label="learned from a best cell")
    if math.isfinite(summary.trust.baseline):
        ax.axhline(summary.trust.baseline, color="gray", ls=":", label="baseline (training mean)")
    if summary.true_alpha is not None:
        ax.axvline(summary.true_alpha[index], color="gold", ls="--", label="true alpha")
    ax.set_yscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel("final validation loss")
    if not all(math.isfinite(y) for y in ys):
        ax.set_ylim(bottom=None)


def plot_trials(
    summary: SearchSummary, paths: dict[str, list[tuple[float, float]]], out: Path
) -> Path:
    """A search's trials over the alpha plane, numbered in order, coloured by validation loss."""
    from matplotlib.colors import LogNorm

    fig, ax = _figure()
    done = [t for t in summary.trials if t.ok]
    if len(summary.trials) > 1:
        xs, ys = zip(*(t.start for t in summary.trials), strict=True)
        ax.plot(xs, ys, "-", color="0.75", lw=0.8, zorder=1, label="order of trials")
    if done:
        losses = np.array([t.final_val_loss for t in done])
        positive = losses[losses > 0]
        norm = LogNorm(positive.min(), positive.max()) if positive.size > 1 else None
        points = ax.scatter(
            [t.start[0] for t in done],
            [t.start[1] for t in done],
            c=losses,
            cmap="viridis_r",
            norm=norm,
            s=60,
            edgecolors="black",
            zorder=3,
        )
        fig.colorbar(points, ax=ax, label="validation loss of the trial (log scale)")
    for order, trial in enumerate(summary.trials, 1):
        ax.annotate(str(order), trial.start, xytext=(5, 5), textcoords="offset points", fontsize=7)
        if not trial.ok:
            ax.plot(*trial.start, "x", color=ELSEWHERE_COLOR, ms=8, mew=2, zorder=4)
    if summary.best is not None:
        _mark_best(
            ax, summary.best.start, f"best trial, val_loss {summary.best.final_val_loss:.3g}"
        )
    reference = summary.reference
    if reference is not None and reference.run_id in paths:
        rx, ry = zip(*paths[reference.run_id], strict=True)
        ax.plot(
            rx,
            ry,
            "-",
            color=BASIN_COLOR,
            lw=1.5,
            zorder=4,
            label=f"learned alpha (trainable), val_loss {reference.final_val_loss:.3g}",
        )
        ax.plot(rx[0], ry[0], "o", mfc="white", mec=BASIN_COLOR, ms=6, zorder=4)
        ax.plot(rx[-1], ry[-1], "o", color=BASIN_COLOR, mec="black", ms=8, zorder=6)
    if summary.true_alpha is not None:
        ax.plot(
            *summary.true_alpha, "*", color="gold", mec="black", ms=18, zorder=2, label="true alpha"
        )
    ax.set_xlabel("alpha_real")
    ax.set_ylabel("alpha_imag")
    ax.set_title(_wrap(summary.headline), fontsize=10)
    fig.suptitle(f"{summary.tuner} search over alpha (numbers: order of trials)", fontsize=12)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    fig.savefig(out)
    return out
