"""The parent run's plots, their shared style, and ``trials.png`` (a search's trials over the
alpha plane). ``landscape.png`` is drawn by ``results.landscape``, ``verdict.png`` by
``results.verdict_plot``.

Colours are Okabe and Ito's palette (distinguishable with every common colour-vision
deficiency); figures are made without pyplot (no global state, a lighter import) and with fixed
margins (matplotlib's tight_layout is the slowest part of a plot); legends sit below the axes,
never over the data; the title says the outcome.
"""

from __future__ import annotations

import math

import numpy as np

from alphalab.config.names import Arm
from alphalab.results.searches import SearchSummary

MAX_LABELS = 200  # trials numbered at most in trials.png (beyond, one in k)
# Okabe & Ito (2008): one colour per arm, and two for what is neither
ARM_COLORS = {
    Arm.FIXED: "#0072B2",  # blue
    Arm.LEARNED: "#D55E00",  # vermillion
    Arm.REFINED: "#009E73",  # bluish green
    Arm.TUNED: "#CC79A7",  # reddish purple
}
TRUTH_COLOR = "#F0E442"  # yellow, with a black edge
NEUTRAL = "#999999"
LEGEND = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.1), "ncol": 2, "frameon": False}


def figure(size: tuple[float, float] = (8.5, 6.5), bottom: float = 0.19, right: float = 0.97):
    """A figure and its one axes, without pyplot and with fixed margins."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110)
    fig.subplots_adjust(left=0.11, right=right, top=0.86, bottom=bottom)
    return fig, fig.add_subplot()


def titled(fig, ax, headline: str, what: str) -> None:
    """The outcome as the title (the headline's first clause, bold: "Learned alpha is better"),
    what the figure shows after it, and the rest of the headline under it."""
    outcome, _, rest = headline.partition(": ")
    if not rest:
        outcome, rest = "", headline
    fig.suptitle(f"{outcome} · {what}" if outcome else what, fontsize=12, fontweight="bold")
    ax.set_title(wrap(rest), fontsize=9)


def wrap(text: str, width: int = 100) -> str:
    """``text`` in lines of at most ``width`` characters."""
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _mark_best(ax, alpha: tuple[float, float], label: str) -> None:
    ax.plot(*alpha, "s", mfc="none", mec="black", mew=2, ms=13, zorder=6, label=label)


def trials_figure(summary: SearchSummary, paths: dict[str, list[tuple[float, float]]]):
    """``trials.png``: a search's trials over the alpha plane, numbered in order, coloured by
    validation loss."""
    from matplotlib.colors import LogNorm

    fig, ax = figure()
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
        ax.plot(fx, fy, "x", ls="none", color="black", ms=8, mew=2, zorder=4)
    if summary.best is not None:
        label = f"best trial, val_loss {summary.best.final_val_loss:.3g}"
        _mark_best(ax, summary.best.start, label)
    reference = summary.reference
    if reference is not None and reference.run_id in paths:
        rx, ry = zip(*paths[reference.run_id], strict=True)
        label = f"learned alpha (trainable), val_loss {reference.final_val_loss:.3g}"
        ax.plot(rx, ry, "-", color=ARM_COLORS[Arm.LEARNED], lw=1.5, zorder=4, label=label)
        ax.plot(rx[0], ry[0], "o", mfc="white", mec=ARM_COLORS[Arm.LEARNED], ms=6, zorder=4)
        ax.plot(rx[-1], ry[-1], "o", color=ARM_COLORS[Arm.LEARNED], mec="black", ms=8, zorder=6)
    if summary.true_alpha is not None:
        ax.plot(
            *summary.true_alpha,
            "*",
            color=TRUTH_COLOR,
            mec="black",
            ms=18,
            zorder=2,
            label="true alpha",
        )
    ax.set_xlabel("alpha_real")
    ax.set_ylabel("alpha_imag")
    ax.set_title(wrap(summary.headline), fontsize=10)
    numbers = "order of trials" + (f", one in {every} numbered" if every > 1 else "")
    fig.suptitle(f"{summary.tuner} search over alpha (numbers: {numbers})", fontsize=12)
    ax.legend(**LEGEND, fontsize=8)
    return fig
