"""The verdict of a sweep: which approach reached the lower validation loss, by how much, with
which alpha, at what cost, and whether the difference is larger than the seed-to-seed noise."""

from __future__ import annotations

import math
from dataclasses import dataclass

from alphalab.config.spec import Alpha
from alphalab.results.rows import Row
from alphalab.results.stats import Group, best, groups_of, mean_ci


@dataclass
class Summary:
    """What a sweep found: its rows and groups, the best of each approach, and the verdict."""

    rows: list[Row]
    groups: list[Group]
    best_fixed: Group | None
    best_trainable: Group | None
    true_alpha: Alpha | None
    in_basin: dict[str, bool]  # trainable run id -> ended near the best learned alpha
    basin_tolerance: float
    wall_seconds: float
    verdict: list[str]
    headline: str

    @property
    def seeds(self) -> list[int]:
        """The seeds the sweep ran."""
        return sorted({row.seed for row in self.rows})

    def metrics(self) -> dict[str, float]:
        """The parent run's metrics (``best_fixed_*``, ``best_trainable_*``, counts, costs)."""
        out: dict[str, float] = {}
        for label, group in (("fixed", self.best_fixed), ("trainable", self.best_trainable)):
            if group is None:
                continue
            out[f"best_{label}_val_loss"] = group.loss[0]
            alpha = group.start if label == "fixed" else group.learned
            out[f"best_{label}_alpha_real"], out[f"best_{label}_alpha_imag"] = alpha
        out["trainable_starts_in_best_basin"] = sum(self.in_basin.values())
        out["failed_runs"] = sum(1 for row in self.rows if not row.ok)
        out["wall_seconds"] = self.wall_seconds
        for approach in ("lambda", "trainable"):
            spent = [r.seconds for r in self.rows if r.approach == approach and r.ok]
            if spent:
                out[f"{approach}_train_seconds"] = sum(spent)
        return out


def summarize(rows: list[Row], basin_tolerance: float, wall_seconds: float = math.nan) -> Summary:
    """Group a sweep's rows, find the best of each approach and the best basin, and say who won;
    learned alphas within ``basin_tolerance * max(1, |alpha|)`` of the best share its basin."""
    groups = groups_of(rows)
    best_fixed, best_trainable = best(groups, "lambda"), best(groups, "trainable")
    true_alpha = next((row.true_alpha for row in rows if row.true_alpha is not None), None)
    in_basin: dict[str, bool] = {}
    if best_trainable is not None:
        center = best_trainable.learned
        radius = basin_tolerance * max(1.0, abs(complex(*center)))
        for row in rows:
            if row.approach == "trainable" and row.ok:
                in_basin[row.run_id] = row.learned.distance(center) <= radius
    summary = Summary(
        rows,
        groups,
        best_fixed,
        best_trainable,
        true_alpha,
        in_basin,
        basin_tolerance,
        wall_seconds,
        [],
        "",
    )
    summary.headline, summary.verdict = _verdict(summary)
    return summary


def _ratio_text(worse: float, better: float) -> str:
    """``3.70x lower``, or the difference when a ratio means nothing."""
    if better > 0 and math.isfinite(worse / better):
        return f"{worse / better:.2f}x lower"
    return f"lower by {worse - better:.3g}"


def headline(fixed: float, learned: float, fixed_label: str, fixed_winner: str) -> str:
    """Which reached the lower validation loss, and by how much; within 1% is a tie."""
    if abs(fixed - learned) <= 0.01 * min(fixed, learned):
        return (
            f"A tie: the learned alpha and {fixed_label} reach the same validation loss "
            f"({learned:.4g} vs {fixed:.4g}, within 1%)."
        )
    if learned < fixed:
        return (
            f"Learned alpha wins: validation loss {learned:.4g} vs {fixed:.4g} for "
            f"{fixed_label} ({_ratio_text(fixed, learned)})."
        )
    return (
        f"{fixed_winner} wins: validation loss {fixed:.4g} vs {learned:.4g} for the learned "
        f"alpha ({_ratio_text(learned, fixed)})."
    )


def error_text(alpha: Alpha, truth: Alpha | None) -> str:
    """``, |α − α*| = 0.007`` where the true alpha is known."""
    if truth is None:
        return ""
    return f", |α − α*| = {alpha.distance(truth):.3g}"


