"""Each arm's answer measured on rows no selection saw, and the paired test between two arms.

A sweep is a set of units, one per seed and fold. In every unit each arm selects its best run on
the validation rows (nested: a fold's choice never sees another fold's scores); the arm's figure
is the mean over units of the selected runs' test loss (their validation loss when the task has
no test rows), with a 95% interval over units. Two arms are compared by their paired differences
over the same units (Student's t), so the noise of the split, the seed and the fold is measured,
not assumed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from alphalab.config.names import Arm, Kind
from alphalab.config.spec import Alpha
from alphalab.results.rows import Row
from alphalab.results.stats import mean_ci

Unit = tuple[int, int]  # (seed, fold)


def unit_of(row: Row) -> Unit:
    """The seed and fold a run belongs to."""
    return (row.seed, row.fold or 0)


@dataclass
class ArmResult:
    """What one arm selected in every unit, and how that did on rows it never saw."""

    arm: Arm
    picks: dict[Unit, Row] = field(default_factory=dict)

    @property
    def on_test(self) -> bool:
        """Whether the selected runs were scored on test rows."""
        return all(math.isfinite(row.test_loss) for row in self.picks.values())

    def scores(self) -> dict[Unit, float]:
        """Per unit: the selected run's test loss (validation loss without test rows)."""
        key = "test_loss" if self.on_test else "final_val_loss"
        return {unit: getattr(row, key) for unit, row in self.picks.items()}

    @property
    def score(self) -> tuple[float, float]:
        """The arm's figure: mean over units and the half-width of its 95% interval."""
        return mean_ci(list(self.scores().values()))

    @property
    def alpha(self) -> Alpha:
        """The alpha the arm answers with: the fixed alpha chosen most often, or the mean of
        the selected runs' learned alphas."""
        rows = list(self.picks.values())
        if self.arm == Arm.FIXED:
            starts = [row.start for row in rows]
            return max(starts, key=starts.count)
        return Alpha(
            statistics.fmean(r.learned.real for r in rows),
            statistics.fmean(r.learned.imag for r in rows),
        )

    @property
    def selected_val_loss(self) -> float:
        """The mean validation loss of the selected runs (what selected them)."""
        return statistics.fmean(row.final_val_loss for row in self.picks.values())

    @property
    def optimism(self) -> float:
        """How much the validation rows flattered the selection: selected val_loss - test loss
        (nan without test rows)."""
        if not self.on_test:
            return math.nan
        return statistics.fmean(r.final_val_loss - r.test_loss for r in self.picks.values())

    def epochs(self, rows_by_id: dict[str, Row]) -> float:
        """The mean training budget of the selected runs in epochs, a warm start's included."""
        budgets = []
        for row in self.picks.values():
            source = rows_by_id.get(row.warm_start) if row.warm_start else None
            budgets.append(row.epochs + (source.epochs if source is not None else 0))
        return statistics.fmean(budgets)


def arm_results(rows: list[Row]) -> dict[Arm, ArmResult]:
    """Every arm present: in each unit, its run with the lowest validation loss (one that
    trained its whole budget before any a rung pruned). Where a unit's choice was trained on as
    long again (kind ``continue``: equal budgets), the continued run stands for it."""
    out: dict[Arm, ArmResult] = {}
    continued = {(row.arm, unit_of(row)) for row in rows if row.ok and row.kind == Kind.CONTINUE}
    for row in rows:
        if not row.ok or ((row.arm, unit_of(row)) in continued) != (row.kind == Kind.CONTINUE):
            continue
        result = out.setdefault(row.arm, ArmResult(row.arm))
        unit = unit_of(row)
        chosen = result.picks.get(unit)
        if chosen is None or _ranked(row) < _ranked(chosen):
            result.picks[unit] = row
    return out


def _ranked(row: Row) -> tuple[bool, float]:
    """How a selection orders runs: whole budgets first, then by validation loss."""
    return (row.pruned is not None, row.final_val_loss)


@dataclass
class Paired:
    """The paired differences (first arm minus second) over the units both arms have."""

    units: int
    mean: float
    half: float  # of the 95% interval (nan for one unit)

    TEST = "a paired t-test: Student's t on the differences, 95% interval"

    @property
    def checked(self) -> bool:
        """Whether there were enough units to measure the noise."""
        return self.units >= 2 and math.isfinite(self.half)

    @property
    def within_noise(self) -> bool:
        """Whether the interval contains 0."""
        return self.checked and abs(self.mean) <= self.half


def paired(first: ArmResult, second: ArmResult) -> Paired:
    """``first`` minus ``second``, unit by unit."""
    a, b = first.scores(), second.scores()
    common = sorted(set(a) & set(b))
    mean, half = mean_ci([a[u] - b[u] for u in common])
    return Paired(len(common), mean, half)
