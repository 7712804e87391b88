"""``landscape.png``: validation loss over the alpha grid, with its noise.

- The fixed grid: each cell's mean validation loss over folds and seeds, with its 95% t-interval
  (the seeds as units where there are several, as the verdict's interval has them; one seed: the
  folds): a curve with a band on a line of cells, a heat map of the means on a 2-D grid (each cell
  labelled mean ± half-width while the labels fit).
- The learning arms: each start's mean end point (the mean learned alpha of its fits), with the
  min-max range of where its fits ended: fits that end in different basins show a long bar.
- Each arm's chosen configuration, its refits (learned alpha and test loss), the chosen starts'
  trajectories (quiet), the true alpha where it is known.

Artists stay bounded whatever the number of runs (one collection per arm and kind of mark), and
the picture is the same whatever order the store returns the runs in (everything is sorted).
"""

from __future__ import annotations

import math

import numpy as np

from alphalab.config.names import Arm
from alphalab.results.plots import ARM_COLORS, LEGEND, NEUTRAL, figure, titled, wrap
from alphalab.results.starts import Starts, index_of, run_order, shape, starts_of
from alphalab.results.stats import Group
from alphalab.results.verdict import Summary
from alphalab.results.verdict_lines import LABELS

LABELLED_CELLS = 100  # beyond this many grid cells: no value labels, a smooth map
MAX_PATHS = 64  # trajectories drawn at most: the chosen starts' fits
MAX_BARS = 24  # beyond this many starts, spread bars only for the chosen and the best ones
MARKERS = {Arm.LEARNED: "o", Arm.REFINED: "^", Arm.TUNED: "v"}
CELL_LABEL = {"ha": "center", "va": "center", "fontsize": 6.5, "color": "white"}
CELL_BOX = {"boxstyle": "round,pad=0.15", "fc": "black", "alpha": 0.35, "lw": 0}


def _alpha(value) -> str:
    return f"{value[0]:.3g}{value[1]:+.3g}i"


def _axis(values: np.ndarray) -> np.ndarray:
    return np.unique(values[np.isfinite(values)])


def landscape_figure(summary: Summary, paths: dict[str, list[tuple[float, float]]]):
    """``landscape.png`` of a sweep (``paths``: each learned run's alpha epoch by epoch)."""
    starts, units = starts_of(summary)
    fixed = starts.get(Arm.FIXED)
    reals = _axis(fixed.start[:, 0]) if fixed else np.array([])
    imags = _axis(fixed.start[:, 1]) if fixed else np.array([])
    fig, ax = figure()
    if fixed is None or (len(reals) > 1 and len(imags) > 1):
        _plane(fig, ax, summary, starts, paths, reals, imags)
    else:
        _line(ax, summary, starts, units, index=0 if len(reals) > 1 else 1)
    titled(fig, ax, summary.headline, "validation loss over alpha")
    note = _note(starts, units, plane=fixed is None or (len(reals) > 1 and len(imags) > 1))
    _fit_margins(fig, ax, note)
    return fig


def _fit_margins(fig, ax, note: str, axes_height: float = 4.8) -> None:
    """Room for the titles above the axes and the legend below them, whatever their lengths
    (three arms have a dozen entries): the figure grows, the axes keep their size."""
    entries = len(ax.get_legend_handles_labels()[0])
    above = 0.55 + 0.18 * (ax.get_title().count("\n") + 1)  # inches: title, headline lines
    below = 0.75 + 0.19 * (math.ceil(entries / 2) + note.count("\n") + 1)
    height = above + axes_height + below
    fig.set_size_inches(8.5, height)
    fig.subplots_adjust(top=1 - above / height, bottom=below / height)
    anchor = (0.5, -0.62 / axes_height)  # below the axis label
    ax.legend(**{**LEGEND, "bbox_to_anchor": anchor}, fontsize=7.5, title=note, title_fontsize=8)


