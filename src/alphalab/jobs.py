"""One training run, end to end: config -> data -> model -> fit -> MLflow record.

``run_job`` never leaves a run RUNNING: a diverged fit ends FAILED with ``alphalab.error``, a
crash ends FAILED, Ctrl-C ends KILLED. Inside a sweep it skips a job that already FINISHED.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from alphalab import tracking
from alphalab.config import RunSpec, flatten, run_spec
from alphalab.sweep_context import SweepContext
from alphalab.tracking import format_alpha, tracker_for

# Config sections that say where and how a job is recorded, not what it computes.
_NOT_PART_OF_JOB = ("sweep", "search", "tracking", "experiment_name")


@dataclass
class JobResult:
    job_key: str
    run_id: str
    name: str
    status: str
    final_val_loss: float
    learned_alpha: tuple[float, float]
    tracking_uri: str
    experiment_name: str
    true_alpha: tuple[float, float] | None = None
    train_seconds: float = math.nan
    error: str | None = None
    skipped: bool = False

    @property
    def alpha_error(self) -> float | None:
        if self.true_alpha is None:
            return None
        return abs(complex(*self.learned_alpha) - complex(*self.true_alpha))


def job_key(cfg: DictConfig) -> str:
    """Identifies a job's computation (approach, alpha, task, model, training, seed) in a sweep."""
    content = {k: v for k, v in flatten(cfg).items() if k.split(".")[0] not in _NOT_PART_OF_JOB}
    return hashlib.sha1(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_name(spec: RunSpec, learned: tuple[float, float] | None = None) -> str:
    start = format_alpha(*spec.alpha)
    if spec.approach == "trainable":
        alpha = f"α {start} → {format_alpha(*learned)}" if learned else f"α₀ {start}"
    else:
        alpha = f"α {start}"
    return f"{spec.approach} {alpha} · seed {spec.seed}"


def run_params(spec: RunSpec, cfg: DictConfig) -> dict:
    params = {k: v for k, v in flatten(cfg).items() if not k.startswith("hydra.")}
    params.update(
        approach=spec.approach,
        formula=spec.formula.name,
        task=spec.task.name,
        alpha_real=spec.alpha[0],
        alpha_imag=spec.alpha[1],
        seed=spec.seed,
    )
    if spec.task.true_alpha is not None:
        params["true_alpha_real"], params["true_alpha_imag"] = spec.task.true_alpha
    return params


def _finished_before(tracker, parent_id: str, key: str, context: SweepContext | None):
    """The FINISHED child of an earlier session for this job, if any (resume skips it)."""
    known = context is not None and context.parent_id == parent_id
    if known and context.finished_before(key) is False:
        return None  # the sweep's own list says so: no need to ask the store
    return tracker.finished_child(parent_id, key)


def run_job(cfg: DictConfig, parent_id: str | None = None, kind: str = "run") -> JobResult:
    """Train once as ``cfg`` says and record it. ``parent_id`` makes it a child run; by default
    it comes from the enclosing sweep (``alphalab.sweep_context``)."""
    spec = run_spec(cfg)
    context = SweepContext.from_env()
    parent_id = parent_id or (context.parent_id if context else None)
    tracker = tracker_for(spec.tracking_uri, spec.experiment_name, spec.artifact_location)
    key = job_key(cfg)
    if parent_id:
        done = _finished_before(tracker, parent_id, key, context)
        if done is not None:
            return JobResult(
                job_key=key,
                run_id=done.info.run_id,
                name=done.info.run_name,
                status="FINISHED",
                final_val_loss=done.data.metrics.get(tracking.FINAL_VAL_LOSS, math.nan),
                learned_alpha=(
                    done.data.metrics.get(tracking.LEARNED_REAL, math.nan),
                    done.data.metrics.get(tracking.LEARNED_IMAG, math.nan),
                ),
                tracking_uri=tracker.uri,
                experiment_name=spec.experiment_name,
                true_alpha=spec.task.true_alpha,
                skipped=True,
            )

    import logging

    import keras

    from alphalab import data as task_data
    from alphalab import models, training

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keras.utils.set_random_seed(spec.seed)
    data = task_data.load_task(spec.task, spec.seed)
    train_part, val_part = data.split(spec.train.validation_split, spec.seed)
    model = models.compiled_model(
        spec.approach,
        spec.formula,
        spec.alpha,
        data.n_features,
        spec.head,
        spec.output,
        spec.train.optimizer,
        spec.train.learning_rate,
        has_imag=data.has_imag,
        steps_per_execution=spec.train.steps_per_execution,
        schedule=spec.train.schedule,
        total_steps=spec.train.total_steps(len(train_part.x)),
    )

    tags = {
        tracking.TAG_KIND: kind,
        tracking.TAG_JOB_KEY: key,
        tracking.TAG_APPROACH: spec.approach,
    }
    with tracker.run(run_name(spec), tags, parent_id) as run:
        tracker.log_params(run.run_id, run_params(spec, cfg))
        outcome = training.fit(
            model, train_part, val_part, spec.train.epochs, spec.train.batch_size, spec.seed
        )
        learned = models.alpha_of(model) or spec.alpha
        metrics = [
            (name, value, step)
            for name, values in outcome.history.items()
            for step, value in enumerate(values)
        ]
        final_val_loss = outcome.last("val_loss")
        metrics += [
            (tracking.FINAL_VAL_LOSS, final_val_loss, 0),
            (tracking.LEARNED_REAL, learned[0], 0),
            (tracking.LEARNED_IMAG, learned[1], 0),
            ("train_seconds", outcome.seconds, 0),
            ("epochs_run", outcome.epochs_run, 0),
        ]
        if spec.task.true_alpha is not None:
            error = abs(complex(*learned) - complex(*spec.task.true_alpha))
            metrics.append((tracking.ALPHA_ERROR, error, 0))
        name = run_name(spec, learned if spec.approach == "trainable" else None)
        tracker.log_metrics(run.run_id, metrics, tags={tracking.TAG_RUN_NAME: name})
        with tempfile.TemporaryDirectory(prefix="alphalab-") as folder:
            _write_artifacts(Path(folder), cfg, model)
            tracker.log_artifacts(run.run_id, Path(folder))
        if outcome.error:
            run.fail(f"diverged: {outcome.error}")
    return JobResult(
        job_key=key,
        run_id=run.run_id,
        name=name,
        status=run.status,
        final_val_loss=final_val_loss,
        learned_alpha=learned,
        tracking_uri=tracker.uri,
        experiment_name=spec.experiment_name,
        true_alpha=spec.task.true_alpha,
        train_seconds=outcome.seconds,
        error=run.error,
    )


def _write_artifacts(folder: Path, cfg: DictConfig, model) -> None:
    from alphalab import models

    (folder / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (folder / "weights.json").write_text(json.dumps(models.weights_by_name(model), indent=2))
    model.save(folder / "model.keras")


def record_rejected(cfg: DictConfig, error: str, parent_id: str) -> str:
    """A sweep job whose config was rejected: a FAILED child, so the sweep's table lists it.
    Returns the job's key."""
    uri = OmegaConf.select(cfg, "tracking.uri", default=None)
    name = OmegaConf.select(cfg, "experiment_name", default="alphalab")
    tracker = tracker_for(uri, name)
    key = job_key(cfg)
    tags = {tracking.TAG_KIND: "run", tracking.TAG_JOB_KEY: key}
    run_id = tracker.create_run("rejected config", tags, parent_id)
    try:
        tracker.log_params(run_id, flatten(cfg))
    finally:
        tracker.finish(run_id, "FAILED", f"config: {error}")
    return key
