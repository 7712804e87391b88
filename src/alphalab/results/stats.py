"""Statistics over rows: seeds grouped per approach and alpha, means with confidence intervals."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from alphalab.config.spec import Alpha
from alphalab.results.rows import Row


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (Student t); nan width for n < 2."""
    if not values:
        return math.nan, math.nan
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan
    from scipy import stats

    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, float(half)


@dataclass
class Group:
    """All seeds of one approach at one start (or fixed) alpha."""

    arm: str
    start: Alpha
    rows: list[Row] = field(default_factory=list)

    @property
    def finished(self) -> list[Row]:
        """The rows the verdict can use."""
        return [row for row in self.rows if row.ok]

    @property
    def loss(self) -> tuple[float, float]:
        """Mean final validation loss over seeds, and its 95% CI half-width."""
        return mean_ci([row.final_val_loss for row in self.finished])

    @property
    def learned(self) -> Alpha:
        """The mean learned alpha over seeds."""
        done = self.finished or self.rows
        return Alpha(
            statistics.fmean(row.learned.real for row in done),
            statistics.fmean(row.learned.imag for row in done),
        )

    def by_seed(self) -> dict[int, float]:
        """Final validation loss per seed."""
        return {row.seed: row.final_val_loss for row in self.finished}


def groups_of(rows: list[Row]) -> list[Group]:
    """Rows grouped by arm and start alpha, in order of first appearance."""
    found: dict[tuple, Group] = {}
    for row in rows:
        key = (row.arm, row.start)
        found.setdefault(key, Group(row.arm, row.start)).rows.append(row)
    return list(found.values())


def best(groups: list[Group], *arms: str) -> Group | None:
    """The group of one of ``arms`` with the lowest mean validation loss."""
    candidates = [g for g in groups if g.arm in arms and g.finished]
    return min(candidates, key=lambda g: g.loss[0]) if candidates else None
