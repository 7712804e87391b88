"""The verdict of a sweep: which answer to "fixed or learned?" did best on rows no selection
saw, by how much, with which alpha, at what cost, and whether the evidence is good enough to say
so.

A sweep has up to four arms: the fixed-alpha grid, learning from the grid's starts, learning from
the best grid cells (``sweep.refine``), and alpha tuned on validation rows (``approach=tuned``).
Every selection (the best cell, the best start) is made on validation rows, per seed and fold;
the arms are compared on test rows (``results.arms``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alphalab.config.names import Approach, Arm, Kind, Verdict
from alphalab.config.spec import Alpha
from alphalab.results.arms import ArmResult, Paired, arm_results, paired
from alphalab.results.rows import Row
from alphalab.results.stats import Group, best, groups_of
from alphalab.results.trust import Trust, assess
from alphalab.results.wording import error_text, qualified, ratio_text, truth_and_failures

LEARNING = (Arm.LEARNED, Arm.REFINED)  # the arms that learn alpha by backpropagation
LABELS = {
    Arm.FIXED: "best fixed alpha",
    Arm.LEARNED: "learned alpha (from the grid's starts)",
    Arm.REFINED: "learned alpha (from the best grid cells)",
    Arm.TUNED: "alpha tuned on validation",
}


@dataclass
class Summary:
    """What a sweep found: its rows and groups, each arm's answer, and the verdict."""

    rows: list[Row]
    groups: list[Group]
    best_fixed: Group | None
    best_trainable: Group | None  # the best learned alpha, whichever learning arm it came from
    best_refined: Group | None
    true_alpha: Alpha | None
    in_basin: dict[str, bool]  # trainable run id -> ended near the best learned alpha
    basin_tolerance: float
    wall_seconds: float
    trust: Trust
    arms: dict[Arm, ArmResult]
    contenders: list[Arm]  # fixed, the learning arm validation prefers, tuned: best first
    paired: Paired | None  # the best contender against the second
    verdict: list[str]
    headline: str

    @property
    def seeds(self) -> list[int]:
        """The seeds the sweep ran."""
        return sorted({row.seed for row in self.rows})

    @property
    def on_test(self) -> bool:
        """Whether the arms are compared on test rows."""
        return bool(self.arms) and all(a.on_test for a in self.arms.values())

    @property
    def outcome(self) -> str:
        """``learned``, ``fixed``, ``tuned``, ``tie`` or ``inconclusive``."""
        if not self.trust.conclusive or len(self.contenders) < 2:
            return Verdict.INCONCLUSIVE
        first, second = (self.arms[a].score[0] for a in self.contenders[:2])
        if abs(first - second) <= 0.01 * min(first, second):
            return Verdict.TIE
        return {Arm.FIXED: Verdict.FIXED, Arm.TUNED: Verdict.TUNED}.get(
            self.contenders[0], Verdict.LEARNED
        )

    def metrics(self) -> dict[str, float]:
        """The parent run's metrics (``best_fixed_*``, ``best_trainable_*``, counts, costs)."""
        out: dict[str, float] = {}
        best_tuned = best(self.groups, Arm.TUNED)
        for label, group in (
            (Arm.FIXED, self.best_fixed),
            (Approach.TRAINABLE, self.best_trainable),  # the best of every arm that learns
            (Arm.REFINED, self.best_refined),
            (Arm.TUNED, best_tuned),
        ):
            if group is None:
                continue
            out[f"best_{label}_val_loss"] = group.loss[0]
            alpha = group.start if label == Arm.FIXED else group.learned
            out[f"best_{label}_alpha_real"], out[f"best_{label}_alpha_imag"] = alpha
        if self.on_test:
            learner = next((a for a in self.contenders if a in LEARNING), None)
            for label, arm in (("fixed", Arm.FIXED), ("trainable", learner), ("tuned", Arm.TUNED)):
                if arm in self.arms:
                    out[f"best_{label}_test_loss"] = self.arms[arm].score[0]
                    out[f"{label}_optimism"] = self.arms[arm].optimism
        out["trainable_starts_in_best_basin"] = sum(self.in_basin.values())
        out["failed_runs"] = sum(1 for row in self.rows if not row.ok)
        out["wall_seconds"] = self.wall_seconds
        for approach in Approach:
            spent = [r.seconds for r in self.rows if r.approach == approach and r.ok]
            if spent:
                out[f"{approach}_train_seconds"] = sum(spent)
        if self.paired is not None and self.paired.checked:
            out["paired_difference"], out["paired_half_width"] = self.paired.mean, self.paired.half
        return {**out, **self.trust.metrics()}


