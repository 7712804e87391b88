"""The parent's plots, in process from rows built here (no store, no training): what
``landscape.png`` and ``verdict.png`` show (the fixed grid's mean with the verdict's kind of
interval, each learned start's mean end point and the spread of its fits, each arm's choice and
refits, the verdict's intervals against the ROPE), and that they stay readable and bounded on a
64x64 grid (a heat map, no per-cell text, a bounded number of artists, drawn in about a second),
the same picture whatever order the store returns the runs in."""

from __future__ import annotations

import io
import math
import random
import statistics

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection, QuadMesh
from scipy import stats as scipy_stats

from alphalab.config.names import Arm, Kind
from alphalab.config.spec import Alpha
from alphalab.results.landscape import LABELLED_CELLS, MAX_BARS, MAX_PATHS, landscape_figure
from alphalab.results.plots import MAX_LABELS, trials_figure
from alphalab.results.rows import Row
from alphalab.results.searches import summarize_trials
from alphalab.results.stats import bands
from alphalab.results.verdict import summarize
from alphalab.results.verdict_plot import search_verdict_figure, verdict_figure

TRUTH = Alpha(0.5, 2.0)
OTHER = Alpha(1.5, 1.2)  # a second basin, where some fits from far starts end


def _row(run_id: str, approach: str, start, learned, loss: float, seed=0, fold=None) -> Row:
    start, learned = Alpha(*start), Alpha(*learned)
    return Row(
        run_id=run_id,
        name=run_id,
        approach=approach,
        arm=Arm.FIXED if approach == "lambda" else Arm.LEARNED,
        start=start,
        learned=learned,
        final_val_loss=loss,
        alpha_error=learned.distance(TRUTH),
        seed=seed,
        status="FINISHED",
        seconds=0.1,
        true_alpha=TRUTH,
        baseline=1.0,
        converged=True,
        test_loss=loss,
        test_baseline=1.0,
        fold=fold,
    )


def sweep(cells: int = 4, seeds: int = 3, folds: int = 5, one_d: bool = False, tuned=False):
    """A grid of ``cells`` x ``cells`` (a line of ``cells`` when ``one_d``), fixed and learned
    at each cell for every seed and fold, and each arm's refit per seed scored on 40 test rows.
    Fits from starts with alpha_real > 1 end in the second basin on odd folds."""
    rng = np.random.default_rng(0)
    reals = np.linspace(0.1, 1.6, cells) if not one_d else np.array([0.3])
    imags = np.linspace(1.0, 3.0, cells)
    rows, paths, test_rows = [], {}, {}
    for seed in range(seeds):
        for fold in range(folds):
            for real in reals:
                for imag in imags:
                    loss = (0.01 + (real - 0.5) ** 2 + 0.1 * (imag - 2) ** 2) * rng.uniform(
                        0.9, 1.1
                    )
                    key = f"{real:.4f}-{imag:.4f}-{seed}-{fold}"
                    rows.append(
                        _row(f"f-{key}", "lambda", (real, imag), (real, imag), loss, seed, fold)
                    )
                    far = (real > 1 or (one_d and imag > 2.6)) and fold % 2
                    end = (OTHER if far else TRUTH) + rng.normal(0, 0.003, 2)
                    loss = (0.05 if far else 0.005) * rng.uniform(0.9, 1.1)
                    rows.append(_row(f"l-{key}", "trainable", (real, imag), end, loss, seed, fold))
                    u = np.linspace(0, 1, 11)[:, None]
                    paths[f"l-{key}"] = [tuple(p) for p in (1 - u) * (real, imag) + u * end]
                    if tuned:
                        t = _row(f"t-{key}", "tuned", (real, imag), (0.55, 2.1), 0.012, seed, fold)
                        t.arm = Arm.TUNED
                        rows.append(t)
        arms = [("lambda", Arm.FIXED, 0.017), ("trainable", Arm.LEARNED, 0.005)]
        for approach, arm, mean in arms + ([("tuned", Arm.TUNED, 0.012)] if tuned else []):
            losses = mean * (1 + 0.1 * np.random.default_rng(seed).standard_normal(40))
            learned = (0.6, 2.2) if arm == Arm.FIXED else (0.5 + 0.01 * seed, 2.0)
            refit = _row(f"refit-{arm}-{seed}", approach, (0.6, 2.2), learned, math.nan, seed)
            refit.arm, refit.kind, refit.test_loss = arm, Kind.REFIT, float(losses.mean())
            test_rows[refit.run_id] = {
                "losses": losses.tolist(), "rows": f"r{seed}", "data": f"d{seed}", "n_train": 160
            }  # fmt: skip
            rows.append(refit)
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1, rope=0.02, test_rows=test_rows)
    return summary, rows, paths


