"""The verdict of a sweep: which answer to "fixed or learned?" is better on rows no choice saw,
by how much with an interval that covers its noise, or that they are practically equivalent, or
that the evidence is not enough; with which alpha, and at what cost.

A sweep has up to four arms: the fixed-alpha grid, learning from the grid's starts, learning from
the best grid cells (``sweep.refine``), and alpha tuned on validation rows (``approach=tuned``).
Each arm chooses one configuration on validation rows and refits it per seed (``results.arms``);
the headline compares the fixed arm, the learning arm the validation rows prefer, and tuned, pair
by pair on the test rows (``results.interval``), against the ROPE ``verdict.rope``; with three
arms each pair's interval is Bonferroni-corrected, so that all hold together at 95%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

from alphalab.config.names import Approach, Arm, Verdict
from alphalab.config.spec import Alpha
from alphalab.results.arms import ArmResult, arm_results, evidence
from alphalab.results.interval import Decision, Difference, relative_difference
from alphalab.results.rows import Row
from alphalab.results.stats import Group, best, groups_of
from alphalab.results.trust import Trust, assess, why_inconclusive
from alphalab.results.verdict_lines import LEARNING, verdict_lines

LEVEL = 0.95  # of the verdict's intervals together


@dataclass
class Pair:
    """Two arms compared on their refits' test rows: ``better`` has the lower test loss."""

    better: Arm
    worse: Arm
    difference: Difference | None  # None: no seed with both arms' test rows
    decision: Decision = Decision.UNDECIDED  # FIRST: ``better`` is better beyond the ROPE


@dataclass
class Summary:
    """What a sweep found: its rows and configurations, each arm's answer, and the verdict."""

    rows: list[Row]
    groups: list[Group]  # the candidates: every configuration of every arm
    best_fixed: Group | None
    best_trainable: Group | None  # the learning arm's choice the validation rows prefer
    best_refined: Group | None
    true_alpha: Alpha | None
    in_basin: dict[str, bool]  # trainable run id -> ended near the best learned alpha
    basin_tolerance: float
    wall_seconds: float
    trust: Trust
    arms: dict[Arm, ArmResult]
    contenders: list[Arm]  # fixed, the learning arm validation prefers, tuned: by validation
    pairs: list[Pair]
    rope: float
    verdict: list[str] = field(default_factory=list)
    headline: str = ""

    @property
    def seeds(self) -> list[int]:
        """The seeds the sweep ran."""
        return sorted({row.seed for row in self.rows})

    @property
    def grid_rows(self) -> list[Row]:
        """The candidates' runs (not the refits)."""
        return [row for row in self.rows if row.in_grid]

    @property
    def on_test(self) -> bool:
        """Whether the arms are compared on test rows."""
        return bool(self.arms) and all(a.on_test for a in self.arms.values())

    @property
    def winner(self) -> Arm | None:
        """The contender better than every other beyond the ROPE, if one is."""
        for arm in self.contenders:
            mine = [p for p in self.pairs if arm in (p.better, p.worse)]
            if mine and all(p.better == arm and p.decision == Decision.FIRST for p in mine):
                return arm
        return None

    @property
    def outcome(self) -> str:
        """``learned``, ``fixed``, ``tuned``, ``equivalent`` or ``inconclusive``."""
        if not self.trust.conclusive or len(self.contenders) < 2 or not self.on_test:
            return Verdict.INCONCLUSIVE
        if all(p.decision == Decision.EQUIVALENT for p in self.pairs):
            return Verdict.EQUIVALENT
        winner = self.winner
        if winner is None:
            return Verdict.INCONCLUSIVE
        return {Arm.FIXED: Verdict.FIXED, Arm.TUNED: Verdict.TUNED}.get(winner, Verdict.LEARNED)

    @property
    def reasons(self) -> list[str]:
        """Why the verdict is inconclusive (nothing when it is not)."""
        return why_inconclusive(self.outcome, self.trust, self.headline)

    @property
    def learner(self) -> Arm | None:
        """The learning arm the headline compares."""
        return next((a for a in self.contenders if a in LEARNING), None)

    def pair(self, first: Arm, second: Arm) -> Pair | None:
        """The comparison of two arms, if they were compared."""
        return next((p for p in self.pairs if {p.better, p.worse} == {first, second}), None)

    def versus(self, first: Arm, second: Arm) -> Difference | None:
        """``first``'s test loss relative to ``second``'s with the verdict's interval (None: the
        two were not compared on test rows)."""
        pair = self.pair(first, second)
        if pair is None or pair.difference is None:
            return None
        return _oriented(self, first, second)

    def metrics(self) -> dict[str, float]:
        """The parent run's metrics (``best_fixed_*``, ``best_trainable_*``, the interval)."""
        out: dict[str, float] = {}
        for label, arm in (
            ("fixed", Arm.FIXED),
            (Approach.TRAINABLE, self.learner),  # the learning arm the validation prefers
            ("refined", Arm.REFINED),
            ("tuned", Arm.TUNED),
        ):
            if arm not in self.arms:
                continue
            result = self.arms[arm]
            out[f"best_{label}_val_loss"] = result.selected_val_loss
            out[f"best_{label}_alpha_real"], out[f"best_{label}_alpha_imag"] = result.alpha
            if result.on_test:
                out[f"best_{label}_test_loss"] = result.score[0]
                out[f"{label}_optimism"] = result.optimism
        for label, arm in (("learned", self.learner), ("tuned", Arm.TUNED)):
            pair = self.pair(arm, Arm.FIXED) if arm is not None else None
            if pair is not None and pair.difference is not None and arm != Arm.FIXED:
                difference = _oriented(self, arm, Arm.FIXED)
                out[f"{label}_vs_fixed"] = difference.estimate
                out[f"{label}_vs_fixed_low"], out[f"{label}_vs_fixed_high"] = (
                    difference.low,
                    difference.high,
                )
        out["rope"] = self.rope
        out["trainable_starts_in_best_basin"] = sum(self.in_basin.values())
        out["failed_runs"] = sum(1 for row in self.rows if not row.ok)
        out["wall_seconds"] = self.wall_seconds
        for approach in Approach:
            spent = [r.seconds for r in self.rows if r.approach == approach and r.ok]
            if spent:
                out[f"{approach}_train_seconds"] = sum(x for x in spent if math.isfinite(x))
        conclusive = float(self.outcome != Verdict.INCONCLUSIVE)
        return {**out, **self.trust.metrics(), "conclusive": conclusive}