def contenders(arms: dict[Arm, ArmResult]) -> list[Arm]:
    """The arms the headline compares, best first: the fixed grid, the learning arm the
    validation rows prefer (choosing it on test rows would be one more selection), tuned."""
    learners = [a for a in LEARNING if a in arms]
    chosen = [Arm.FIXED] if Arm.FIXED in arms else []
    if learners:
        chosen.append(min(learners, key=lambda a: arms[a].selected_val_loss))
    if Arm.TUNED in arms:
        chosen.append(Arm.TUNED)
    return sorted(chosen, key=lambda a: arms[a].score[0])


def summarize(
    rows: list[Row], basin_tolerance: float, margin: float, wall_seconds: float = math.nan
) -> Summary:
    """Group a sweep's rows, select each arm's runs on validation rows, score them on test
    rows, find the best basin, weigh the evidence and say who won; learned alphas within
    ``basin_tolerance * max(1, |alpha|)`` of the best share its basin; a result counts when it
    is ``margin`` below the baseline."""
    groups = groups_of([r for r in rows if r.kind != Kind.CONTINUE])  # the grid and its starts
    best_fixed, best_trainable = best(groups, Arm.FIXED), best(groups, *LEARNING)
    true_alpha = next((row.true_alpha for row in rows if row.true_alpha is not None), None)
    in_basin: dict[str, bool] = {}
    if best_trainable is not None:
        center = best_trainable.learned
        radius = basin_tolerance * max(1.0, abs(complex(*center)))
        for row in rows:
            if (
                row.approach == Approach.TRAINABLE
                and row.ok
                and row.kind != Kind.CONTINUE
                and row.pruned is None  # a pruned run stopped before it could arrive
            ):
                in_basin[row.run_id] = row.learned.distance(center) <= radius
    arms = arm_results(rows)
    order = contenders(arms)
    on_test = bool(arms) and all(a.on_test for a in arms.values())
    scores = {LABELS[a]: arms[a].score[0] for a in order}
    trust = assess(rows, scores, margin, on_test)
    pair = paired(arms[order[0]], arms[order[1]]) if len(order) > 1 else None
    if pair is not None and pair.within_noise:
        trust.reasons.append("the difference is within the noise")
    summary = Summary(
        rows, groups, best_fixed, best_trainable, best(groups, Arm.REFINED), true_alpha,
        in_basin, basin_tolerance, wall_seconds, trust, arms, order, pair, [], "",
    )  # fmt: skip
    summary.headline, summary.verdict = _verdict(summary)
    return summary


WINS = {Arm.FIXED: "Fixed alpha", Arm.TUNED: "Alpha tuned on validation"}  # else learned
AGAINST = {Arm.FIXED: "the best fixed alpha", Arm.TUNED: "the alpha tuned on validation"}


def _face_value(s: Summary) -> str:
    metric = "test loss" if s.on_test else "validation loss"
    if len(s.contenders) < 2:
        (only,) = s.contenders
        return f"Only {LABELS[only]} runs: {metric} {s.arms[only].score[0]:.4g}."
    first, second = s.contenders[:2]
    won, lost = s.arms[first].score[0], s.arms[second].score[0]
    against = AGAINST.get(second, "the learned alpha")
    if abs(won - lost) <= 0.01 * min(won, lost):
        name = AGAINST.get(first, "the learned alpha")
        return (
            f"A tie: {name} and {against} reach the same {metric} ({won:.4g} vs {lost:.4g}, "
            "within 1%)."
        )
    return (
        f"{WINS.get(first, 'Learned alpha')} wins: {metric} {won:.4g} vs {lost:.4g} for "
        f"{against} ({ratio_text(lost, won)})."
    )


