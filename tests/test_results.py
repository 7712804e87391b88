"""The verdict's logic in process, from rows built here: statistics, trust, the sweep's and the
search's verdicts, and what they write. No training, no store: each case says what the numbers
must make of it."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from alphalab.config.names import Arm, Kind
from alphalab.config.spec import Alpha
from alphalab.results.render import comparison_csv, table
from alphalab.results.rows import Row
from alphalab.results.searches import summarize_trials
from alphalab.results.stats import best, groups_of, mean_ci
from alphalab.results.trust import assess
from alphalab.results.verdict import summarize

TRUTH = Alpha(0.5, 2.0)


def row(
    approach: str,
    start: tuple[float, float],
    loss: float,
    seed: int = 0,
    learned: tuple[float, float] | None = None,
    arm: Arm | None = None,
    status: str = "FINISHED",
    baseline: float = 1.0,
    converged: bool | None = True,
) -> Row:
    learned = Alpha(*(learned or start))
    arm = arm or (Arm.FIXED if approach == "lambda" else Arm.LEARNED)
    n = f"{approach}-{start}-{seed}-{arm}-{loss}"
    return Row(
        run_id=n,
        name=n,
        approach=approach,
        arm=arm,
        start=Alpha(*start),
        learned=learned,
        final_val_loss=loss,
        alpha_error=learned.distance(TRUTH),
        seed=seed,
        status=status,
        seconds=0.5,
        true_alpha=TRUTH,
        baseline=baseline,
        converged=converged,
    )


def test_mean_ci_is_students_t_interval():
    values = [0.2, 0.25, 0.31, 0.22]
    mean, half = mean_ci(values)
    sem = scipy_stats.sem(values)
    assert mean == pytest.approx(sum(values) / 4)
    assert half == pytest.approx(scipy_stats.t.ppf(0.975, 3) * sem)
    assert math.isnan(mean_ci([0.3])[1]) and math.isnan(mean_ci([])[0])


def test_groups_are_per_arm_and_start_and_the_best_is_the_lowest_mean():
    rows = [
        row("lambda", (0.2, 1.0), 0.4, seed=0),
        row("lambda", (0.2, 1.0), 0.6, seed=1),
        row("lambda", (0.6, 2.2), 0.3, seed=0),
        row("lambda", (0.6, 2.2), 0.9, seed=1),  # mean 0.6: worse than 0.5
        row("trainable", (0.2, 1.0), 0.1, seed=0, learned=(0.49, 2.0)),
    ]
    groups = groups_of(rows)
    assert [(g.arm, g.start, len(g.rows)) for g in groups] == [
        (Arm.FIXED, Alpha(0.2, 1.0), 2),
        (Arm.FIXED, Alpha(0.6, 2.2), 2),
        (Arm.LEARNED, Alpha(0.2, 1.0), 1),
    ]
    assert best(groups, Arm.FIXED).start == Alpha(0.2, 1.0)
    assert best(groups, Arm.LEARNED, Arm.REFINED).learned == Alpha(0.49, 2.0)


def test_most_runs_unconverged_is_inconclusive():
    rows = [row("lambda", (0.2, 1.0), 0.1, converged=False)]
    rows += [row("trainable", (0.2, 1.0), 0.05, converged=False), row("lambda", (0.6, 1), 0.2)]
    trust = assess(rows, {"best fixed": 0.1, "best learned": 0.05}, margin=0.1)
    assert not trust.conclusive and "2 of 3 runs had not converged" in trust.reasons[0]


def test_a_failed_run_is_counted_and_named_but_not_compared():
    rows = [row("lambda", (0.2, 1.0), 0.1), row("trainable", (0.2, 1.0), 0.05)]
    rows.append(row("lambda", (-30, 2.0), math.nan, status="FAILED"))
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    assert summary.metrics()["failed_runs"] == 1
    assert any("1 run(s) did not finish" in line for line in summary.verdict)
    assert summary.best_fixed.start == Alpha(0.2, 1.0)


def test_the_refined_arm_competes_for_the_best_learned_alpha():
    rows = [row("lambda", (0.6, 2.2), 0.04), row("trainable", (0.6, 2.2), 0.02)]
    rows.append(row("trainable", (0.6, 2.2), 0.01, arm=Arm.REFINED, learned=(0.5, 2.0)))
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    assert summary.best_trainable.arm == Arm.REFINED
    assert summary.metrics()["best_refined_val_loss"] == 0.01
    assert "refined" in table(summary)


def test_comparison_csv_has_a_row_per_run_with_its_arm():
    rows = [row("lambda", (0.2, 1.0), 0.1), row("trainable", (0.2, 1.0), 0.05)]
    read = list(csv.DictReader(io.StringIO(comparison_csv(rows))))
    assert [(r["approach"], r["arm"], float(r["final_val_loss"])) for r in read] == [
        ("lambda", "fixed", 0.1),
        ("trainable", "learned", 0.05),
    ]


def refit(
    approach: str, seed: int, losses, arm: Arm, learned=(0.5, 2.0), rows: str = ""
) -> tuple[Row, dict]:
    """An arm's refit in ``seed`` scored on test rows with these per-row ``losses``, and its
    ``test_losses.json`` (each seed its own data unless ``rows`` names shared ones)."""
    losses = np.asarray(losses, dtype="float64")
    r = row(approach, (0.6, 2.2), math.nan, seed=seed, learned=learned, arm=arm)
    r.run_id = r.name = f"refit-{arm}-{seed}-{losses.sum()}"
    r.kind, r.test_loss, r.test_baseline = Kind.REFIT, float(losses.mean()), 1.0
    paired = {"losses": losses.tolist(), "rows": rows or f"rows-{seed}", "n_train": 160}
    return r, {**paired, "data": rows or f"data-{seed}"}


def sweep_of(fixed: dict[int, list], learned: dict[int, list], folds: int = 1, **kw):
    """A sweep with one fixed cell and one learned start per seed and fold (CV validation
    losses 0.04 and 0.01), and each seed's refits scored on the given per-row test losses."""
    rows, paired = [], {}
    for seed in fixed:
        for fold in range(folds):
            for r in (
                row("lambda", (0.6, 2.2), 0.04, seed=seed),
                row("trainable", (0.6, 2.2), 0.01, seed=seed, learned=(0.5, 2.0)),
            ):
                r.run_id += f"-{fold}"
                r.fold, r.test_loss, r.test_baseline = (fold if folds > 1 else None), 0.05, 1.0
                rows.append(r)
        for approach, arm, losses in (
            ("lambda", Arm.FIXED, fixed[seed]),
            ("trainable", Arm.LEARNED, learned[seed]),
        ):
            r, found = refit(approach, seed, losses, arm, **kw)
            rows.append(r)
            paired[r.run_id] = found
    return summarize(rows, basin_tolerance=0.05, margin=0.1, rope=0.02, test_rows=paired)


