"""Statistics over rows: a configuration's runs over seeds and folds grouped (approach and
alpha), means with confidence intervals, and each arm's one choice, as scikit-learn's
GridSearchCV makes it: the configuration with the lowest mean validation loss over every fold and
seed (``rank_test_score``), among those that trained every fold and seed to the end."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np

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


def bands(groups: list[Group]) -> tuple[np.ndarray, np.ndarray, str]:
    """Each configuration's mean validation loss and the half-width of its 95% t-interval, with
    the seeds as the units where there are several, as the verdict's interval has them (one
    seed: its fits, the folds); and what the units are (``seeds``, ``folds``). In whole arrays:
    a fine grid has thousands of configurations."""
    from scipy import stats

    n = len(groups)
    finished = [group.finished for group in groups]
    index = np.repeat(np.arange(n), [len(rows) for rows in finished])
    loss = np.array([r.final_val_loss for rows in finished for r in rows], dtype="float64")
    seed = np.array([r.seed for rows in finished for r in rows], dtype="int64")
    means = np.bincount(index, loss, n) / np.maximum(np.bincount(index, minlength=n), 1)
    pairs, unit = np.unique(np.stack([index, seed], axis=1), axis=0, return_inverse=True)
    several = bool((np.bincount(pairs[:, 0], minlength=n) > 1).any()) if n else False
    if several:  # each seed's mean over its folds is a unit
        counts = np.bincount(unit.ravel(), minlength=len(pairs))
        loss, index = np.bincount(unit.ravel(), loss, len(pairs)) / counts, pairs[:, 0]
    units = np.bincount(index, minlength=n).astype("float64")
    center = np.bincount(index, loss, n) / np.maximum(units, 1)
    squares = np.bincount(index, (loss - center[index]) ** 2, n)
    half = np.full(n, np.nan)
    ok = units > 1
    half[ok] = stats.t.ppf(0.975, units[ok] - 1) * np.sqrt(
        squares[ok] / (units[ok] - 1) / units[ok]
    )
    return means, half, "seeds" if several else "folds"


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
    units = {
        arm: len({(r.seed, r.fold) for h in groups if h.arm == arm for r in h.rows})
        for arm in {g.arm for g in candidates}
    }  # fmt: skip (once per arm: fine grids)
    return min(candidates, key=lambda g: g.rank(units[g.arm]))
