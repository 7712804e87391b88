"""A population of jobs, end to end: the children opened RUNNING, one fit for all, each member's
record and artifacts, the children closed; resume skips the members that finished before."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from alphalab.config.spec import Alpha, RunSpec
from alphalab.engine.context import SweepContext
from alphalab.engine.job import JobResult, finished_before, run_job, skipped
from alphalab.engine.record import job_key, run_metrics, run_name, run_params
from alphalab.model.build import first_line
from alphalab.tracking import names
from alphalab.tracking.children import Child, Children
from alphalab.tracking.store import tracker_for


def population_key(spec: RunSpec) -> str:
    """Jobs with the same key differ only in approach and alpha: they train as one population."""
    config = {k: v for k, v in spec.config.items() if k not in ("approach", "alpha")}
    return repr((config, spec.model, spec.train, spec.task, spec.formula, spec.seed))


def run_population(
    specs: list[RunSpec], context: SweepContext | None, parent_id: str | None = None
) -> list[JobResult]:
    """Train the jobs ``specs`` (one population: same ``population_key``) as one model; return
    their results in the order given."""
    import keras

    from alphalab.engine.fit import prepare_data
    from alphalab.engine.population.export import MemberFiles
    from alphalab.engine.population.model import population_model
    from alphalab.engine.population.train import (
        MemberOutcome,
        Members,
        compile_population,
        fit_population,
    )

    parent_id = parent_id or (context.parent_id if context else None)
    tracker = tracker_for(specs[0].tracking)
    keys = [job_key(spec.config) for spec in specs]
    results: dict[int, JobResult] = {}
    todo = []
    for index, (spec, key) in enumerate(zip(specs, keys, strict=True)):
        done = finished_before(tracker, parent_id, key, context) if parent_id else None
        if done is not None:
            results[index] = skipped(spec, key, tracker, done)
        else:
            todo.append(index)
    todo.sort(key=lambda i: specs[i].approach != "trainable")  # learned members first
    if not todo:
        return [results[i] for i in range(len(specs))]
    members = [specs[i] for i in todo]
    first = members[0]
    keras.utils.set_random_seed(first.seed)
    data = prepare_data(first)
    shape, has_imag = data.train.input_shape, data.train.has_imag
    steps = first.train.total_steps(len(data.train.x))
    model, built = population_model(members, shape, has_imag)
    if built is not None and any(map(regularised, built)):
        # a member's regularisation loss would not be its own: train them one by one
        for i in todo:
            results[i] = run_job(specs[i], context, parent_id)
        return [results[i] for i in range(len(specs))]
    compile_population(model, first, steps)

    files = MemberFiles(shape, has_imag, steps)
    read = Members(model, members, built, files.paths(members))
    children = Children(tracker, parent_id)
    records, data_params = [], data.params()
    for i in todo:
        tags = {names.KIND: "run", names.JOB_KEY: keys[i], names.APPROACH: specs[i].approach}
        tags[names.POPULATION] = str(len(members))
        records.append(Child(run_name(specs[i]), tags, run_params(specs[i], data_params)))
    children.open(records)
    share = math.nan
    try:
        outcomes, seconds = fit_population(model, read, data, first)
        share = seconds / len(members)  # each member's share of the one fit
        for spec, record, outcome in zip(members, records, outcomes, strict=True):
            learned = _learned(spec, outcome.history)
            record.name = run_name(spec, learned if spec.approach == "trainable" else None)
            record.metrics = run_metrics(spec, outcome.history, learned, share, data.baseline)
            record.status = "FAILED" if outcome.error else "FINISHED"
            record.error = f"diverged: {outcome.error}" if outcome.error else None
            _write_artifacts(children, files, record, spec, outcome.weights)
    except KeyboardInterrupt:
        _close_all(children, records, "KILLED", "interrupted")
        raise
    except Exception as exc:  # noqa: BLE001 - recorded: every member FAILED, the sweep goes on
        error = f"{type(exc).__name__}: {first_line(exc)}"
        _close_all(children, records, "FAILED", error)
        outcomes = [MemberOutcome(error=error) for _ in members]
    else:
        children.close(records)
    for i, spec, record, outcome in zip(todo, members, records, outcomes, strict=True):
        learned = _learned(spec, outcome.history)
        results[i] = JobResult(
            job_key=keys[i],
            run_id=record.run_id,
            name=record.name,
            status=record.status,
            final_val_loss=(outcome.history.get(names.VAL_LOSS) or [math.nan])[-1],
            learned_alpha=learned,
            tracking_uri=tracker.uri,
            experiment_name=spec.tracking.experiment_name,
            true_alpha=spec.task.true_alpha,
            train_seconds=share,
            error=record.error,
        )
    return [results[i] for i in range(len(specs))]


def regularised(model) -> bool:
    """Whether the model adds losses of its own (weight or activity regularisers)."""
    from alphalab.model.build import all_layers

    kinds = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")
    return any(getattr(layer, kind, None) for layer in all_layers(model) for kind in kinds)


def _learned(spec: RunSpec, history: dict[str, list[float]]) -> Alpha:
    """The member's alpha at its last recorded epoch (its fixed alpha for a Lambda member)."""
    if spec.approach == "trainable" and history.get(names.ALPHA_REAL):
        return Alpha(history[names.ALPHA_REAL][-1], history[names.ALPHA_IMAG][-1])
    return spec.alpha


def _write_artifacts(children: Children, files, record: Child, spec: RunSpec, weights) -> None:
    """Straight into the run's artifact folder on a local store, else uploaded."""
    folder = children.artifact_folder(record)
    if folder is not None:
        files.write(folder, spec, weights)
        return
    with tempfile.TemporaryDirectory(prefix="alphalab-member-") as tmp:
        files.write(Path(tmp), spec, weights)
        children.tracker.log_artifacts(record.run_id, Path(tmp))


def _close_all(children: Children, records: list[Child], status: str, error: str) -> None:
    """End every child of an interrupted or crashed population."""
    for record in records:
        record.status, record.error = status, error
    children.close(records)
