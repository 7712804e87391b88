"""The interval behind a verdict: the relative test-loss difference between two arms' refits,
with a 95% interval that covers every source of noise the claim depends on, and the decision it
supports against a region of practical equivalence (ROPE).

Plain numpy and scipy, so that ``tests/test_interval.py`` can drive it over thousands of
simulated nulls. How it is built (docs/concepts/verdict.md):

- Within a seed both refits predict the same test rows: the difference is paired row by row.
- The seed is the unit of replication: each seed draws its own data (a synthetic task) or its own
  split (a file), its own initial weights and shuffling. With two seeds or more, Student's t over
  the seeds covers every source at once, without a model of how they combine. Where the seeds
  re-split one data set, their training and test rows overlap: the variance is corrected as
  Nadeau & Bengio (2003) do for repeated splits (1/J + n_test/n_train). Where the seeds share the
  very same test rows (``task.split=last``), the rows' own sampling is added.
- One seed: the test rows' sampling, plus (with K folds) the training-set noise the folds show,
  the spread of the chosen configurations' fold fits on the same test rows inflated for their
  overlapping training sets ((K-1)^2/K: a fold fit's estimate shares (K-2)/(K-1) of its rows with
  another's, and a refit trains on K/(K-1) as many rows). Initial weights and shuffling are not
  varied then, and the verdict says so.

The difference is a ratio of means, ``first / second - 1``; its variance is the delta method's.
Degrees of freedom for a sum of two variances are Welch-Satterthwaite's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

TEST_ROWS = "test rows"
SEED_DATA = "seeds (data, initial weights, shuffling)"
SEED_SPLIT = "seeds (split, initial weights, shuffling)"
SEED_TRAINING = "seeds (initial weights, shuffling)"
FOLDS = "training rows (the folds' fits)"


@dataclass(frozen=True)
class SeedEvidence:
    """One seed's refits of two arms, scored on the same test rows."""

    seed: int
    first: np.ndarray  # per test row: the first arm's loss
    second: np.ndarray  # the same rows: the second arm's loss
    rows: str = ""  # a digest of the test rows (equal digests: the very same rows)
    data: str = ""  # a digest of the whole data set (equal: one data set, re-split per seed)
    n_train: int = 0  # the rows the refits trained on
    first_folds: tuple[float, ...] = ()  # the first arm's fold fits' test losses
    second_folds: tuple[float, ...] = ()  # the second arm's, fold by fold


class Decision(StrEnum):
    """What an interval says against the ROPE."""

    FIRST = "first"  # the first arm better: the interval lies below -rope
    SECOND = "second"  # the second arm better: the interval lies above +rope
    EQUIVALENT = "equivalent"  # the interval lies inside the ROPE
    UNDECIDED = "undecided"  # the interval crosses an edge of the ROPE


@dataclass(frozen=True)
class Difference:
    """``first / second - 1`` over the seeds' test rows, and its interval."""

    estimate: float
    low: float
    high: float
    level: float
    df: float
    seeds: int
    rows: int  # test rows per seed (the smallest)
    covers: tuple[str, ...] = field(default=())
    design: str = ""  # how the variance was found, for the verdict's noise line

    @property
    def half(self) -> float:
        """Half the interval's width."""
        return (self.high - self.low) / 2

    @property
    def training_measured(self) -> bool:
        """Whether training randomness (seeds or folds) is in the interval."""
        return any(source != TEST_ROWS for source in self.covers)

    def decide(self, rope: float) -> Decision:
        """The outcome against a ROPE of ``±rope`` (relative)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return Decision.UNDECIDED
        if self.high < -rope:
            return Decision.FIRST
        if self.low > rope:
            return Decision.SECOND
        if -rope <= self.low and self.high <= rope:
            return Decision.EQUIVALENT
        return Decision.UNDECIDED

    def seeds_to_settle(self, rope: float) -> int | None:
        """About how many seeds would narrow the interval enough to settle it (outside or
        inside the ROPE) if the estimate stayed where it is; None for one seed (add seeds
        first) or an estimate on the ROPE's very edge."""
        need = abs(abs(self.estimate) - rope)
        if self.seeds < 2 or not need > 0 or not math.isfinite(self.half):
            return None
        return max(self.seeds + 1, math.ceil(self.seeds * (self.half / need) ** 2))


def _t(level: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(1 - (1 - level) / 2, df))