def _note(starts: dict[Arm, Starts], units: str, plane: bool) -> str:
    """The legend's title: what a point, a colour, a band and a bar are."""
    groups = [g for s in starts.values() for g in s.groups]
    size, n = shape(groups), max((len(s.groups) for s in starts.values()), default=0)
    band = "seeds as units" if units == "seeds" else "the folds as units"
    if not any(np.isfinite(s.half).any() for s in starts.values()):
        noise = "one fit each: no interval"
    elif not plane:
        noise = f"band and vertical bars: its 95% CI ({band})"
    elif n <= LABELLED_CELLS:
        noise = f"cell labels: mean ± half-width of its 95% CI ({band})"
    else:
        noise = "colour: the mean"
    bars = "bars along alpha: min-max of where its fits ended"
    if n > MAX_BARS:
        bars += f" (on {MAX_BARS} starts: the chosen one, then the widest)"
    return wrap(f"each configuration: mean over {size}; {noise}; {bars}", 110)


def _barred(s: Starts, chosen: Group | None, index: int | None) -> np.ndarray:
    """Which starts get a spread bar: all of them on a coarse grid; on a fine one the chosen,
    then the widest spreads (fits ending in different basins), ties by loss and start."""
    if len(s.groups) <= MAX_BARS:
        return np.arange(len(s.groups))
    width = s.high - s.low
    width = np.hypot(*width.T) if index is None else width[:, index]
    order = sorted(range(len(s.groups)), key=lambda i: (-width[i], s.loss[i], *s.start[i]))
    picked = ([index_of(s.groups, chosen)] if chosen is not None else []) + order
    return np.array(list(dict.fromkeys(picked))[:MAX_BARS])


def _chosen(summary: Summary, arm: Arm) -> Group | None:
    result = summary.arms.get(arm)
    return result.chosen if result is not None else None


def _refits(ax, summary: Summary, arm: Arm, index: int | None) -> None:
    """An arm's refits, one diamond per seed: at (alpha, test loss) on a line of cells, at the
    learned alpha on a plane (the legend says the test loss)."""
    result = summary.arms.get(arm)
    if result is None or not result.refits:
        return
    refits = [result.refits[seed] for seed in sorted(result.refits)]
    alphas = np.array([tuple(result.alpha if arm == Arm.FIXED else r.learned) for r in refits])
    tests = np.array([r.test_loss for r in refits])
    test, n = result.score[0], len(refits)
    what = f"test loss {test:.3g}" if result.on_test else "no test rows"
    label = f"{arm} refits ({n} seed{'s' * (n > 1)}): alpha {_alpha(result.alpha)}, {what}"
    color = ARM_COLORS[arm]
    if index is None:
        ax.plot(*alphas.T, "D", ls="none", color=color, mec="black", ms=7, zorder=9, label=label)
    elif np.isfinite(tests).any():
        x = alphas[:, index]
        ax.plot(x, tests, "D", ls="none", color=color, mec="black", ms=7, zorder=9, label=label)


def _learning(ax, summary: Summary, s: Starts, index: int | None) -> None:
    """One learning arm's mean end points with their spread, its chosen start marked."""
    color, marker = ARM_COLORS[s.arm], MARKERS.get(s.arm, "o")
    chosen = _chosen(summary, s.arm)
    barred = _barred(s, chosen, index)
    many = len(s.groups) > LABELLED_CELLS
    label = f"{LABELS[s.arm]}: each start's mean end point"
    if index is None:  # the plane: bars in both components of alpha, every fit's end faint
        ax.plot(*s.fits.T, ".", color=color, ms=2, alpha=0.3, zorder=5, label="each fit's end")
        x, y = s.end[:, 0], s.end[:, 1]
        xerr = np.array([x - s.low[:, 0], s.high[:, 0] - x])
        yerr = np.array([y - s.low[:, 1], s.high[:, 1] - y])
    else:  # the line: where the fits ended, and the mean loss with its band's interval
        x, y = s.end[:, index], s.loss
        xerr = np.array([x - s.low[:, index], s.high[:, index] - x])
        yerr = np.vstack([s.half, s.half])
    size = 3 if many else 6
    ax.plot(x, y, marker, ls="none", color=color, mec="white", mew=0.5, ms=size, zorder=7,
            label=label)  # fmt: skip
    xerr, yerr = (np.clip(np.nan_to_num(e[:, barred]), 0, None) for e in (xerr, yerr))
    ax.errorbar(x[barred], y[barred], xerr=xerr, yerr=yerr, fmt="none", ecolor=color, elinewidth=1,
                capsize=2, alpha=0.8, zorder=6)  # fmt: skip
    if chosen is None:
        return
    i = index_of(s.groups, chosen)
    what = f"{s.arm}: chosen start {_alpha(s.start[i])}, val loss {s.loss[i]:.3g}"
    ax.plot(x[i], y[i], marker, color=color, mec="black", mew=1.5, ms=11, zorder=8, label=what)


