"""Which epochs of a sweep grid job's per-epoch curves the store keeps.

A grid of 8,192 jobs at 100 epochs would write one row per curve per epoch per job, about 4
million rows, most of which say what the rows around them say. A grid job (kind ``run`` with a
parent) keeps its curves (``loss``, ``val_loss``, ``alpha_real``, ``alpha_imag``) at the epochs
where a training curve still moves, half an octave apart (0, 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45,
64, 91, ...), and at its last epoch (a pruned run's stop): 11 points of 30 epochs, 15 of 100, so
that the MLflow UI still draws each curve from its first epoch to its last. Every other run
(single runs, refinements, refits, trials, references, reproductions) keeps every epoch. Final
metrics are computed from the whole history in memory, before any epoch is left out.
"""

from __future__ import annotations

from functools import cache

from alphalab.tracking import names

CURVES = frozenset({names.LOSS, names.VAL_LOSS, names.ALPHA_REAL, names.ALPHA_IMAG})


@cache
def _half_octaves(limit: int) -> frozenset[int]:
    steps, k = {0}, 0
    while (step := round(2 ** (k / 2))) < limit:
        steps.add(step)
        k += 1
    return frozenset(steps)


def kept_step(step: int, last: int | None = None) -> bool:
    """Whether a grid job's curve keeps ``step``: half an octave from the one before, or its
    ``last`` epoch (None: not known yet, while it trains)."""
    return step == last or step in _half_octaves(1 << 20)


def thinned(metrics: list[tuple[str, float, int]], epochs: int) -> list[tuple[str, float, int]]:
    """A grid job's metrics as the store keeps them: its curves at the kept epochs of a run
    that trained ``epochs`` epochs, every other metric as it is."""
    last = epochs - 1
    return [m for m in metrics if m[0] not in CURVES or kept_step(m[2], last)]