def _arm_lines(s: Summary) -> list[str]:
    """One line per arm: what it selected, how that did on unseen rows, its budget; where the
    learned alphas ended."""
    truth, lines = s.true_alpha, []
    by_id = {row.run_id: row for row in s.rows}
    units = len({u for a in s.arms.values() for u in a.picks})
    per = "per seed and fold" if units > 1 else "on the validation rows"
    for arm, result in sorted(s.arms.items(), key=lambda item: item[1].score[0]):
        mean, half = result.score
        alpha = result.alpha
        count = sum(1 for g in s.groups if g.arm == arm)
        figure = f"test loss {mean:.4g}" if result.on_test else f"val_loss {mean:.4g}"
        if math.isfinite(half):
            figure += f" ± {half:.2g}"
        text = (
            f"{LABELS[arm].capitalize()}: the best of {count} chosen {per} (val_loss "
            f"{result.selected_val_loss:.4g}), {figure}"
        )
        if result.on_test:
            text += f", optimism (val - test) {result.optimism:+.3g}"
        text += f"; {alpha}{error_text(alpha, truth)}; {result.epochs(by_id):.0f} epochs."
        lines.append(text)
    budgets = {round(r.epochs(by_id)) for r in s.arms.values()}
    if len(budgets) > 1:
        lines.append(
            "Unequal budgets: the arms trained different numbers of epochs (a refinement "
            "counts its warm start's); a longer budget can win by training longer."
        )
    if not s.on_test and Arm.FIXED in s.arms:
        lines.append(
            "No test rows (task.test_split=0): every figure is on the validation rows the "
            "selection was made on, which flatters the arm with the most candidates."
        )
    if s.best_trainable is not None:
        center = s.best_trainable.learned
        text = (
            f"{sum(s.in_basin.values())} of {len(s.in_basin)} trainable runs reached the best basin"
            f" (within {s.basin_tolerance:g}·max(1,|α|) of {center})"
        )
        others = [row for row in s.rows if row.run_id in s.in_basin and not s.in_basin[row.run_id]]
        if others:
            worst = max(others, key=lambda r: r.final_val_loss)
            text += (
                f"; the others ended elsewhere, e.g. {worst.learned} from "
                f"{worst.start} with val_loss {worst.final_val_loss:.4g}"
            )
        lines.append(text + ".")
    return lines


def _noise_line(s: Summary) -> str:
    """What the paired test says, or that nothing checked the noise."""
    if s.paired is None:
        return "One arm only: nothing to compare."
    if not s.paired.checked:
        return (
            "One seed and one fold: nothing checked the noise (add seed=0,1,2, or "
            "task.folds=5, or use +sweep=alpha_seeds)."
        )
    first, second = (LABELS[a] for a in s.contenders[:2])
    verdict = "NOT larger than the noise" if s.paired.within_noise else "larger than the noise"
    return (
        f"Paired over {s.paired.units} seed x fold units ({Paired.TEST}): {first} minus "
        f"{second} {s.paired.mean:+.3g} ± {s.paired.half:.2g}: {verdict}."
    )


def _verdict(s: Summary) -> tuple[str, list[str]]:
    """The headline and the verdict's lines."""
    if not s.arms:
        return "No run finished: nothing to compare.", ["Every run failed; see the table."]
    scored = {LABELS[a]: s.arms[a].score[0] for a in s.contenders}
    lines = _arm_lines(s) + s.trust.lines(scored)
    lines += truth_and_failures(s.true_alpha, s.rows, "run")
    lines.append(_cost_line(s))
    pruning = _pruning_line(s)
    if pruning:
        lines.append(pruning)
    lines.append(_noise_line(s))
    return qualified(_face_value(s), s.trust), lines


def _pruning_line(s: Summary) -> str:
    """How many runs of each arm a rung stopped, and after which epochs (None: no pruning)."""
    pruned = [row for row in s.rows if row.pruned is not None]
    if not pruned:
        return ""
    parts = []
    for arm in Arm:
        mine = [row for row in s.rows if row.arm == arm and row.kind == Kind.RUN]
        stopped = sorted({row.pruned for row in pruned if row.arm == arm})
        if mine:
            count = sum(1 for row in pruned if row.arm == arm)
            at = f" (after epoch {', '.join(map(str, stopped))})" if stopped else ""
            parts.append(f"{arm} {count} of {len(mine)}{at}")
    return (
        "Pruned (sweep.prune, successive halving on validation rows within each arm, seed and "
        f"fold): {'; '.join(parts)}; pruned runs are FINISHED with tag alphalab.pruned and are "
        "not selected while a run of their arm trained its whole budget."
    )


def _cost_line(s: Summary) -> str:
    """How many runs of each arm, their training time, and the wall time."""
    parts = []
    for arm in Arm:
        for kind, label in ((Kind.RUN, ""), (Kind.REFINE, ""), (Kind.CONTINUE, " continued")):
            rows = [row for row in s.rows if row.arm == arm and row.kind == kind]
            if rows:
                spent = sum(row.seconds for row in rows if math.isfinite(row.seconds))
                parts.append(f"{len(rows)} {arm}{label} runs, {spent:.1f} s of training")
    wall = f"; wall time {s.wall_seconds:.0f} s" if math.isfinite(s.wall_seconds) else ""
    return "Cost: " + "; ".join(parts) + wall + "."