def _oriented(s: Summary, first: Arm, second: Arm) -> Difference:
    """``first``'s test loss relative to ``second``'s, with the pair's interval level."""
    pair = s.pair(first, second)
    level = pair.difference.level
    return relative_difference(evidence(s.arms[first], s.arms[second]), level)


def contenders(arms: dict[Arm, ArmResult]) -> list[Arm]:
    """The arms the headline compares, by validation loss: the fixed grid, the learning arm the
    validation rows prefer (choosing it on test rows would be one more selection), tuned."""
    learners = [a for a in LEARNING if a in arms]
    chosen = [Arm.FIXED] if Arm.FIXED in arms else []
    if learners:
        chosen.append(min(learners, key=lambda a: arms[a].selected_val_loss))
    if Arm.TUNED in arms:
        chosen.append(Arm.TUNED)
    return sorted(chosen, key=lambda a: arms[a].selected_val_loss)


def compare(first: ArmResult, second: ArmResult, level: float, rope: float) -> Pair:
    """The two arms' refits paired on their test rows, the better one first."""
    found = evidence(first, second)
    if not found:
        return Pair(first.arm, second.arm, None)
    difference = relative_difference(found, level)
    if difference.estimate > 0:  # the second is better: say it that way round
        first, second = second, first
        difference = relative_difference(evidence(first, second), level)
    return Pair(first.arm, second.arm, difference, difference.decide(rope))


def summarize(
    rows: list[Row],
    basin_tolerance: float,
    margin: float,
    wall_seconds: float = math.nan,
    rope: float = 0.02,
    test_rows: dict[str, dict] | None = None,
) -> Summary:
    """Group a sweep's candidates into configurations, take each arm's choice with its refits
    (``test_rows``: each refit's per-row test losses by run id), find the best basin, weigh the
    evidence and decide; learned alphas within ``basin_tolerance * max(1, |alpha|)`` of the
    best share its basin; a result counts when it is ``margin`` below the baseline."""
    grid = [r for r in rows if r.in_grid]
    groups = groups_of(grid)
    chosen = {arm: group for arm in Arm if (group := best(groups, arm)) is not None}
    arms = arm_results(rows, chosen, test_rows or {})
    order = contenders(arms)
    best_trainable = next((chosen[a] for a in order if a in LEARNING), None)
    in_basin: dict[str, bool] = {}
    if best_trainable is not None:
        center = best_trainable.learned
        radius = basin_tolerance * max(1.0, abs(complex(*center)))
        for row in grid:  # a pruned run stopped before it could arrive
            if row.approach == Approach.TRAINABLE and row.ok and row.pruned is None:
                in_basin[row.run_id] = row.learned.distance(center) <= radius
    on_test = bool(arms) and all(a.on_test for a in arms.values())
    scores = {arm: arms[arm].score[0] for arm in order}
    trust = assess(rows, scores, margin, on_test)
    comparisons = list(combinations(order, 2))
    level = 1 - (1 - LEVEL) / max(1, len(comparisons))  # Bonferroni
    pairs = [compare(arms[a], arms[b], level, rope) for a, b in comparisons] if on_test else []
    summary = Summary(
        rows, groups, chosen.get(Arm.FIXED), best_trainable, chosen.get(Arm.REFINED),
        next((r.true_alpha for r in rows if r.true_alpha is not None), None),
        in_basin, basin_tolerance, wall_seconds, trust, arms, order, pairs, rope,
    )  # fmt: skip
    summary.headline, summary.verdict = verdict_lines(summary)
    return summary
