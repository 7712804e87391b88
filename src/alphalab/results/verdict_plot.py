"""``verdict.png``: the verdict as a forest plot, as papers draw one.

One row per comparison: each arm's test loss relative to the fixed arm's (``arm / fixed - 1``;
then any pair without the fixed arm, as the verdict compares it), its estimate as a point and its
interval as a bar at the verdict's own level (Bonferroni-corrected with three arms, and the
figure says so), the region of practical equivalence shaded, and the outcome as the title.
"""

from __future__ import annotations

import math

import numpy as np

from alphalab.config.names import Arm
from alphalab.results.interval import Decision, Difference
from alphalab.results.plots import ARM_COLORS, NEUTRAL, figure, titled, wrap
from alphalab.results.searches import SearchSummary
from alphalab.results.verdict import Summary

SAYS = {
    Decision.FIRST: "lower, beyond the ROPE",
    Decision.SECOND: "higher, beyond the ROPE",
    Decision.EQUIVALENT: "inside the ROPE",
    Decision.UNDECIDED: "crosses the ROPE",
}


def verdict_figure(summary: Summary):
    """``verdict.png`` of a sweep: every compared arm against the fixed arm, then any other
    compared pair."""
    rows = []
    for arm in sorted(summary.arms, key=list(Arm).index):
        difference = summary.versus(arm, Arm.FIXED) if arm != Arm.FIXED else None
        if difference is not None:
            label = f"{arm} vs fixed\nalpha {_alpha(summary.arms[arm].alpha)}"
            rows.append((label, difference, ARM_COLORS[arm]))
    for pair in summary.pairs:
        if Arm.FIXED not in (pair.better, pair.worse) and pair.difference is not None:
            rows.append(
                (f"{pair.better} vs {pair.worse}", pair.difference, ARM_COLORS[pair.better])
            )
    fixed = summary.arms.get(Arm.FIXED)
    reference = f"the fixed arm's (alpha {_alpha(fixed.alpha)})" if fixed else "the other arm's"
    if len(rows) > sum(1 for a in summary.arms if a != Arm.FIXED and summary.versus(a, Arm.FIXED)):
        reference = "the second arm's"  # a pair without the fixed arm is drawn too
    return forest(rows, summary.rope, summary.headline, reference)


def search_verdict_figure(search: SearchSummary):
    """``verdict.png`` of a search: the learned alpha against the best trial."""
    rows = []
    if search.difference is not None:
        rows.append(("learned vs best trial", search.difference, ARM_COLORS[Arm.LEARNED]))
    return forest(rows, search.rope, search.headline, "the best trial's")


def _alpha(value) -> str:
    return f"{value[0]:.3g}{value[1]:+.3g}i"


def _level(rows: list[tuple[str, Difference, str]]) -> str:
    levels = sorted({round(d.level, 4) for _, d, _ in rows})
    if not levels:
        return "95% interval"
    if len(levels) == 1 and levels[0] > 0.9501:
        k = round(0.05 / (1 - levels[0]))
        return f"{levels[0]:.1%} interval each (Bonferroni for {k} comparisons: 95% together)"
    return " / ".join(f"{level:.0%}" for level in levels) + " interval"


def forest(rows: list[tuple[str, Difference, str]], rope: float, headline: str, reference: str):
    """A forest plot: ``rows`` of (label, difference, colour), top to bottom, against ``±rope``."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    n = max(len(rows), 1)
    height = 2.5 + 0.65 * n  # inches: titles 1.05, ticks, label and legend 0.9, rows
    fig, ax = figure(size=(8.5, height), bottom=0.9 / height, right=0.8)
    fig.subplots_adjust(left=0.24, top=1 - 1.05 / height)
    level = _level(rows)
    ax.axvspan(-rope, rope, color=NEUTRAL, alpha=0.3, lw=0, zorder=0)
    ax.axvline(0, color="black", lw=0.8, zorder=1)
    ys = np.arange(len(rows))[::-1]
    xs = [0.0, -rope, rope]
    for y, (_, d, color) in zip(ys, rows, strict=True):
        finite = math.isfinite(d.low) and math.isfinite(d.high)
        if finite:
            ax.plot([d.low, d.high], [y, y], color=color, lw=2.5, solid_capstyle="butt", zorder=3)
            ax.plot([d.low, d.high], [y, y], "|", color=color, ms=12, mew=2, zorder=3)
            xs += [d.low, d.high]
        if math.isfinite(d.estimate):
            ax.plot(d.estimate, y, "o", color=color, mec="black", ms=9, zorder=4)
            xs.append(d.estimate)
        text = (
            f"{d.estimate:+.1%}\n({d.low:+.1%} to {d.high:+.1%})"
            if finite
            else f"{d.estimate:+.1%}\n(no interval)"
        )
        says = SAYS[d.decide(rope)]
        ax.annotate(f"{text}\n{says}", (1.02, y), xycoords=("axes fraction", "data"),
                    va="center", fontsize=8.5)  # fmt: skip
    low, high = min(xs), max(xs)
    pad = (high - low) * 0.08 or 0.05
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(-0.7, len(rows) - 0.3 if rows else 0.7)
    ax.set_yticks(ys, [label for label, _, _ in rows])
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    ax.set_xlabel(f"test loss relative to {reference} (first / second − 1); negative: lower")
    ax.grid(axis="x", color="0.9", lw=0.8, zorder=0)
    if not rows:
        ax.text(0.5, 0.5, wrap("No interval to draw: " + headline, 70), transform=ax.transAxes,
                ha="center", va="center", fontsize=9)  # fmt: skip
        ax.set_yticks([])
    titled(fig, ax, headline, "the verdict")
    point = ax.plot([], [], "o", color=NEUTRAL, mec="black", ms=8, label="estimate")[0]
    bar = ax.plot([], [], "-", color=NEUTRAL, lw=2.5, label=level)[0]
    shade = Patch(color=NEUTRAL, alpha=0.3, label=f"region of practical equivalence ±{rope:.0%}")
    fig.legend(handles=[point, bar, shade], loc="lower center", bbox_to_anchor=(0.5, 0.01),
               ncol=3, frameon=False, fontsize=8)  # fmt: skip
    return fig
