"""Successive halving's choice at a rung (``sweep.prune``): who of a population goes on."""

from __future__ import annotations

import math

from alphalab.config.spec import PruneSpec
from alphalab.engine.outcome import FitOutcome
from alphalab.tracking import names


def rank(running: list[int], outcomes: list[FitOutcome], groups: list, prune: PruneSpec):
    """Which of the ``running`` members (positions in the fit, with their ``outcomes``) go on
    after a rung: in each group (``groups[position]``), the best ``ceil(n / eta)`` by their last
    validation loss (ties by position: deterministic)."""
    by_group: dict = {}
    for position, outcome in zip(running, outcomes, strict=True):
        by_group.setdefault(groups[position], []).append((outcome.last(names.VAL_LOSS), position))
    keep = []
    for members in by_group.values():
        members.sort()
        keep += [position for _, position in members[: math.ceil(len(members) / prune.eta)]]
    return sorted(keep)