def _paths(ax, summary: Summary, starts: dict[Arm, Starts], paths) -> None:
    """The chosen learned starts' trajectories, thin: start ring, path, end."""
    from matplotlib.collections import LineCollection

    for arm in starts:
        chosen = _chosen(summary, arm)
        if arm == Arm.FIXED or chosen is None:
            continue
        rows = sorted(chosen.finished, key=run_order)
        drawn = [paths[r.run_id] for r in rows if paths.get(r.run_id)][:MAX_PATHS]
        if not drawn:
            continue
        color = ARM_COLORS[arm]
        ax.add_collection(LineCollection(drawn, colors=color, linewidths=0.7, alpha=0.45))
        ax.plot(*chosen.start, "o", mfc="white", mec=color, ms=6, zorder=7,
                label=f"{arm}: its chosen start, {len(drawn)} trajectories")  # fmt: skip


def _plane(fig, ax, summary: Summary, starts, paths, reals, imags) -> None:
    """A 2-D grid: the heat map of mean loss, the learning arms over it."""
    fixed = starts.get(Arm.FIXED)
    if fixed is not None:
        _heatmap(fig, ax, fixed, reals, imags)
        _mark_fixed(ax, summary, fixed, None)
    _paths(ax, summary, starts, paths)
    for arm, s in starts.items():
        if arm != Arm.FIXED:
            _learning(ax, summary, s, None)
    for arm in starts:
        if arm != Arm.FIXED:
            _refits(ax, summary, arm, None)
    if summary.true_alpha is not None:
        ax.plot(*summary.true_alpha, "*", mfc="none", mec="black", mew=1.5, ms=20, zorder=11,
                label=f"true alpha {_alpha(summary.true_alpha)}")  # fmt: skip
    if fixed is not None:
        _limits(ax, reals, imags, starts)
    ax.set_xlabel("alpha_real (real part of alpha)")
    ax.set_ylabel("alpha_imag (imaginary part of alpha)")


def _limits(ax, reals, imags, starts) -> None:
    """The grid, widened to the learned means within one grid's span of it."""
    ends = np.vstack([s.end for s in starts.values()])
    for axis, grid, set_lim in ((0, reals, ax.set_xlim), (1, imags, ax.set_ylim)):
        edges = _edges(grid)
        span = edges[-1] - edges[0]
        seen = ends[:, axis][np.isfinite(ends[:, axis])]
        low = max(min(edges[0], seen.min(initial=edges[0])), edges[0] - span)
        high = min(max(edges[-1], seen.max(initial=edges[-1])), edges[-1] + span)
        set_lim(low, high)


def _edges(centers: np.ndarray) -> np.ndarray:
    if len(centers) == 1:
        return np.array([centers[0] - 0.5, centers[0] + 0.5])
    mids = (centers[:-1] + centers[1:]) / 2
    return np.concatenate([[2 * centers[0] - mids[0]], mids, [2 * centers[-1] - mids[-1]]])


def _heatmap(fig, ax, fixed: Starts, reals, imags) -> None:
    from matplotlib.colors import LogNorm

    grid = np.full((len(imags), len(reals)), np.nan)
    rows = np.searchsorted(imags, fixed.start[:, 1])  # in one call: fine grids
    columns = np.searchsorted(reals, fixed.start[:, 0])  # have thousands of cells
    grid[rows, columns] = fixed.loss
    positive = grid[np.isfinite(grid) & (grid > 0)]
    norm = LogNorm(positive.min(), positive.max()) if positive.size else None
    mesh = ax.pcolormesh(
        _edges(reals), _edges(imags), grid, cmap="viridis_r", norm=norm, shading="flat"
    )
    fig.colorbar(mesh, ax=ax, label="fixed alpha: mean validation loss (log scale)", pad=0.02)
    if len(fixed.groups) > LABELLED_CELLS:  # the colours say it: labels would not fit
        return
    dy = (imags[-1] - imags[0]) / max(len(imags) - 1, 1) * 0.3
    for (real, imag), loss, half in zip(fixed.start, fixed.loss, fixed.half, strict=True):
        text = f"{loss:.3g}" + (f"\n±{half:.2g}" if math.isfinite(half) else "")
        ax.annotate(text, (real, imag - dy), **CELL_LABEL, bbox=CELL_BOX)


