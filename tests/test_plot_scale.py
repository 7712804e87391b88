"""The parent's plots draw a bounded number of artists whatever the number of runs (issue 18):
at most ``MAX_PATHS`` learned paths in ``landscape.png``, chosen so that the best learned run
and every distinct basin stay in the picture, the same ones whatever order the store returns
the runs in, and the legend says how many of how many are drawn. In process, no store."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.text import Annotation

from alphalab.config.names import Arm
from alphalab.config.spec import Alpha
from alphalab.results.plots import (
    LABELLED_CELLS,
    MAX_LABELS,
    MAX_PATHS,
    drawn_runs,
    landscape_figure,
    trials_figure,
)
from alphalab.results.rows import Row
from alphalab.results.searches import summarize_trials
from alphalab.results.verdict import summarize

TRUTH = Alpha(0.5, 2.0)
LONER = Alpha(-1.0, 4.0)  # where exactly one learned run ends: a basin of its own


def _row(run_id: str, approach: str, start: Alpha, learned: Alpha, loss: float) -> Row:
    return Row(
        run_id=run_id,
        name=run_id,
        approach=approach,
        arm=Arm.FIXED if approach == "lambda" else Arm.LEARNED,
        start=start,
        learned=learned,
        final_val_loss=loss,
        alpha_error=learned.distance(TRUTH),
        seed=0,
        status="FINISHED",
        seconds=0.1,
        true_alpha=TRUTH,
        baseline=1.0,
        converged=True,
    )


def sweep(n: int, cells: int = 4, epochs: int = 10, one_d: bool = False):
    """A fixed grid of ``cells`` x ``cells`` (a line when ``one_d``) and ``n`` learned runs from
    starts spread over it: most end near the truth, a third in a second basin, one alone."""
    rng = np.random.default_rng(0)
    reals = np.linspace(0.1, 1.6, cells)
    imags = [2.0] if one_d else np.linspace(1.0, 3.0, cells)
    rows = [
        _row(f"fixed-{r:.3f}-{i:.3f}", "lambda", Alpha(r, i), Alpha(r, i), 0.01 + (r - 0.5) ** 2)
        for r in reals
        for i in imags
    ]
    paths = {}
    for k in range(n):
        start = Alpha(float(rng.uniform(0.1, 1.6)), 2.0 if one_d else float(rng.uniform(1, 3)))
        end, loss = (TRUTH, 0.005) if k % 3 else (Alpha(1.5, 1.2 if not one_d else 2.0), 0.05)
        if k == n // 2:
            end, loss = LONER, 0.5
        end = Alpha(end.real + rng.normal(0, 0.002), end.imag + rng.normal(0, 0.002))
        loss += float(rng.uniform(0, 1e-3))
        t = (1 - np.exp(-np.arange(epochs + 1) / 3)) / (1 - np.exp(-epochs / 3))  # 0 to 1
        path = [(start.real + (end.real - start.real) * u, start.imag + (end.imag - start.imag) * u)
                for u in t]  # fmt: skip
        run_id = f"learned-{k:05d}"
        rows.append(_row(run_id, "trainable", start, Alpha(*path[-1]), loss))
        paths[run_id] = path
    return rows, paths


def drawn_paths(fig) -> list[np.ndarray]:
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    return [
        seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()
    ]


def _contains(segments: list[np.ndarray], path) -> bool:
    return any(len(s) == len(path) and np.allclose(s, path) for s in segments)


@pytest.mark.parametrize("n", [3 * MAX_PATHS, 8_192])
def test_many_trajectories_draw_a_bounded_subset_with_the_best_and_every_basin(n):
    rows, paths = sweep(n)
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    fig = landscape_figure(summary, paths)
    segments = drawn_paths(fig)
    assert MAX_PATHS // 2 <= len(segments) <= MAX_PATHS
    learned = [r for r in rows if r.approach == "trainable"]
    best = min(learned, key=lambda r: r.final_val_loss)
    assert _contains(segments, paths[best.run_id])  # the best learned trajectory is drawn
    (loner,) = [r for r in learned if r.learned.distance(LONER) < 0.1]
    assert _contains(segments, paths[loner.run_id])  # and the one basin a single run found
    second = [r for r in learned if r.learned.distance((1.5, 1.2)) < 0.1]
    assert any(_contains(segments, paths[r.run_id]) for r in second)
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    legend = ax.get_legend()
    title = legend.get_title().get_text()
    assert f"{len(segments):,} of {n:,} learned runs drawn" in title
    labels = [t.get_text() for t in legend.get_texts()]
    in_basin = sum(summary.in_basin.values())
    assert any("best basin (" in s and f"of {in_basin:,})" in s for s in labels)
    # every other artist is bounded too: a few scatters, no per-run text on a fine sweep
    assert len(ax.collections) <= 8 and len(ax.texts) <= LABELLED_CELLS
    assert len(ax.lines) <= 12


def test_the_drawn_subset_does_not_depend_on_the_order_of_the_runs():
    rows, paths = sweep(2 * MAX_PATHS)
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    learned = [r for r in rows if r.approach == "trainable"]
    first = [r.run_id for r in drawn_runs(summary, learned)]
    random.Random(1).shuffle(learned)
    assert [r.run_id for r in drawn_runs(summary, learned)] == first
    assert len(set(first)) == len(first) == MAX_PATHS
    lost = _row("lost", "trainable", Alpha(0.3, 1.5), Alpha(math.nan, math.inf), 0.9)
    assert len(drawn_runs(summary, [*learned, lost])) == MAX_PATHS  # no basin of its own


def test_a_small_sweep_draws_every_trajectory_and_says_nothing_more(tmp_path):
    rows, paths = sweep(16)
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    fig = landscape_figure(summary, paths)
    assert len(drawn_paths(fig)) == 16
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert ax.get_legend().get_title().get_text() == ""
    out = tmp_path / "landscape.png"
    landscape_figure(summary, paths).savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_one_dimensional_sweep_draws_a_bounded_number_of_arrows():
    rows, paths = sweep(1_000, cells=50, one_d=True)
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    fig = landscape_figure(summary, paths)
    (ax,) = fig.axes
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    assert 0 < len(arrows) <= LABELLED_CELLS
    assert "of 1,000 learned runs drawn" in ax.get_legend().get_title().get_text()
    best = min((r for r in rows if r.approach == "trainable"), key=lambda r: r.final_val_loss)
    ends = np.concatenate([line.get_xydata() for line in ax.lines if line.get_xydata().size])
    assert np.isclose(ends, (best.learned.real, best.final_val_loss)).all(axis=1).any()


def test_a_search_with_thousands_of_trials_numbers_a_bounded_share(tmp_path):
    rng = np.random.default_rng(0)
    trials = []
    for k in range(2_000):
        a = Alpha(float(rng.uniform(0, 1.6)), float(rng.uniform(1, 3)))
        row = _row(f"trial-{k}", "lambda", a, a, 0.01 + a.distance(TRUTH) ** 2)
        row.name, row.status = f"trial {k:04d}", "FAILED" if k % 10 == 3 else "FINISHED"
        trials.append(row)
    summary = summarize_trials(trials, None, "random", 0.1)
    captured = {}
    from matplotlib.figure import Figure

    original = Figure.savefig

    def keep(self, *args, **kwargs):
        captured["fig"] = self
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", keep)
        trials_figure(summary, {}).savefig(tmp_path / "trials.png")
    (ax, _) = captured["fig"].axes
    assert len(ax.texts) <= MAX_LABELS + 1 and len(ax.lines) <= 6
    every = math.ceil(2_000 / MAX_LABELS)
    assert f"one in {every} numbered" in captured["fig"]._suptitle.get_text()
