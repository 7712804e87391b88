"""Members scored once on the test rows, which no fit saw: each member's test loss as Keras's
``evaluate`` computes it, and, for runs whose verdict pairs them row by row (refits), each test
row's own loss."""

from __future__ import annotations

import numpy as np
from keras import ops

from alphalab.config.spec import RunSpec
from alphalab.engine.fit import dataset, nothing_to_train_is_fine, targets
from alphalab.engine.outcome import FitOutcome


def score_test(
    model, data, spec: RunSpec, outcomes: list[FitOutcome], positions, per_row: bool = False
) -> None:
    """Members at ``positions`` of ``model`` scored on ``data``'s test rows (nothing without
    them); with ``per_row``, each row's loss too (``FitOutcome.test_rows``)."""
    positions = list(positions)
    if data.test is None or not positions:
        return
    stacked = spec.output == "stacked"
    batches = dataset(data.test, spec.train.batch_size, stacked)
    with nothing_to_train_is_fine():
        logs = model.evaluate(batches, verbose=0, return_dict=True)
    losses = np.asarray(logs["member_loss"])
    rows = (
        row_losses(model, model.predict(batches, verbose=0), data.test, stacked)
        if per_row
        else None
    )
    for outcome, position in zip(outcomes, positions, strict=True):
        outcome.test_loss = float(losses[position])
        if rows is not None:
            outcome.test_rows = {
                "losses": rows[:, position].tolist(),
                "rows": data.test.digest(),
                "data": data.raw.digest(),
                "n_train": len(data.train.x),
            }


def row_losses(model, outputs: dict, test, stacked: bool) -> np.ndarray:
    """(rows, members): each test row's loss for each member, summed over the parts as the
    member's loss is (``PopulationModel.member_losses`` before its mean over the batch; the
    model's own regularisation penalty, the same for every row, left out)."""
    y = targets(test, stacked)
    if stacked:
        pred = np.asarray(outputs["stacked"])
        pairs = [(y, pred if y.shape[-1] == 2 else pred[..., :1])]
    else:
        pairs = [(y[part], np.asarray(outputs[part])) for part in model.parts]
    total = 0.0
    for true, pred in pairs:
        true = np.broadcast_to(np.expand_dims(true, 1), pred.shape).astype(pred.dtype)
        total = total + ops.convert_to_numpy(model.loss_fn(true, pred))
    return np.asarray(total, dtype="float64")
