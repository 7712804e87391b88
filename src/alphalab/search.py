"""keras-tuner searches over alpha for the Lambda model, every trial an MLflow child run.

keras-tuner has no MLflow integration, and it swallows exceptions inside trials. ``tracked``
wraps a built-in tuner so that each trial opens its own MLflow run (FAILED with
``alphalab.error`` when the trial raises or diverges), and so that a missing dependency stops
the search loudly instead of failing every trial quietly.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from alphalab import tracking
from alphalab.config import ConfigError, RunSpec, run_spec
from alphalab.jobs import _write_artifacts, run_job, run_params
from alphalab.search_config import SearchSpec, search_spec
from alphalab.tracking import Tracker, format_alpha, tracker_for

TAG_TRIAL_ID = "alphalab.trial_id"
TAG_TUNER_STATUS = "keras_tuner.status"


def tuner_directory(spec: SearchSpec, tracker: Tracker) -> Path:
    """keras-tuner's state: beside a SQLite store, else under the project's mlruns/."""
    if spec.directory:
        return Path(spec.directory)
    db = tracking.sqlite_path(tracker.uri)
    if db is not None:
        return db.parent / "keras-tuner"
    from alphalab.config import project_root

    return project_root() / "mlruns" / "keras-tuner"


def _hypermodel(run: RunSpec, search: SearchSpec, n_features: int, has_imag: bool, steps: int):
    import keras_tuner

    from alphalab import models
    from alphalab.training import nothing_to_train_is_fine

    class AlphaHyperModel(keras_tuner.HyperModel):
        """Builds the Lambda model at the trial's alpha; remembers the last model it fitted."""

        last_model = None

        def build(self, hp):
            alpha = tuple(
                hp.Float(name, r.min, r.max, step=r.step, sampling=r.sampling)
                for name, r in (
                    ("alpha_real", search.alpha_real),
                    ("alpha_imag", search.alpha_imag),
                )
            )
            model = models.build_model(
                "lambda", run.formula, alpha, n_features, run.head, run.output
            )
            return models.compile_model(
                model,
                run.train.optimizer,
                run.train.learning_rate,
                has_imag=has_imag,
                steps_per_execution=run.train.steps_per_execution,
                schedule=run.train.schedule,
                total_steps=steps,
            )

        def fit(self, hp, model, *args, **kwargs):
            AlphaHyperModel.last_model = model
            with nothing_to_train_is_fine():
                return model.fit(*args, **kwargs)

    return AlphaHyperModel()


def tracked(tuner_class):
    """A subclass of a keras-tuner tuner that records every trial as an MLflow child run."""
    import keras_tuner

    class Tracked(tuner_class):
        def __init__(self, *args, tracker: Tracker, parent_id: str, cfg: DictConfig, **kwargs):
            super().__init__(*args, **kwargs)
            self.tracker, self.parent_id, self.cfg = tracker, parent_id, cfg
            self.trial_runs: dict[str, str] = {}
            self.errors: list[str] = []

        def run_trial(self, trial, *args, **kwargs):
            hp = trial.hyperparameters.values
            alpha = (float(hp["alpha_real"]), float(hp["alpha_imag"]))
            cfg = OmegaConf.merge(
                self.cfg,
                {"approach": {"name": "lambda"}, "alpha": {"real": alpha[0], "imag": alpha[1]}},
            )
            spec = run_spec(cfg)
            name = f"trial {trial.trial_id} · lambda α {format_alpha(*alpha)}"
            tags = {
                tracking.TAG_KIND: "trial",
                tracking.TAG_APPROACH: "lambda",
                tracking.TAG_JOB_KEY: f"trial-{trial.trial_id}",
                TAG_TRIAL_ID: trial.trial_id,
            }
            with self.tracker.run(name, tags, self.parent_id) as run:
                self.trial_runs[trial.trial_id] = run.run_id
                self.tracker.log_params(
                    run.run_id, {**run_params(spec, cfg), "trial_id": trial.trial_id}
                )
                start = time.perf_counter()
                try:
                    histories = super().run_trial(trial, *args, **kwargs)
                except ImportError as exc:
                    message = f"a dependency of keras-tuner is missing: {exc}"
                    self.errors.append(message)
                    raise keras_tuner.errors.FatalError(message) from exc
                except Exception as exc:
                    self.errors.append(f"trial {trial.trial_id}: {type(exc).__name__}: {exc}")
                    raise
                seconds = time.perf_counter() - start
                final = _record_trial(self.tracker, run, histories, alpha, spec, seconds)
                with tempfile.TemporaryDirectory(prefix="alphalab-trial-") as folder:
                    _write_artifacts(Path(folder), cfg, self.hypermodel.last_model)
                    self.tracker.log_artifacts(run.run_id, Path(folder))
                print(
                    f"[trial {trial.trial_id}] lambda α {format_alpha(*alpha):<13} "
                    f"val_loss {final:.4g}  {run.status}",
                    flush=True,
                )
            return histories

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            run_id = self.trial_runs.get(trial.trial_id)
            if run_id is None:
                return
            self.tracker.set_tags(run_id, {TAG_TUNER_STATUS: str(trial.status)})
            if trial.score is not None and math.isfinite(trial.score):
                self.tracker.log_metrics(run_id, [("tuner_score", trial.score, 0)])

    Tracked.__name__ = f"Tracked{tuner_class.__name__}"
    return Tracked