def main_axes(fig):
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    return ax


def labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def pixels(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_the_fixed_band_is_the_verdicts_kind_of_interval_with_seeds_as_units():
    summary, _, _ = sweep(one_d=True)
    fixed = sorted((g for g in summary.groups if g.arm == Arm.FIXED), key=lambda g: g.start)
    means, half, units = bands(fixed)
    assert units == "seeds"
    seed_means = list(fixed[0].by_seed().values())  # 3 seeds, each the mean of its 5 folds
    expected = scipy_stats.t.ppf(0.975, 2) * statistics.stdev(seed_means) / math.sqrt(3)
    assert half[0] == pytest.approx(expected)
    assert means[0] == pytest.approx(statistics.fmean(r.final_val_loss for r in fixed[0].rows))
    ax = main_axes(landscape_figure(summary, {}))
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = band.get_paths()[0].vertices[:, 1]
    assert np.isclose(ys, means[0] + half[0]).any() and np.isclose(ys, means[0] - half[0]).any()
    legend = ax.get_legend()
    assert "95% CI (seeds as units)" in legend.get_title().get_text().replace("\n", " ")
    assert "3 seeds x 5 folds" in legend.get_title().get_text()
    # one seed: the folds are the units, as the verdict's interval has them
    assert bands([g for g in sweep(one_d=True, seeds=1)[0].groups if g.arm == Arm.FIXED])[2] == (
        "folds"
    )


def test_a_start_whose_fits_end_in_two_basins_shows_a_bar_across_both():
    summary, _, _ = sweep(one_d=True)
    ax = main_axes(landscape_figure(summary, {}))
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    spans = [abs(seg[1, 0] - seg[0, 0]) for c in bars for seg in c.get_segments()]
    assert max(spans) == pytest.approx(TRUTH.imag - OTHER.imag, abs=0.03)  # imag 1.2 to 2.0
    learned = [g for g in summary.groups if g.arm == Arm.LEARNED]
    assert sum(len(c.get_segments()) for c in bars) == 2 * len(learned)  # along alpha and loss


def test_each_arms_choice_and_refits_are_marked_and_the_chosen_starts_paths_only():
    summary, _, paths = sweep()
    ax = main_axes(landscape_figure(summary, paths))
    found = labels(ax)
    fixed, learned = summary.arms[Arm.FIXED], summary.arms[Arm.LEARNED]
    cell = f"{fixed.chosen.start[0]:.3g}{fixed.chosen.start[1]:+.3g}i"
    assert f"fixed: chosen cell {cell}, val loss {fixed.chosen.loss[0]:.3g}" in found
    assert f"fixed refits (3 seeds): alpha {cell}, test loss {fixed.score[0]:.3g}" in found
    assert any(s.startswith("learned refits (3 seeds): alpha 0.51+2i, test loss") for s in found)
    assert any(s.startswith("learned: chosen start") for s in found)
    assert "true alpha 0.5+2i" in found
    (trajectories,) = [
        c for c in ax.collections if isinstance(c, LineCollection) and len(c.get_segments()[0]) > 2
    ]
    chosen = {r.run_id for r in learned.chosen.finished}
    drawn = trajectories.get_segments()
    assert len(drawn) == len(chosen) == 15
    assert all(any(np.allclose(s, paths[i]) for i in chosen) for s in drawn)


@pytest.mark.parametrize("one_d", [False, True])
def test_a_64x64_grid_is_readable_and_bounded(one_d):
    """Its drawing time (about a second) is a benchmark figure, not asserted here: a bounded
    number of artists is what keeps it there."""
    # 64x64 cells x 2 folds, both arms: 16,384 runs (a line: 64 cells x 3 seeds x 5 folds)
    summary, rows, paths = sweep(cells=64, seeds=1, folds=2) if not one_d else sweep(64, one_d=True)
    fig = landscape_figure(summary, paths)
    fig.savefig(io.BytesIO(), format="png")
    ax = main_axes(fig)
    assert len(ax.texts) == 0 or one_d  # no per-cell labels: the colours say it
    assert len(ax.collections) <= 10 and len(ax.lines) <= 24, (ax.collections, ax.lines)
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert max(len(c.get_segments()) for c in bars) <= max(MAX_BARS, MAX_PATHS)
    if not one_d:
        assert any(isinstance(c, QuadMesh) for c in ax.collections)
        assert "mean over 1 seed x 2 folds" in ax.get_legend().get_title().get_text()


def test_the_picture_does_not_depend_on_the_order_of_the_runs():
    summary, rows, paths = sweep(cells=3, seeds=2, folds=3)
    first = pixels(landscape_figure(summary, paths))
    shuffled = list(rows)
    random.Random(1).shuffle(shuffled)
    test_rows = {r.run_id: v for r in rows if (v := _tests(summary, r.run_id)) is not None}
    again = summarize(shuffled, basin_tolerance=0.05, margin=0.1, rope=0.02, test_rows=test_rows)
    assert np.array_equal(pixels(landscape_figure(again, paths)), first)
    assert np.array_equal(pixels(verdict_figure(again)), pixels(verdict_figure(summary)))


def _tests(summary, run_id):
    for result in summary.arms.values():
        for seed, refit in result.refits.items():
            if refit.run_id == run_id:
                return result.test_rows[seed]
    return None


def test_the_verdict_is_a_forest_plot_with_the_rope_and_the_outcome_as_title():
    summary, _, _ = sweep()
    fig = verdict_figure(summary)
    ax = fig.axes[0]
    assert fig._suptitle.get_text().startswith("Learned alpha is better")
    difference = summary.versus(Arm.LEARNED, Arm.FIXED)
    xs = [line.get_xdata() for line in ax.lines if len(line.get_xdata()) == 2]
    assert any(np.allclose(x, (difference.low, difference.high)) for x in xs)
    (rope,) = ax.patches  # the shaded region of practical equivalence
    xs = ax.transData.inverted().transform(rope.get_transform().transform(rope.get_path().vertices))
    assert np.isclose(xs[:, 0].min(), -0.02) and np.isclose(xs[:, 0].max(), 0.02)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["learned vs fixed\nalpha 0.51+2i"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["estimate", "95% interval", "region of practical equivalence ±2%"]
    assert any("lower, beyond the ROPE" in t.get_text() for t in ax.texts)


def test_three_arms_each_against_fixed_and_the_third_pair_at_the_bonferroni_level():
    summary, _, _ = sweep(tuned=True)
    fig = verdict_figure(summary)
    ticks = [t.get_text().split("\n")[0] for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["learned vs fixed", "tuned vs fixed", "learned vs tuned"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "98.3% interval each (Bonferroni for 3 comparisons: 95% together)" in legend


def test_no_test_rows_says_there_is_no_interval_to_draw():
    summary, rows, paths = sweep(cells=2, seeds=1, folds=2)
    grid = [r for r in rows if r.in_grid]
    for r in grid:
        r.test_loss = math.nan
    bare = summarize(grid, basin_tolerance=0.05, margin=0.1)
    fig = verdict_figure(bare)
    assert any(t.get_text().startswith("No interval to draw") for t in fig.axes[0].texts)
    landscape_figure(bare, paths)  # no refits: still drawn


def test_a_search_with_thousands_of_trials_numbers_a_bounded_share(tmp_path):
    rng = np.random.default_rng(0)
    trials = []
    for k in range(2_000):
        a = (float(rng.uniform(0, 1.6)), float(rng.uniform(1, 3)))
        row = _row(f"trial-{k}", "lambda", a, a, 0.01 + Alpha(*a).distance(TRUTH) ** 2)
        row.name, row.status = f"trial {k:04d}", "FAILED" if k % 10 == 3 else "FINISHED"
        row.test_loss = math.nan
        trials.append(row)
    summary = summarize_trials(trials, None, "random", 0.1)
    fig = trials_figure(summary, {})
    fig.savefig(tmp_path / "trials.png")
    (ax, _) = fig.axes
    assert len(ax.texts) <= MAX_LABELS + 1 and len(ax.lines) <= 6
    every = math.ceil(2_000 / MAX_LABELS)
    assert f"one in {every} numbered" in fig._suptitle.get_text()
    verdict = search_verdict_figure(summary)  # no reference: nothing to compare
    assert any(t.get_text().startswith("No interval to draw") for t in verdict.axes[0].texts)
    assert LABELLED_CELLS < 64 * 64
