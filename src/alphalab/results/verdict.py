"""The verdict of a sweep: which approach reached the lower validation loss, by how much, with
which alpha, at what cost, and whether the evidence is good enough to say so.

A sweep has up to three arms: the fixed-alpha grid, learning from the grid's starts, and
learning from the best grid cells (``sweep.refine``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alphalab.config.names import Approach, Arm, Verdict
from alphalab.config.spec import Alpha
from alphalab.results.rows import Row
from alphalab.results.stats import Group, best, groups_of, mean_ci
from alphalab.results.trust import Trust, assess
from alphalab.results.wording import error_text, headline, outcome, qualified, truth_and_failures


@dataclass
class Summary:
    """What a sweep found: its rows and groups, the best of each arm, and the verdict."""

    rows: list[Row]
    groups: list[Group]
    best_fixed: Group | None
    best_trainable: Group | None  # the best learned alpha, whichever arm it came from
    best_refined: Group | None
    true_alpha: Alpha | None
    in_basin: dict[str, bool]  # trainable run id -> ended near the best learned alpha
    basin_tolerance: float
    wall_seconds: float
    trust: Trust
    verdict: list[str]
    headline: str

    @property
    def seeds(self) -> list[int]:
        """The seeds the sweep ran."""
        return sorted({row.seed for row in self.rows})

    @property
    def outcome(self) -> str:
        """``learned``, ``fixed``, ``tie`` or ``inconclusive`` (also when an arm is missing)."""
        if not self.trust.conclusive or self.best_fixed is None or self.best_trainable is None:
            return Verdict.INCONCLUSIVE
        return outcome(self.best_fixed.loss[0], self.best_trainable.loss[0])

    def metrics(self) -> dict[str, float]:
        """The parent run's metrics (``best_fixed_*``, ``best_trainable_*``, counts, costs)."""
        out: dict[str, float] = {}
        for label, group in (
            (Arm.FIXED, self.best_fixed),
            (Approach.TRAINABLE, self.best_trainable),  # the best of every arm that learns
            (Arm.REFINED, self.best_refined),
        ):
            if group is None:
                continue
            out[f"best_{label}_val_loss"] = group.loss[0]
            alpha = group.start if label == Arm.FIXED else group.learned
            out[f"best_{label}_alpha_real"], out[f"best_{label}_alpha_imag"] = alpha
        out["trainable_starts_in_best_basin"] = sum(self.in_basin.values())
        out["failed_runs"] = sum(1 for row in self.rows if not row.ok)
        out["wall_seconds"] = self.wall_seconds
        for approach in Approach:
            spent = [r.seconds for r in self.rows if r.approach == approach and r.ok]
            if spent:
                out[f"{approach}_train_seconds"] = sum(spent)
        return {**out, **self.trust.metrics()}


def summarize(
    rows: list[Row], basin_tolerance: float, margin: float, wall_seconds: float = math.nan
) -> Summary:
    """Group a sweep's rows, find the best of each arm and the best basin, weigh the evidence
    and say who won; learned alphas within ``basin_tolerance * max(1, |alpha|)`` of the best
    share its basin; a best result counts when it is ``margin`` below the baseline."""
    groups = groups_of(rows)
    best_fixed, best_trainable = best(groups, Arm.FIXED), best(groups, Arm.LEARNED, Arm.REFINED)
    true_alpha = next((row.true_alpha for row in rows if row.true_alpha is not None), None)
    in_basin: dict[str, bool] = {}
    if best_trainable is not None:
        center = best_trainable.learned
        radius = basin_tolerance * max(1.0, abs(complex(*center)))
        for row in rows:
            if row.approach == Approach.TRAINABLE and row.ok:
                in_basin[row.run_id] = row.learned.distance(center) <= radius
    scores = {"best fixed": best_fixed, "best learned": best_trainable}
    trust = assess(rows, {k: g.loss[0] for k, g in scores.items() if g is not None}, margin)
    summary = Summary(
        rows,
        groups,
        best_fixed,
        best_trainable,
        best(groups, Arm.REFINED),
        true_alpha,
        in_basin,
        basin_tolerance,
        wall_seconds,
        trust,
        [],
        "",
    )
    noise = _noise(summary)
    if noise is not None and "NOT larger" in noise:
        trust.reasons.append("the difference is within the seed-to-seed noise")
    summary.headline, summary.verdict = _verdict(summary, noise)
    return summary