def _satterthwaite(parts: list[tuple[float, float]]) -> float:
    """Degrees of freedom of a sum of variance estimates ``(variance, its df)``."""
    total = sum(v for v, _ in parts)
    denominator = sum(v * v / df for v, df in parts if df > 0 and v > 0)
    return total * total / denominator if denominator > 0 else math.inf


def relative_difference(evidence: list[SeedEvidence], level: float = 0.95) -> Difference:
    """The relative difference ``first / second - 1`` (mean losses pooled over seeds) and its
    ``level`` interval; see the module's docstring for which noise it covers and how."""
    if not evidence:
        raise ValueError("no seed has both arms' test rows")
    for seed in evidence:
        if seed.first.shape != seed.second.shape or seed.first.size < 2:
            raise ValueError(f"seed {seed.seed}: the arms were not scored on the same test rows")
    means_first = np.array([e.first.mean() for e in evidence])
    means_second = np.array([e.second.mean() for e in evidence])
    scale = float(means_second.mean())
    n = min(e.first.size for e in evidence)
    if not scale > 0 or not np.isfinite(means_first).all():
        nan = math.nan
        return Difference(nan, nan, nan, level, nan, len(evidence), n)
    ratio = float(means_first.mean()) / scale
    # the delta method: first - ratio * second, per row, in units of the second arm's loss
    linear = [(e.first - ratio * e.second) / scale for e in evidence]
    if len(evidence) == 1:
        parts, covers, design = _one_seed(evidence[0], linear[0], ratio, scale)
    else:
        parts, covers, design = _seeds(evidence, linear)
    variance = sum(v for v, _ in parts)
    df = _satterthwaite(parts)
    half = _t(level, df) * math.sqrt(variance) if math.isfinite(df) else 0.0
    estimate = ratio - 1
    return Difference(
        estimate, estimate - half, estimate + half, level, df, len(evidence), n, covers, design
    )


def _one_seed(seed: SeedEvidence, linear: np.ndarray, ratio: float, scale: float):
    """The test rows' sampling, and the folds' training-set noise where there are folds."""
    n = linear.size
    parts = [(float(linear.var(ddof=1)) / n, n - 1)]
    k = min(len(seed.first_folds), len(seed.second_folds))
    if k < 2:
        return parts, (TEST_ROWS,), "paired over the test rows (one seed, one split)"
    per_fold = (np.array(seed.first_folds[:k]) - ratio * np.array(seed.second_folds[:k])) / scale
    parts.append((float(per_fold.var(ddof=1)) * (k - 1) ** 2 / k, k - 1))
    design = (
        f"paired over the test rows, plus the spread of the {k} folds' fits on them "
        f"(x(K-1)²/K = {(k - 1) ** 2 / k:.2g} for their overlapping training rows)"
    )
    return parts, (TEST_ROWS, FOLDS), design


def _seeds(evidence: list[SeedEvidence], linear: list[np.ndarray]):
    """Seeds as the units; corrected where they overlap or share their test rows."""
    s = len(evidence)
    per_seed = np.array([z.mean() for z in linear])
    spread = float(per_seed.var(ddof=1))
    shared = len({e.rows for e in evidence}) == 1 and evidence[0].rows != ""
    if shared and len({z.size for z in linear}) == 1:
        by_row = np.mean(linear, axis=0)
        parts = [(spread / s, s - 1), (float(by_row.var(ddof=1)) / by_row.size, by_row.size - 1)]
        design = f"Student's t over {s} seeds, plus the sampling of the test rows they share"
        return parts, (TEST_ROWS, SEED_TRAINING), design
    one_data_set = len({e.data for e in evidence}) == 1 and evidence[0].data != ""
    if one_data_set:
        n_test = float(np.mean([z.size for z in linear]))
        n_train = float(np.mean([e.n_train for e in evidence])) or math.inf
        factor = 1 / s + n_test / n_train
        design = (
            f"Student's t over {s} seeds, corrected for their overlapping splits of one data "
            f"set (Nadeau & Bengio: 1/{s} + {n_test:.0f}/{n_train:.0f})"
        )
        return [(spread * factor, s - 1)], (TEST_ROWS, SEED_SPLIT), design
    design = f"Student's t over {s} seeds, each its own data set, test rows paired within each"
    return [(spread / s, s - 1)], (TEST_ROWS, SEED_DATA), design
