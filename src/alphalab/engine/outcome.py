"""What a fit leaves for each run trained in it, and the one rule for when a run has diverged.
Plain data: nothing here imports TensorFlow."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from alphalab.config.spec import Alpha
from alphalab.tracking import names


@dataclass
class FitOutcome:
    """What one run's fit left, however many runs trained beside it: its per-epoch history
    (``loss``, ``val_loss``, and ``alpha_real``/``alpha_imag`` when learned), its share of the
    fit's seconds, why it stopped early (NaN or inf), and its weights and optimizer state under
    the names and order its single-run model has."""

    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = math.nan
    error: str | None = None  # why training stopped early, None when it did not
    crash: str | None = None  # why the fit itself failed (an exception), None when it did not
    weights: dict[str, np.ndarray] | None = None  # by the single-run model's weight paths
    optimizer: list[np.ndarray] | None = None  # the single-run optimizer's variables, in order
    test_loss: float = math.nan  # on the test rows, with the weights the fit ended with
    pruned_at: int | None = None  # the epochs it trained before a rung stopped it (None: not)
    test_rows: dict | None = None  # each test row's loss, and which rows (names.TEST_ROWS)

    def last(self, key: str) -> float:
        """The last epoch's value of ``key`` (nan if never recorded)."""
        values = self.history.get(key) or [math.nan]
        return values[-1]

    def learned(self, start: Alpha) -> Alpha:
        """The alpha after the last recorded epoch; ``start`` when alpha was not learned."""
        reals, imags = self.history.get(names.ALPHA_REAL), self.history.get(names.ALPHA_IMAG)
        if reals and imags:
            return Alpha(reals[-1], imags[-1])
        return Alpha(*start)


def mean_outcome(outcomes: list[FitOutcome]) -> FitOutcome:
    """Several executions of one run (a search trial's ``executions_per_trial``) as one: the
    mean of each epoch they all reached, the first error, the last execution's weights."""
    if len(outcomes) == 1:
        return outcomes[0]
    history = {}
    for key in outcomes[0].history:
        series = [o.history.get(key, []) for o in outcomes]
        steps = min(map(len, series))
        history[key] = [sum(s[i] for s in series) / len(series) for i in range(steps)]
    error = next((o.error for o in outcomes if o.error), None)
    seconds = sum(o.seconds for o in outcomes)
    last = outcomes[-1]
    test_loss = sum(o.test_loss for o in outcomes) / len(outcomes)
    return FitOutcome(
        history,
        seconds,
        error=error,
        weights=last.weights,
        optimizer=last.optimizer,
        test_loss=test_loss,
        test_rows=last.test_rows,
    )


def nonfinite(values: dict[str, float], epoch: int) -> str | None:
    """Why training stops at ``epoch``: the first of the loss, validation loss and learned alpha
    that is not finite; None while all are."""
    for key in (names.LOSS, names.VAL_LOSS, names.ALPHA_REAL, names.ALPHA_IMAG):
        if key in values and not math.isfinite(values[key]):
            return f"{key} became {values[key]} at epoch {epoch}"
    return None