RNG = np.random.default_rng(0)


def noisy(mean: float, n: int = 40, spread: float = 0.1) -> list[float]:
    return list(mean * (1 + spread * RNG.standard_normal(n)))


def test_a_clear_learned_win_is_conclusive_and_says_by_how_much():
    summary = sweep_of({s: noisy(0.04) for s in range(3)}, {s: noisy(0.005) for s in range(3)})
    assert summary.trust.conclusive and summary.outcome == "learned"
    assert summary.headline.startswith("Learned alpha is better: test loss 0.00")
    assert "x (95% interval" in summary.headline and "beyond the ±2% region" in summary.headline
    m = summary.metrics()
    assert m["best_fixed_val_loss"] == pytest.approx(0.04)  # what chose it
    assert (m["best_fixed_alpha_real"], m["best_fixed_alpha_imag"]) == (0.6, 2.2)
    assert m["best_trainable_alpha_real"] == pytest.approx(0.5)  # the refits' learned alpha
    assert m["learned_vs_fixed_high"] < -0.8 and m["conclusive"] == 1.0
    assert any("Student's t over 3 seeds" in line for line in summary.verdict)


def test_nothing_beats_the_baseline_so_it_is_inconclusive():
    summary = sweep_of({s: noisy(0.99) for s in range(3)}, {s: noisy(0.95) for s in range(3)})
    assert summary.outcome == "inconclusive"
    assert summary.headline.startswith("Inconclusive: no approach beats the baseline")
    assert "Taken at face value:" in summary.headline


def test_an_interval_across_the_rope_is_inconclusive_and_says_what_would_settle_it():
    # per seed the learned arm is 4% better, 1% worse, 6% better: the mean leans, the
    # interval over three seeds crosses the ROPE
    base = {s: noisy(0.04, spread=0.01) for s in range(3)}
    learned = {s: [v * f for v in base[s]] for s, f in enumerate((0.96, 1.01, 0.94))}
    summary = sweep_of(base, learned)
    assert summary.outcome == "inconclusive"
    assert summary.headline.startswith("Inconclusive: the interval crosses an edge")
    assert "leans towards the learned alpha" in summary.headline
    assert "seeds would likely settle it" in summary.headline


def test_inside_the_rope_is_practically_equivalent():
    base = {s: noisy(0.04, n=400, spread=0.01) for s in range(5)}
    learned = {s: [v * f for v in base[s]] for s, f in enumerate((1.002, 0.999, 1.001, 1.0, 0.998))}
    summary = sweep_of(base, learned)
    assert summary.outcome == "equivalent"
    assert summary.headline.startswith("Practically equivalent:")


