"""Statistics over rows: a configuration's runs over seeds and folds grouped (approach and
alpha), means with confidence intervals, and each arm's one choice, as scikit-learn's
GridSearchCV makes it: the configuration with the lowest mean validation loss over every fold and
seed (``rank_test_score``), among those that trained every fold and seed to the end."""

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
    """All runs (seeds and folds) of one arm at one start (or fixed) alpha: a configuration."""

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
        """Mean final validation loss per seed (over its folds)."""
        losses: dict[int, list[float]] = {}
        for row in self.finished:
            losses.setdefault(row.seed, []).append(row.final_val_loss)
        return {seed: statistics.fmean(values) for seed, values in losses.items()}

    @property
    def whole(self) -> int:
        """How many of its runs finished their whole budget (not stopped by a rung)."""
        return sum(1 for row in self.finished if row.pruned is None)

    def rank(self, units: int) -> tuple[int, float]:
        """How a choice orders configurations: those that trained every one of the arm's
        ``units`` (seed x fold) to the end first, then by mean validation loss."""
        return (units - self.whole, self.loss[0])


def groups_of(rows: list[Row]) -> list[Group]:
    """Rows grouped by arm and start alpha, in order of first appearance."""
    found: dict[tuple, Group] = {}
    for row in rows:
        key = (row.arm, row.start)
        found.setdefault(key, Group(row.arm, row.start)).rows.append(row)
    return list(found.values())


def best(groups: list[Group], *arms: str) -> Group | None:
    """The configuration of one of ``arms`` a choice takes: of those that trained every seed
    and fold of their arm to the end, the lowest mean validation loss (``Group.rank``)."""
    candidates = [g for g in groups if g.arm in arms and g.finished]
    if not candidates:
        return None
    units = {g.arm: len({(r.seed, r.fold) for h in groups if h.arm == g.arm for r in h.rows})
             for g in candidates}  # fmt: skip
    return min(candidates, key=lambda g: g.rank(units[g.arm]))