def _face_value(s: Summary) -> str:
    fixed, learned = s.best_fixed, s.best_trainable
    if fixed is not None and learned is not None:
        return headline(fixed.loss[0], learned.loss[0], "the best fixed alpha", "Fixed alpha")
    if fixed is not None:
        return f"Only fixed-alpha runs: the best reached validation loss {fixed.loss[0]:.4g}."
    return f"Only trainable runs: the best reached validation loss {learned.loss[0]:.4g}."


def _arm_lines(s: Summary) -> list[str]:
    """One line per arm: its best result, and where the learned alphas ended."""
    truth, lines = s.true_alpha, []
    counts = {
        arm: sum(1 for g in s.groups if g.arm == arm)
        for arm in (Arm.FIXED, Arm.LEARNED, Arm.REFINED)
    }
    fixed = s.best_fixed
    if fixed is not None:
        cells = counts[Arm.FIXED]
        chosen = (
            f"the best of {cells} grid points on these validation rows, which flatters it"
            if cells > 1
            else "the only grid point"
        )
        lines.append(
            f"Best fixed alpha ({chosen}): {fixed.start}, "
            f"val_loss {fixed.loss[0]:.4g}{error_text(fixed.start, truth)}."
        )
    for arm, label in (
        (Arm.LEARNED, "from the grid's starts"),
        (Arm.REFINED, "from the best grid cells"),
    ):
        group = best(s.groups, arm)
        if group is None:
            continue
        lines.append(
            f"Best learned alpha {label} (of {counts[arm]}): {group.learned} (started at "
            f"{group.start}), val_loss {group.loss[0]:.4g}{error_text(group.learned, truth)}."
        )
    if s.best_trainable is not None:
        center = s.best_trainable.learned
        others = [
            row
            for row in s.rows
            if row.approach == Approach.TRAINABLE and row.ok and not s.in_basin[row.run_id]
        ]
        text = (
            f"{sum(s.in_basin.values())} of {len(s.in_basin)} trainable runs reached the best basin"
            f" (within {s.basin_tolerance:g}·max(1,|α|) of {center})"
        )
        if others:
            worst = max(others, key=lambda r: r.final_val_loss)
            text += (
                f"; the others ended elsewhere, e.g. {worst.learned} from "
                f"{worst.start} with val_loss {worst.final_val_loss:.4g}"
            )
        lines.append(text + ".")
    return lines


def _verdict(s: Summary, noise: str | None) -> tuple[str, list[str]]:
    """The headline and the verdict's lines."""
    if s.best_fixed is None and s.best_trainable is None:
        return "No run finished: nothing to compare.", ["Every run failed; see the table."]
    best_losses = {"best fixed": s.best_fixed, "best learned": s.best_trainable}
    scored = {k: g.loss[0] for k, g in best_losses.items() if g is not None}
    lines = _arm_lines(s) + s.trust.lines(scored)
    lines += truth_and_failures(s.true_alpha, s.rows, "run")
    lines.append(_cost_line(s))
    lines.append(
        noise
        or "One seed: the difference is not checked against seed-to-seed noise "
        "(add seed=0,1,2, or use +sweep=alpha_seeds)."
    )
    return qualified(_face_value(s), s.trust), lines


def _cost_line(s: Summary) -> str:
    """How many runs of each arm, their training time, and the wall time."""
    parts = []
    for arm, label in (
        (Arm.FIXED, "fixed"),
        (Arm.LEARNED, "trainable"),
        (Arm.REFINED, "refinement"),
    ):
        rows = [row for row in s.rows if row.arm == arm]
        if rows:
            spent = sum(row.seconds for row in rows if math.isfinite(row.seconds))
            parts.append(f"{len(rows)} {label} runs, {spent:.1f} s of training")
    wall = f"; wall time {s.wall_seconds:.0f} s" if math.isfinite(s.wall_seconds) else ""
    return "Cost: " + "; ".join(parts) + wall + "."


def _noise(s: Summary) -> str | None:
    """Whether fixed-vs-learned is larger than the seed-to-seed noise (paired over seeds);
    None with one seed."""
    fixed, learned = s.best_fixed, s.best_trainable
    if len(s.seeds) < 2:
        return None
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