def test_the_interval_over_seeds_is_the_hand_computed_one():
    fixed = {s: noisy(0.04) for s in range(4)}
    learned = {s: noisy(0.03) for s in range(4)}
    summary = sweep_of(fixed, learned)
    (pair,) = summary.pairs
    d = pair.difference
    a = np.array([np.mean(learned[s]) for s in range(4)])
    b = np.array([np.mean(fixed[s]) for s in range(4)])
    ratio = a.mean() / b.mean()
    linear = (a - ratio * b) / b.mean()  # the delta method, seed by seed
    half = scipy_stats.t.ppf(0.975, 3) * linear.std(ddof=1) / 2
    assert pair.better == Arm.LEARNED and d.estimate == pytest.approx(ratio - 1)
    assert (d.low, d.high) == pytest.approx((ratio - 1 - half, ratio - 1 + half))


def test_one_seed_and_one_split_says_training_randomness_was_not_measured():
    summary = sweep_of({0: noisy(0.04)}, {0: noisy(0.005)})
    assert summary.outcome == "learned"
    assert any("Training randomness was not measured" in line for line in summary.verdict)


def test_one_configuration_per_arm_chosen_by_its_mean_over_folds_and_seeds_not_by_test():
    rows = []
    # cell A is best in fold 0 but worse on average; its test losses are the best of all
    for fold, (a, b) in enumerate(((0.01, 0.03), (0.09, 0.03), (0.08, 0.03))):
        for start, val, test in (((0.2, 1.0), a, 0.001), ((0.6, 2.2), b, 0.5)):
            r = row("lambda", start, val, seed=0)
            r.run_id += f"-{fold}"
            r.fold, r.test_loss, r.test_baseline = fold, test, 1.0
            rows.append(r)
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    assert summary.arms[Arm.FIXED].chosen.start == Alpha(0.6, 2.2)
    assert summary.best_fixed.loss[0] == pytest.approx(0.03)


def test_a_configuration_that_failed_somewhere_ranks_after_those_that_finished_everywhere():
    rows = [
        row("lambda", (0.2, 1.0), 0.01, seed=0),
        row("lambda", (0.2, 1.0), math.nan, 1, status="FAILED"),
    ]
    rows += [row("lambda", (0.6, 2.2), 0.02, seed=0), row("lambda", (0.6, 2.2), 0.02, seed=1)]
    groups = groups_of(rows)
    assert best(groups, Arm.FIXED).start == Alpha(0.6, 2.2)


def test_three_arms_are_compared_pair_by_pair_with_bonferroni():
    paired, rows = {}, []
    for seed in range(3):
        for approach, arm, mean in (
            ("lambda", Arm.FIXED, 0.04),
            ("trainable", Arm.LEARNED, 0.005),
            ("tuned", Arm.TUNED, 0.02),
        ):
            r = row(approach, (0.6, 2.2), mean * 1.1, seed=seed, arm=arm)
            r.test_loss, r.test_baseline = mean, 1.0
            rows.append(r)
            fit, found = refit(approach, seed, noisy(mean), arm)
            rows.append(fit)
            paired[fit.run_id] = found
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1, rope=0.02, test_rows=paired)
    assert len(summary.pairs) == 3 and summary.outcome == "learned"
    assert all(p.difference.level == pytest.approx(1 - 0.05 / 3) for p in summary.pairs)
    assert any("(Bonferroni)" in line for line in summary.verdict)


def test_a_search_pairs_its_best_trial_with_the_reference_on_the_test_rows():
    trials = [row("lambda", (a, 2.0), loss) for a, loss in ((0.2, 0.3), (0.4, 0.1), (0.5, 0.1005))]
    for number, trial in enumerate(trials):
        trial.name = f"trial {number} · {trial.name}"
        trial.test_loss, trial.test_baseline = 0.1, 1.0
    reference = row("trainable", (1.0, 1.5), 0.05, learned=(0.5, 2.0))
    reference.test_loss, reference.test_baseline = 0.05, 1.0
    losses = {trials[1].run_id: noisy(0.1), reference.run_id: noisy(0.05)}

    def test_rows(rows):
        return {r.run_id: {"losses": losses[r.run_id]} for r in rows if r.run_id in losses}

    summary = summarize_trials(trials, reference, "random", 0.1, rope=0.02, test_rows=test_rows)
    assert summary.best is trials[1] and summary.trials_to_within_1pct == 2
    assert summary.outcome == "learned"
    assert summary.headline.startswith("Learned alpha is better")
    assert any("training randomness was not measured" in line for line in summary.verdict)
    m = summary.metrics()
    assert m["best_trial_val_loss"] == m["best_fixed_val_loss"] == 0.1
    assert m["best_trainable_val_loss"] == 0.05 and m["trials"] == 3
