"""Each configuration of a sweep with its noise, for ``landscape.png``: the mean validation loss
over its folds and seeds with its 95% half-width (``stats.bands``), and where its fits ended (the
mean, min and max of their learned alpha). Computed in whole arrays, in one order whatever the
store's: a fine grid has thousands of configurations, and the picture must not depend on order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alphalab.config.names import Arm
from alphalab.results.stats import Group, bands
from alphalab.results.verdict import Summary


@dataclass
class Starts:
    """One arm's configurations in a fixed order: their starts, where their fits ended (mean,
    min, max of the learned alpha) and their mean validation loss with its 95% half-width."""

    arm: Arm
    groups: list[Group]
    start: np.ndarray  # (n, 2)
    end: np.ndarray  # (n, 2): the mean learned alpha
    low: np.ndarray  # (n, 2): the smallest learned alpha, per component
    high: np.ndarray  # (n, 2): the largest
    loss: np.ndarray  # (n,)
    half: np.ndarray  # (n,): nan where there is one unit
    fits: np.ndarray  # (runs, 2): every fit's learned alpha


def starts_of(summary: Summary) -> tuple[dict[Arm, Starts], str]:
    """Every arm's candidates with their noise, and what the band's units are."""
    done = [  # in one order whatever the store's: the same sums, the same picture
        Group(g.arm, g.start, sorted(g.finished, key=run_order))
        for g in sorted(summary.groups, key=lambda g: (g.arm, *g.start))
        if g.finished
    ]
    loss, half, units = bands(done)
    out: dict[Arm, Starts] = {}
    for arm in Arm:
        index = [i for i, g in enumerate(done) if g.arm == arm]
        if not index:
            continue
        groups = [done[i] for i in index]
        finished = [g.finished for g in groups]
        learned = np.array([tuple(r.learned) for rows in finished for r in rows], dtype="float64")
        offsets = np.cumsum([0] + [len(rows) for rows in finished[:-1]])
        sizes = np.array([len(rows) for rows in finished])[:, None]
        out[arm] = Starts(
            arm,
            groups,
            np.array([tuple(g.start) for g in groups], dtype="float64"),
            np.add.reduceat(learned, offsets) / sizes,
            np.minimum.reduceat(learned, offsets),
            np.maximum.reduceat(learned, offsets),
            loss[index],
            half[index],
            learned,
        )
    return out, units


def run_order(row) -> tuple:
    """Runs by seed, fold and id: an order that does not depend on the store."""
    return (row.seed, -1 if row.fold is None else row.fold, row.run_id)


def index_of(groups: list[Group], chosen: Group) -> int:
    """The index of the chosen configuration among ``groups`` (copies, sorted)."""
    return next(i for i, g in enumerate(groups) if (g.arm, g.start) == (chosen.arm, chosen.start))


def shape(groups: list[Group]) -> str:
    """``3 seeds x 5 folds`` of a set of configurations."""
    seeds = len({r.seed for g in groups for r in g.finished})
    folds = len({r.fold for g in groups for r in g.finished})
    return f"{seeds} seed{'s' * (seeds > 1)} x {folds} fold{'s' * (folds > 1)}"
