"""The verdict's logic in process, from rows built here: statistics, trust, the sweep's and the
search's verdicts, and what they write. No training, no store: each case says what the numbers
must make of it."""

from __future__ import annotations

import csv
import io
import math

import pytest
from scipy import stats as scipy_stats

from alphalab.config.names import Arm
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


def test_a_clear_learned_win_is_conclusive_and_says_by_how_much():
    rows = [row("lambda", (r, 2.2), 0.02 + r / 10) for r in (0.2, 0.6)]
    rows += [row("trainable", (r, 2.2), 0.005, learned=(0.493, 2.0)) for r in (0.2, 0.6)]
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    assert summary.trust.conclusive and summary.outcome == "learned"
    assert summary.headline.startswith("Learned alpha wins: validation loss 0.005 vs 0.04")
    assert "(8.00x lower)" in summary.headline
    m = summary.metrics()
    assert m["best_fixed_val_loss"] == pytest.approx(0.04)
    assert (m["best_fixed_alpha_real"], m["best_fixed_alpha_imag"]) == (0.2, 2.2)
    assert m["best_trainable_val_loss"] == 0.005 and m["trainable_starts_in_best_basin"] == 2
    assert m["conclusive"] == 1.0 and m["failed_runs"] == 0


def test_nothing_beats_the_baseline_so_it_is_inconclusive():
    rows = [row("lambda", (0.2, 1.0), 0.95), row("trainable", (0.2, 1.0), 0.93)]
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    assert summary.outcome == "inconclusive"
    assert summary.headline.startswith("Inconclusive: no approach beats the baseline")
    assert "Taken at face value: Learned alpha wins" in summary.headline


def test_most_runs_unconverged_is_inconclusive():
    rows = [row("lambda", (0.2, 1.0), 0.1, converged=False)]
    rows += [row("trainable", (0.2, 1.0), 0.05, converged=False), row("lambda", (0.6, 1), 0.2)]
    trust = assess(rows, {"best fixed": 0.1, "best learned": 0.05}, margin=0.1)
    assert not trust.conclusive and "2 of 3 runs had not converged" in trust.reasons[0]


def test_a_difference_within_the_seed_noise_is_inconclusive_and_a_large_one_is_not():
    def sweep(fixed_losses, learned_losses):
        rows = [row("lambda", (0.6, 2.2), loss, seed=s) for s, loss in enumerate(fixed_losses)]
        rows += [
            row("trainable", (0.6, 2.2), loss, seed=s, learned=(0.5, 2.0))
            for s, loss in enumerate(learned_losses)
        ]
        return summarize(rows, basin_tolerance=0.05, margin=0.1)

    noisy = sweep([0.5, 0.2, 0.8], [0.45, 0.3, 0.6])  # paired differences 0.05, -0.1, 0.2
    assert noisy.outcome == "inconclusive"
    assert "within the noise" in noisy.headline
    assert "NOT larger than the noise" in noisy.verdict[-1] and "paired t-test" in noisy.verdict[-1]
    clear = sweep([0.5, 0.45, 0.55], [0.05, 0.04, 0.06])  # differences 0.45, 0.41, 0.49
    assert clear.outcome == "learned" and ": larger than the noise" in clear.verdict[-1]


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


def test_a_search_finds_its_best_trial_and_counts_the_trials_to_come_within_1pct():
    trials = [row("lambda", (a, 2.0), loss) for a, loss in ((0.2, 0.3), (0.4, 0.1), (0.5, 0.1005))]
    for number, trial in enumerate(trials):
        trial.name = f"trial {number} · {trial.name}"
    reference = row("trainable", (1.0, 1.5), 0.05, learned=(0.5, 2.0))
    summary = summarize_trials(trials, reference, "random", margin=0.1)
    assert summary.best is trials[1] and summary.trials_to_within_1pct == 2
    assert summary.outcome == "learned"
    m = summary.metrics()
    assert m["best_trial_val_loss"] == m["best_fixed_val_loss"] == 0.1
    assert m["best_trainable_val_loss"] == 0.05 and m["trials"] == 3


def test_the_paired_interval_is_the_hand_computed_one():
    from alphalab.results.arms import arm_results, paired

    fixed = [0.30, 0.25, 0.41, 0.33]
    learned = [0.21, 0.24, 0.30, 0.20]
    rows = [row("lambda", (0.6, 2.2), v, seed=s) for s, v in enumerate(fixed)]
    rows += [row("trainable", (0.6, 2.2), v, seed=s) for s, v in enumerate(learned)]
    for r in rows:  # scored on test rows: the test loss is what is paired
        r.test_loss, r.test_baseline = r.final_val_loss + 0.01, 1.0
    arms = arm_results(rows)
    result = paired(arms[Arm.FIXED], arms[Arm.LEARNED])
    d = [f - g for f, g in zip(fixed, learned, strict=True)]
    mean = sum(d) / 4
    sd = (sum((x - mean) ** 2 for x in d) / 3) ** 0.5
    assert result.units == 4 and result.mean == pytest.approx(mean)
    assert result.half == pytest.approx(scipy_stats.t.ppf(0.975, 3) * sd / 2)
    assert not result.within_noise


def test_each_seed_and_fold_selects_on_its_own_validation_rows_and_is_scored_on_test():
    rows = []
    for fold, (best_start, worse_start) in enumerate(
        [((0.6, 2.2), (1.0, 2.2)), ((1.0, 2.2), (0.6, 2.2))]
    ):
        for start, val, test in ((best_start, 0.1, 0.3), (worse_start, 0.2, 0.15)):
            r = row("lambda", start, val, seed=0)
            r.fold, r.test_loss, r.test_baseline = fold, test, 1.0
            rows.append(r)
        r = row("trainable", (0.2, 1.0), 0.05, learned=(0.5, 2.0))
        r.fold, r.test_loss, r.test_baseline = fold, 0.1, 1.0
        rows.append(r)
    summary = summarize(rows, basin_tolerance=0.05, margin=0.1)
    fixed = summary.arms[Arm.FIXED]
    # each fold picked the cell its validation rows preferred, whatever the test rows say
    assert {u: r.start for u, r in fixed.picks.items()} == {
        (0, 0): Alpha(0.6, 2.2),
        (0, 1): Alpha(1.0, 2.2),
    }
    assert fixed.score[0] == pytest.approx(0.3) and fixed.optimism == pytest.approx(-0.2)
    assert summary.on_test and summary.outcome == "learned"  # 0.2 better in both folds
    m = summary.metrics()
    assert m["best_fixed_test_loss"] == pytest.approx(0.3)
    assert m["best_trainable_test_loss"] == pytest.approx(0.1)