def _record_trial(tracker: Tracker, run, histories, alpha, spec: RunSpec, seconds: float) -> float:
    """Per-epoch metrics (mean over executions), final metrics; FAILED when it diverged."""
    logs = [h.history for h in histories]
    keys = sorted(set().union(*(set(h) for h in logs)))
    metrics = []
    for key in keys:
        series = [h[key] for h in logs if key in h]
        for step in range(min(len(s) for s in series)):
            metrics.append((key, sum(s[step] for s in series) / len(series), step))
    finals = [h["val_loss"][-1] for h in logs if h.get("val_loss")]
    final = sum(finals) / len(finals) if finals else math.nan
    metrics += [
        (tracking.FINAL_VAL_LOSS, final, 0),
        (tracking.LEARNED_REAL, alpha[0], 0),
        (tracking.LEARNED_IMAG, alpha[1], 0),
        ("train_seconds", seconds, 0),
    ]
    if spec.task.true_alpha is not None:
        error = abs(complex(*alpha) - complex(*spec.task.true_alpha))
        metrics.append((tracking.ALPHA_ERROR, error, 0))
    tracker.log_metrics(run.run_id, metrics)
    if not math.isfinite(final):
        run.fail(f"diverged: val_loss became {final}")
    return final


def _tuner(spec: SearchSpec, run: RunSpec, hypermodel, directory: Path, **tracking_kwargs):
    import keras_tuner

    common = {
        "hypermodel": hypermodel,
        "objective": keras_tuner.Objective(spec.objective, direction="min"),
        "executions_per_trial": spec.executions_per_trial,
        "directory": str(directory),
        "project_name": spec.name,
        "overwrite": False,
        "seed": run.seed,
        **tracking_kwargs,
    }
    if spec.tuner == "random":
        return tracked(keras_tuner.RandomSearch)(max_trials=spec.max_trials, **common)
    if spec.tuner == "grid":
        return tracked(keras_tuner.GridSearch)(max_trials=spec.max_trials, **common)
    if spec.tuner == "bayesian":
        return tracked(keras_tuner.BayesianOptimization)(
            max_trials=spec.max_trials,
            num_initial_points=spec.num_initial_points,
            beta=spec.beta,
            **common,
        )
    return tracked(keras_tuner.Hyperband)(
        max_epochs=spec.max_epochs,
        factor=spec.factor,
        hyperband_iterations=spec.hyperband_iterations,
        **common,
    )


def run_search(cfg: DictConfig) -> float:
    """Run (or continue) the configured search; return the best trial's validation loss."""
    import logging

    import keras

    from alphalab import data as task_data
    from alphalab.report import record_comparison
    from alphalab.training import dataset

    run = run_spec(cfg)
    spec = search_spec(cfg)
    name = spec.name or f"{spec.tuner}-{datetime.now():%Y%m%d-%H%M%S}"
    spec = SearchSpec(**{**spec.__dict__, "name": name})
    tracker = tracker_for(run.tracking_uri, run.experiment_name, run.artifact_location)
    directory = tuner_directory(spec, tracker)

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keras.utils.set_random_seed(run.seed)
    data = task_data.load_task(run.task, run.seed)
    train_part, val_part = data.split(run.train.validation_split, run.seed)
    steps = run.train.total_steps(len(train_part.x))
    stacked = run.output == "stacked"

    parent = tracker.find_parent(name)
    started = time.time()
    if parent is None:
        tags = {tracking.TAG_KIND: "search", tracking.TAG_SWEEP_NAME: name}
        parent_id = tracker.create_run(name, tags)
        params = {f"search.{k}": v for k, v in spec.__dict__.items()}
        tracker.log_params(parent_id, {**params, **run_params(run, cfg)})
        verb = "starting"
    else:
        parent_id = parent.info.run_id
        tracker.client.update_run(parent_id, status="RUNNING")
        verb = "continuing"
    print(
        f"alphalab: {verb} {spec.tuner} search '{name}' (parent run {parent_id}); "
        f"keras-tuner state in {directory / name}\n"
        f"alphalab: continue it later with the same command plus search.name={name}",
        flush=True,
    )
    try:
        hypermodel = _hypermodel(run, spec, data.n_features, data.has_imag, steps)
        tuner = _tuner(
            spec, run, hypermodel, directory, tracker=tracker, parent_id=parent_id, cfg=cfg
        )
        tuner.oracle.max_trials = spec.max_trials  # a reloaded oracle keeps its old limit
        before = len(tuner.oracle.trials)
        tuner.search(
            dataset(train_part, run.train.batch_size, stacked, shuffle_seed=run.seed),
            validation_data=dataset(val_part, run.train.batch_size, stacked),
            epochs=run.train.epochs,
            shuffle=False,
            verbose=0,
        )
        new_trials = len(tuner.oracle.trials) - before
        if spec.reference:
            reference_cfg = OmegaConf.merge(cfg, {"approach": {"name": "trainable"}})
            run_job(reference_cfg, parent_id=parent_id, kind="reference")
        comparison = record_comparison(tracker, parent_id, wall_seconds=time.time() - started)
        print(comparison.console(), flush=True)
        print(f"({new_trials} new trial(s) this session)", flush=True)
        print(f"MLflow: parent run {parent_id} in {tracker.uri}", flush=True)
    except KeyboardInterrupt:
        tracker.finish(parent_id, "KILLED", f"interrupted; continue with search.name={name}")
        raise
    except ConfigError:
        tracker.finish(parent_id, "FAILED", "rejected config")
        raise
    except BaseException as exc:
        tracker.finish(parent_id, "FAILED", f"{type(exc).__name__}: {exc}")
        print(f"alphalab: error: search '{name}' failed: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    errors = getattr(tuner, "errors", [])
    if errors:
        tracker.finish(parent_id, "FAILED", "; ".join(errors[:3]))
        print(f"alphalab: error: {len(errors)} trial(s) raised: {errors[0]}", file=sys.stderr)
        raise SystemExit(1)
    tracker.finish(parent_id, "FINISHED")
    return tracker.client.get_run(parent_id).data.metrics.get("best_trial_val_loss", math.inf)
