"""The parent run's plots: ``landscape.png`` (validation loss over the fixed-alpha grid, learned
alphas drawn on top) and ``trials.png`` (a search's trials over the alpha plane)."""

from __future__ import annotations

import math
import statistics

import numpy as np

from alphalab.config.names import Arm, learns
from alphalab.results.rows import Row
from alphalab.results.searches import SearchSummary
from alphalab.results.verdict import Summary

LABELLED_CELLS = 100  # beyond this many grid cells, no value labels and thinner paths
MAX_PATHS = 240  # learned runs drawn at most: beyond a few hundred paths the eye sees no more
MAX_BEST = 16  # of them, the best: the best learned group's seeds and folds, then the lowest losses
MAX_LABELS = 200  # trials numbered at most in trials.png (beyond, one in k)
BASIN_COLOR = "#1a9850"
ELSEWHERE_COLOR = "#d73027"
LEGEND = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.1), "ncol": 2, "frameon": False}
CELL_LABEL = {"ha": "center", "va": "center", "fontsize": 7, "color": "white"}
CELL_BOX = {"boxstyle": "round,pad=0.15", "fc": "black", "alpha": 0.35, "lw": 0}
ARROW = {"arrowstyle": "->", "lw": 1.2}


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


def landscape_figure(summary: Summary, paths: dict[str, list[tuple[float, float]]]):
    """``landscape.png``: a heat map over the grid (a curve when one component is fixed), the
    learned runs' paths from start to learned alpha (at most ``MAX_PATHS`` of them, see
    ``drawn_runs``), the best fixed alpha and the true alpha."""
    from matplotlib.colors import LogNorm

    fixed = [g for g in summary.groups if g.arm == Arm.FIXED and g.finished]
    reals = np.array(sorted({g.start[0] for g in fixed}))
    imags = np.array(sorted({g.start[1] for g in fixed}))
    fig, ax = _figure()
    two_d = len(reals) > 1 and len(imags) > 1 or not fixed
    if two_d:
        _draw_heatmap(ax, fig, fixed, reals, imags, LogNorm)
        note = _draw_trajectories(ax, summary, paths)
        _draw_points(ax, summary)
        ax.set_xlabel("alpha_real")
        ax.set_ylabel("alpha_imag")
    else:
        note = _draw_curve(ax, summary, fixed, vary_real=len(reals) > 1)
    ax.set_title(_wrap(summary.headline), fontsize=10)
    fig.suptitle("Validation loss: fixed alpha (grid) vs learned alpha (trajectories)", fontsize=12)
    ax.legend(**LEGEND, fontsize=8, title=note, title_fontsize=8)
    return fig


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
    losses = [statistics.fmean(row.final_val_loss for row in g.finished) for g in fixed]
    rows = np.searchsorted(imags, [g.start[1] for g in fixed])  # in one call: fine grids
    columns = np.searchsorted(reals, [g.start[0] for g in fixed])  # have thousands of cells
    grid[rows, columns] = losses
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
    for (real, imag), loss in zip((g.start for g in fixed), losses, strict=True):
        ax.annotate(f"{loss:.3g}", (real, imag - dy), **CELL_LABEL, bbox=CELL_BOX)