def _mark_fixed(ax, summary: Summary, fixed: Starts, index: int | None) -> None:
    """The fixed arm's chosen cell (a square) and its refits."""
    chosen = _chosen(summary, Arm.FIXED)
    if chosen is not None:
        i = index_of(fixed.groups, chosen)
        where = tuple(fixed.start[i]) if index is None else (fixed.start[i, index], fixed.loss[i])
        label = f"fixed: chosen cell {_alpha(fixed.start[i])}, val loss {fixed.loss[i]:.3g}"
        ax.plot(*where, "s", mfc="none", mec="black", mew=2, ms=14, zorder=8, label=label)
    _refits(ax, summary, Arm.FIXED, index)


def _line(ax, summary: Summary, starts, units: str, index: int) -> None:
    """One component of alpha varies: loss against it, the fixed curve with its band."""
    fixed = starts[Arm.FIXED]
    x, y, half = fixed.start[:, index], fixed.loss, np.nan_to_num(fixed.half)
    floor = y[y > 0].min(initial=1.0) / 10 if (y > 0).any() else 1e-3
    color = ARM_COLORS[Arm.FIXED]
    if np.isfinite(fixed.half).any():  # one fit per cell: no band to draw
        ax.fill_between(x, np.maximum(y - half, floor), y + half, color=color, alpha=0.2, lw=0,
                        label="fixed alpha: 95% band of the mean")  # fmt: skip
    ax.plot(x, y, "o-", color=color, ms=4, lw=1.5, zorder=5, label="fixed alpha: mean val loss")
    _mark_fixed(ax, summary, fixed, index)
    for arm, s in starts.items():
        if arm != Arm.FIXED:
            _learning(ax, summary, s, index)
            _refits(ax, summary, arm, index)
            _start_arrow(ax, summary, s, index)
    baseline = summary.trust.val_baseline
    baseline = baseline if math.isfinite(baseline) else summary.trust.baseline
    if math.isfinite(baseline):
        ax.axhline(baseline, color=NEUTRAL, ls=":", lw=1.2,
                   label=f"baseline (predicting the training mean) {baseline:.3g}")  # fmt: skip
    if summary.true_alpha is not None:
        ax.axvline(summary.true_alpha[index], color="black", ls="--", lw=1,
                   label=f"true alpha {_alpha(summary.true_alpha)}")  # fmt: skip
    name, other = ("alpha_real", "alpha_imag") if index == 0 else ("alpha_imag", "alpha_real")
    ax.set_xlabel(f"{name} ({other} = {fixed.start[0, 1 - index]:g} throughout)")
    ax.set_ylabel("mean validation loss (log scale); refits: test loss")
    ax.set_yscale("log")


def _start_arrow(ax, summary: Summary, s: Starts, index: int) -> None:
    """Where the chosen start began, an arrow to where its fits ended on average (quiet)."""
    chosen = _chosen(summary, s.arm)
    if chosen is None:
        return
    i = index_of(s.groups, chosen)
    begin, end, y = s.start[i, index], s.end[i, index], s.loss[i]
    arrow = {"arrowstyle": "->", "lw": 1, "color": ARM_COLORS[s.arm], "alpha": 0.7}
    ax.annotate("", (end, y), (begin, y), arrowprops=arrow, zorder=6)
    ax.plot(begin, y, "o", mfc="white", mec=ARM_COLORS[s.arm], ms=6, zorder=7,
            label=f"{s.arm}: its chosen start, arrow to the fits' mean end")  # fmt: skip
