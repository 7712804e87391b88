"""A run's model on request: a sweep's grid jobs record ``config.yaml`` and ``weights.json`` but
no ``model.keras`` (thousands of files nobody opens; see ``tracking.curves`` for their curves).
Their model is the single-run model of the recorded config, built and compiled as the run was,
with every weight the run ended with; the optimizer starts afresh (its state is written only into
the ``model.keras`` of the runs that have one)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from alphalab.tracking import names
from alphalab.tracking.store import Tracker


def has_model_file(tracker: Tracker, run_id: str) -> bool:
    """Whether the run recorded its ``model.keras``."""
    return any(a.path == names.MODEL for a in tracker.client.list_artifacts(run_id))


def rebuilt_model(tracker: Tracker, run_id: str):
    """The run's model from its ``config.yaml`` and ``weights.json``, compiled as it trained."""
    from alphalab.config.parse import recorded_run_spec
    from alphalab.data.sources import load_task
    from alphalab.data.task_data import prepare
    from alphalab.model.build import build
    from alphalab.model.compile import compile_for_training

    with tempfile.TemporaryDirectory(prefix="alphalab-rebuild-") as tmp:
        config = tracker.client.download_artifacts(run_id, names.CONFIG, tmp)
        weights = tracker.client.download_artifacts(run_id, names.WEIGHTS, tmp)
        spec = recorded_run_spec(Path(config).read_text())
        values = json.loads(Path(weights).read_text())
    task, train = spec.task, spec.train
    rows, *_ = prepare(
        load_task(task, spec.seed),
        train.validation_split,
        spec.seed,
        task.split,
        task.standardize,
        task.test_split,
        task.folds,
        task.fold or 0,
    )
    model, _ = build(
        spec.approach, spec.formula, spec.alpha, spec.model, rows.input_shape, rows.has_imag
    )
    compile_for_training(model, train, rows.has_imag, train.total_steps(len(rows.x)))
    by_path = {weight.path: weight for weight in model.weights}
    if set(values) - set(by_path):
        raise ValueError(f"run {run_id}: weights.json names weights its model does not have")
    for path, value in values.items():
        by_path[path].assign(value)
    return model