def drawn_runs(summary: Summary, runs: list[Row], limit: int = MAX_PATHS) -> list[Row]:
    """At most ``limit`` of the learned ``runs``, the same whatever the store's order: the best
    (``MAX_BEST``: the best learned group's seeds and folds, then the lowest losses), the best
    run ending in each distinct basin (cells of the verdict's basin radius, best first, up to
    half of ``limit``), then the others evenly spaced in order of start alpha (a lattice over
    the grid: every region keeps its share). In that start order."""
    order = sorted(runs, key=_start_order)
    if len(order) <= limit:
        return order
    by_loss = sorted(order, key=lambda r: r.final_val_loss)
    best = [g for g in (summary.best_trainable, summary.best_refined) if g is not None]
    best_ids = {r.run_id for g in best for r in g.rows}
    picked: dict[str, Row] = {}

    def take(rows, up_to: int) -> None:
        for row in rows:
            if len(picked) >= up_to:
                return
            picked.setdefault(row.run_id, row)

    take((r for r in by_loss if r.run_id in best_ids), MAX_BEST)
    take(by_loss, MAX_BEST)
    center = summary.best_trainable.learned if summary.best_trainable else (0.0, 0.0)
    radius = summary.basin_tolerance * max(1.0, abs(complex(*center)))
    if math.isfinite(radius) and radius > 0:
        basins: dict[tuple[float, float], Row] = {}
        for row in (r for r in by_loss if all(map(math.isfinite, r.learned))):
            cell = (math.floor(row.learned[0] / radius), math.floor(row.learned[1] / radius))
            basins.setdefault(cell, row)  # insertion order: each cell's best, best cells first
        take(basins.values(), len(picked) + limit // 2)
    rest = [r for r in order if r.run_id not in picked]
    spaced = np.unique(np.linspace(0, len(rest) - 1, limit - len(picked)).round().astype(int))
    take((rest[i] for i in spaced), limit)
    return [r for r in order if r.run_id in picked]


def _start_order(row: Row) -> tuple:
    """Runs by start alpha (nan last), then seed, fold and id: a store-independent order."""
    start = [math.inf if math.isnan(v) else v for v in row.start]
    return (*start, row.seed, -1 if row.fold is None else row.fold, row.run_id)


def _drawn_note(drawn: int, total: int) -> str | None:
    """The legend's title when not every learned run is drawn."""
    note = f"{drawn:,} of {total:,} learned runs drawn: the best, one per basin, others evenly"
    return note if drawn < total else None


def _draw_trajectories(ax, summary: Summary, paths) -> str | None:
    """The learned runs' paths (``drawn_runs``), one collection per colour, starts as rings and
    ends as dots; the legend's note saying how many are drawn when not all."""
    from matplotlib.collections import LineCollection

    learned = [row for row in summary.grid_rows if row.ok and paths.get(row.run_id)]
    if not learned:
        return None
    chosen = drawn_runs(summary, learned)
    many = len(learned) > LABELLED_CELLS  # on a fine grid the starts are the grid itself
    width, alpha = (0.9, 0.55) if len(chosen) <= LABELLED_CELLS else (0.5, 0.3)
    for near, color, label in (
        (True, BASIN_COLOR, "learned alpha, best basin"),
        (False, ELSEWHERE_COLOR, "learned alpha, elsewhere"),
    ):
        total = sum(summary.in_basin.get(r.run_id, False) == near for r in learned)
        runs = [paths[r.run_id] for r in chosen if summary.in_basin.get(r.run_id, False) == near]
        if not total:
            continue
        if len(chosen) < len(learned):
            label = f"{label} ({len(runs):,} of {total:,})"
        ax.plot([], [], "-", color=color, label=label)
        if not runs:
            continue
        ax.add_collection(LineCollection(runs, colors=color, linewidths=width, alpha=alpha))
        starts, ends = np.array([p[0] for p in runs]), np.array([p[-1] for p in runs])
        if not many:
            ax.scatter(starts[:, 0], starts[:, 1], s=14, facecolors="white", edgecolors=color)
        ax.scatter(ends[:, 0], ends[:, 1], s=30, color=color, edgecolors="black", zorder=8)
    if not many:
        ax.plot([], [], "o", mfc="white", mec="gray", ms=4, label="trainable start")
    ax.plot([], [], "o", color="gray", mec="black", ms=6, label="learned alpha (end)")
    return _drawn_note(len(chosen), len(learned))


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


def _draw_curve(ax, summary: Summary, fixed, vary_real: bool) -> str | None:
    index = 0 if vary_real else 1
    name = "alpha_real" if vary_real else "alpha_imag"
    fixed = sorted(fixed, key=lambda g: g.start[index])
    xs = [g.start[index] for g in fixed]
    ys = [statistics.fmean(row.final_val_loss for row in g.finished) for g in fixed]
    ax.plot(xs, ys, "o-", color="#4575b4", label="fixed alpha (lambda)")
    learned = [row for row in summary.grid_rows if learns(row.approach) and row.ok]
    chosen = drawn_runs(summary, learned, limit=LABELLED_CELLS)  # an arrow is a slow artist
    ends: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for row in chosen:
        near = summary.in_basin.get(row.run_id, False)
        color = BASIN_COLOR if near else ELSEWHERE_COLOR
        end, y = row.learned[index], row.final_val_loss
        ax.annotate("", (end, y), (row.start[index], y), arrowprops={**ARROW, "color": color})
        ends.setdefault((color, "*" if row.arm == Arm.REFINED else "o"), []).append((end, y))
    for (color, marker), points in ends.items():  # one artist per colour and marker
        x, y = zip(*points, strict=True)
        size = 14 if marker == "*" else 7
        ax.plot(x, y, marker, ls="none", color=color, mec="black", ms=size)
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
    return _drawn_note(len(chosen), len(learned))


def trials_figure(summary: SearchSummary, paths: dict[str, list[tuple[float, float]]]):
    """``trials.png``: a search's trials over the alpha plane, numbered in order, coloured by
    validation loss."""
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
        xy = np.array([t.start for t in done])
        points = ax.scatter(
            *xy.T, c=losses, cmap="viridis_r", norm=norm, s=60, edgecolors="black", zorder=3
        )
        fig.colorbar(points, ax=ax, label="validation loss of the trial (log scale)")
    every = max(1, math.ceil(len(summary.trials) / MAX_LABELS))  # one text per label: bounded
    for order, trial in enumerate(summary.trials, 1):
        if (order - 1) % every == 0 or order == len(summary.trials):
            ax.annotate(str(order), trial.start, (5, 5), textcoords="offset points", fontsize=7)
    failed = [t.start for t in summary.trials if not t.ok]
    if failed:  # one artist for every failed trial
        fx, fy = zip(*failed, strict=True)
        ax.plot(fx, fy, "x", ls="none", color=ELSEWHERE_COLOR, ms=8, mew=2, zorder=4)
    if summary.best is not None:
        label = f"best trial, val_loss {summary.best.final_val_loss:.3g}"
        _mark_best(ax, summary.best.start, label)
    reference = summary.reference
    if reference is not None and reference.run_id in paths:
        rx, ry = zip(*paths[reference.run_id], strict=True)
        label = f"learned alpha (trainable), val_loss {reference.final_val_loss:.3g}"
        ax.plot(rx, ry, "-", color=BASIN_COLOR, lw=1.5, zorder=4, label=label)
        ax.plot(rx[0], ry[0], "o", mfc="white", mec=BASIN_COLOR, ms=6, zorder=4)
        ax.plot(rx[-1], ry[-1], "o", color=BASIN_COLOR, mec="black", ms=8, zorder=6)
    if summary.true_alpha is not None:
        ax.plot(
            *summary.true_alpha, "*", color="gold", mec="black", ms=18, zorder=2, label="true alpha"
        )
    ax.set_xlabel("alpha_real")
    ax.set_ylabel("alpha_imag")
    ax.set_title(_wrap(summary.headline), fontsize=10)
    numbers = "order of trials" + (f", one in {every} numbered" if every > 1 else "")
    fig.suptitle(f"{summary.tuner} search over alpha (numbers: {numbers})", fontsize=12)
    ax.legend(**LEGEND, fontsize=8)
    return fig
