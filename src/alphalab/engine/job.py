"""One training run, end to end: spec -> data -> model -> fit -> MLflow record.

``run_job`` never leaves a run RUNNING: a diverged fit ends FAILED with ``alphalab.error``, a
crash ends FAILED, Ctrl-C ends KILLED. Inside a sweep it skips a job that already FINISHED.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphalab.config.spec import Alpha, RunSpec, TrackingSpec, flatten
from alphalab.engine.context import SweepContext
from alphalab.engine.record import job_key, log_artifacts, run_metrics, run_name, run_params
from alphalab.tracking import names
from alphalab.tracking.store import Tracker, tracker_for


@dataclass
class WarmStart:
    """Every weight but alpha's, taken from another run (``weights.json``, in model order)."""

    run_id: str
    job_key: str
    weights: dict[str, list]

    def apply(self, model) -> None:
        """Set the model's weights other than the alpha kernel, in order; raise ValueError when
        the two models do not match."""
        from alphalab.model.build import alpha_layers

        alpha = {id(w) for layer in alpha_layers(model) for w in layer.weights}
        targets = [w for w in model.weights if id(w) not in alpha]
        values = list(self.weights.values())
        shapes = [tuple(w.shape) for w in targets]
        given = [tuple(np.shape(v)) for v in values]
        if shapes != given:
            raise ValueError(f"run {self.run_id} has weights of shapes {given}, not {shapes}")
        for weight, value in zip(targets, values, strict=True):
            weight.assign(value)


@dataclass
class JobResult:
    """How a job ended, and where it is recorded."""

    job_key: str
    run_id: str
    name: str
    status: str
    final_val_loss: float
    learned_alpha: Alpha
    tracking_uri: str
    experiment_name: str
    true_alpha: Alpha | None = None
    train_seconds: float = math.nan
    error: str | None = None
    skipped: bool = False

    @property
    def status_text(self) -> str:
        """The status as progress lines show it."""
        return "skipped (finished before)" if self.skipped else self.status

    @property
    def alpha_error(self) -> float | None:
        """|learned alpha - true alpha|, where the truth is known."""
        if self.true_alpha is None:
            return None
        return self.learned_alpha.distance(self.true_alpha)

    def describe(self) -> str:
        """What a single ``python -m experiments.run`` prints when it ends."""
        loss = f"{self.final_val_loss:.4g}" if math.isfinite(self.final_val_loss) else "—"
        detail = f"  final val_loss {loss}, alpha {self.learned_alpha}"
        if self.true_alpha is not None:
            detail += f", |alpha - true| {self.alpha_error:.3g} (true {self.true_alpha})"
        lines = [f"alphalab: {self.name}: {self.status}"]
        lines.append(detail + f", {self.train_seconds:.1f} s of training")
        if self.error:
            lines.append(f"  error: {self.error}")
        lines.append(f"  MLflow run {self.run_id} in experiment '{self.experiment_name}'")
        lines.append(f"  store {self.tracking_uri}; browse it with: python -m experiments.ui")
        return "\n".join(lines)


def finished_before(tracker: Tracker, parent_id: str, key: str, context: SweepContext | None):
    """The FINISHED child of an earlier session for this job, if any (resume skips it)."""
    known = context is not None and context.parent_id == parent_id
    if known and context.finished_before(key) is False:
        return None  # the sweep's own list says so: no need to ask the store
    return tracker.finished_child(parent_id, key)


def skipped(spec: RunSpec, key: str, tracker: Tracker, done) -> JobResult:
    """The result of a job that FINISHED in an earlier session (resume does not rerun it)."""
    metrics = done.data.metrics
    return JobResult(
        job_key=key,
        run_id=done.info.run_id,
        name=done.info.run_name,
        status="FINISHED",
        final_val_loss=metrics.get(names.FINAL_VAL_LOSS, math.nan),
        learned_alpha=Alpha(
            metrics.get(names.LEARNED_REAL, math.nan), metrics.get(names.LEARNED_IMAG, math.nan)
        ),
        tracking_uri=tracker.uri,
        experiment_name=spec.tracking.experiment_name,
        true_alpha=spec.task.true_alpha,
        skipped=True,
    )


def run_job(
    spec: RunSpec,
    context: SweepContext | None = None,
    parent_id: str | None = None,
    kind: str = "run",
    warm_start: WarmStart | None = None,
) -> JobResult:
    """Train once as ``spec`` says and record it, as a child of ``parent_id`` (by default the
    parent of the enclosing sweep ``context``); ``warm_start`` starts every weight but alpha
    from another run's."""
    parent_id = parent_id or (context.parent_id if context else None)
    tracker = tracker_for(spec.tracking)
    key = job_key(spec.config) if warm_start is None else f"{kind}-{warm_start.job_key}"
    if parent_id:
        done = finished_before(tracker, parent_id, key, context)
        if done is not None:
            return skipped(spec, key, tracker, done)

    import logging

    import keras

    from alphalab.engine import fit
    from alphalab.model.build import alpha_of
    from alphalab.model.compile import compiled_model

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keras.utils.set_random_seed(spec.seed)
    data = fit.prepare_data(spec)
    model = compiled_model(
        spec.approach,
        spec.formula,
        spec.alpha,
        spec.model,
        data.train.input_shape,
        spec.train,
        has_imag=data.train.has_imag,
        total_steps=spec.train.total_steps(len(data.train.x)),
    )
    tags = {names.KIND: kind, names.JOB_KEY: key, names.APPROACH: spec.approach}
    params = data.params()
    if warm_start is not None:
        tags[names.WARM_START] = params["warm_start"] = warm_start.run_id
    with tracker.run(run_name(spec), tags, parent_id) as run:
        tracker.log_params(run.run_id, run_params(spec, params))
        if warm_start is not None:
            warm_start.apply(model)
        outcome = fit.fit(
            model, data.train, data.validation, spec.train.epochs, spec.train.batch_size, spec.seed
        )
        learned = Alpha(*(alpha_of(model) or spec.alpha))
        name = run_name(spec, learned if spec.approach == "trainable" else None)
        metrics = run_metrics(spec, outcome.history, learned, outcome.seconds, data.baseline)
        tracker.log_metrics(run.run_id, metrics, tags={names.RUN_NAME: name})
        log_artifacts(tracker, run.run_id, spec, model)
        if outcome.error:
            run.fail(f"diverged: {outcome.error}")
    return JobResult(
        job_key=key,
        run_id=run.run_id,
        name=name,
        status=run.status,
        final_val_loss=outcome.last(names.VAL_LOSS),
        learned_alpha=learned,
        tracking_uri=tracker.uri,
        experiment_name=spec.tracking.experiment_name,
        true_alpha=spec.task.true_alpha,
        train_seconds=outcome.seconds,
        error=run.error,
    )


def record_rejected(
    tracking: TrackingSpec, config: dict[str, Any], error: str, parent_id: str
) -> str:
    """A sweep job whose config was rejected: a FAILED child, so the sweep's table lists it.
    Returns the job's key."""
    tracker = tracker_for(tracking)
    key = job_key(config)
    tags = {names.KIND: "run", names.JOB_KEY: key}
    run_id = tracker.create_run("rejected config", tags, parent_id)
    try:
        tracker.log_params(run_id, flatten(config))
    finally:
        tracker.finish(run_id, "FAILED", f"config: {error}")
    return key