def truth_and_failures(truth: Alpha | None, rows: list[Row], noun: str) -> list[str]:
    """Verdict lines naming the true alpha and the runs that did not finish."""
    lines = [f"True alpha: {truth}."] if truth is not None else []
    failed = [row for row in rows if not row.ok]
    if failed:
        lines.append(
            f"{len(failed)} {noun}(s) did not finish: "
            + "; ".join(f"{row.name}: {row.error or row.status}" for row in failed[:5])
            + ("; ..." if len(failed) > 5 else "")
            + "."
        )
    return lines


def _verdict(s: Summary) -> tuple[str, list[str]]:
    """The headline and the verdict's lines."""
    lines: list[str] = []
    fixed, learned = s.best_fixed, s.best_trainable
    n_fixed = sum(1 for g in s.groups if g.approach == "lambda")
    n_starts = sum(1 for g in s.groups if g.approach == "trainable")
    if fixed is None and learned is None:
        return "No run finished: nothing to compare.", ["Every run failed; see the table."]
    if fixed is not None and learned is not None:
        title = headline(fixed.loss[0], learned.loss[0], "the best fixed alpha", "Fixed alpha")
    elif fixed is not None:
        title = f"Only fixed-alpha runs: the best reached validation loss {fixed.loss[0]:.4g}."
    else:
        title = f"Only trainable runs: the best reached validation loss {learned.loss[0]:.4g}."

    truth = s.true_alpha

    if fixed is not None:
        lines.append(
            f"Best fixed alpha (of {n_fixed} grid points): {fixed.start}, "
            f"val_loss {fixed.loss[0]:.4g}{error_text(fixed.start, truth)}."
        )
    if learned is not None:
        lines.append(
            f"Best learned alpha: {learned.learned} "
            f"(started at {learned.start}), val_loss {learned.loss[0]:.4g}"
            f"{error_text(learned.learned, truth)}."
        )
        reached = sum(s.in_basin.values())
        finished = len(s.in_basin)
        others = [
            row
            for row in s.rows
            if row.approach == "trainable" and row.ok and not s.in_basin[row.run_id]
        ]
        text = (
            f"{reached} of {finished} trainable runs ({n_starts} starts) reached the best basin "
            f"(within {s.basin_tolerance:g}·max(1,|α|) of {learned.learned})"
        )
        if others:
            worst = max(others, key=lambda r: r.final_val_loss)
            text += (
                f"; the others ended elsewhere, e.g. {worst.learned} from "
                f"{worst.start} with val_loss {worst.final_val_loss:.4g}"
            )
        lines.append(text + ".")
    lines += truth_and_failures(truth, s.rows, "run")
    lines.append(_cost_line(s))
    lines.append(_noise_line(s))
    return title, lines


def _cost_line(s: Summary) -> str:
    """How many runs of each approach, their training time, and the wall time."""
    parts = []
    for approach, label in (("lambda", "fixed"), ("trainable", "trainable")):
        rows = [row for row in s.rows if row.approach == approach]
        if rows:
            spent = sum(row.seconds for row in rows if math.isfinite(row.seconds))
            parts.append(f"{len(rows)} {label} runs, {spent:.1f} s of training")
    wall = f"; wall time {s.wall_seconds:.0f} s" if math.isfinite(s.wall_seconds) else ""
    return "Cost: " + "; ".join(parts) + wall + "."


def _noise_line(s: Summary) -> str:
    """Whether fixed-vs-learned is larger than the seed-to-seed noise (paired over seeds)."""
    fixed, learned = s.best_fixed, s.best_trainable
    if len(s.seeds) < 2:
        return (
            "One seed: the difference is not checked against seed-to-seed noise "
            "(add seed=0,1,2, or use +sweep=alpha_seeds)."
        )
    if fixed is None or learned is None:
        return f"{len(s.seeds)} seeds."
    f_seeds, l_seeds = fixed.by_seed(), learned.by_seed()
    common = sorted(set(f_seeds) & set(l_seeds))
    if len(common) < 2:
        return f"{len(s.seeds)} seeds, but fewer than 2 finished for both best groups."
    diffs = [f_seeds[seed] - l_seeds[seed] for seed in common]
    mean, half = mean_ci(diffs)
    f_mean, f_half = fixed.loss
    l_mean, l_half = learned.loss
    verdict = (
        "larger than the seed-to-seed noise"
        if abs(mean) > half
        else "NOT larger than the seed-to-seed noise"
    )
    return (
        f"Over {len(common)} seeds (mean ± 95% CI): best fixed {f_mean:.4g} ± {f_half:.2g}, "
        f"learned {l_mean:.4g} ± {l_half:.2g}; paired difference (fixed − learned) "
        f"{mean:.3g} ± {half:.2g}: {verdict}."
    )
