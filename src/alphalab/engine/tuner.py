"""keras-tuner plumbing: the hypermodel at a trial's alpha, and tuners that record every trial as
an MLflow child run.

keras-tuner has no MLflow integration and swallows exceptions inside trials. ``tracked`` wraps a
built-in tuner so that each trial opens its own run (FAILED with ``alphalab.error`` when the
trial raises or diverges), and so that a missing dependency stops the search loudly instead of
failing every trial quietly.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from alphalab.config.spec import Alpha, RunSpec, SearchSpec
from alphalab.engine.record import log_artifacts, run_metrics, run_params
from alphalab.tracking import names
from alphalab.tracking.store import Tracker


def hypermodel(run: RunSpec, search: SearchSpec, input_shape: tuple, has_imag: bool, steps: int):
    """Builds the run's model (built-in or the user's) with a Lambda at the trial's alpha;
    remembers the last model it fitted."""
    import keras_tuner

    from alphalab.engine.fit import nothing_to_train_is_fine
    from alphalab.model.build import build
    from alphalab.model.compile import compile_for_training

    class AlphaHyperModel(keras_tuner.HyperModel):
        """The run's model with alpha fixed at the tuner's choice."""

        last_model = None

        def build(self, hp):
            ranges = (("alpha_real", search.alpha_real), ("alpha_imag", search.alpha_imag))
            alpha = tuple(
                hp.Float(name, r.min, r.max, step=r.step, sampling=r.sampling) for name, r in ranges
            )
            model, _ = build("lambda", run.formula, alpha, run.model, input_shape, has_imag)
            return compile_for_training(model, run.train, has_imag, steps)

        def fit(self, hp, model, *args, **kwargs):
            AlphaHyperModel.last_model = model
            with nothing_to_train_is_fine():
                return model.fit(*args, **kwargs)

    return AlphaHyperModel()


def mean_history(histories) -> dict[str, list[float]]:
    """Per-epoch logs averaged over a trial's executions (keras-tuner's ``History`` objects)."""
    logs = [h.history for h in histories]
    keys = [key for key in (names.LOSS, names.VAL_LOSS) if any(key in h for h in logs)]
    out = {}
    for key in keys:
        series = [h[key] for h in logs if key in h]
        out[key] = [
            sum(s[step] for s in series) / len(series) for step in range(min(map(len, series)))
        ]
    return out


def tracked(tuner_class):
    """A subclass of a keras-tuner tuner that records every trial as an MLflow child run."""
    import keras_tuner

    class Tracked(tuner_class):
        def __init__(self, *args, tracker: Tracker, parent_id: str, spec: RunSpec, data, **kwargs):
            super().__init__(*args, **kwargs)
            self.tracker, self.parent_id = tracker, parent_id
            self.spec, self.data = spec, data  # trials are variants of spec, trained on data
            self.trial_runs: dict[str, str] = {}
            self.errors: list[str] = []

        def run_trial(self, trial, *args, **kwargs):
            values = trial.hyperparameters.values
            alpha = Alpha(float(values["alpha_real"]), float(values["alpha_imag"]))
            spec = self.spec.with_alpha("lambda", alpha)
            tags = {
                names.KIND: "trial",
                names.APPROACH: "lambda",
                names.JOB_KEY: f"trial-{trial.trial_id}",
                names.TRIAL_ID: trial.trial_id,
            }
            name = f"trial {trial.trial_id} · lambda α {alpha}"
            with self.tracker.run(name, tags, self.parent_id) as run:
                self.trial_runs[trial.trial_id] = run.run_id
                params = {**run_params(spec, self.data.params()), "trial_id": trial.trial_id}
                self.tracker.log_params(run.run_id, params)
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
                history = mean_history(histories)
                metrics = run_metrics(spec, history, alpha, seconds, self.data.baseline)
                self.tracker.log_metrics(run.run_id, metrics)
                log_artifacts(self.tracker, run.run_id, spec, self.hypermodel.last_model)
                final = (history.get(names.VAL_LOSS) or [math.nan])[-1]
                if not math.isfinite(final):
                    run.fail(f"diverged: val_loss became {final}")
                print(
                    f"[trial {trial.trial_id}] lambda α {alpha!s:<13} "
                    f"val_loss {final:.4g}  {run.status}",
                    flush=True,
                )
            return histories

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            run_id = self.trial_runs.get(trial.trial_id)
            if run_id is None:
                return
            self.tracker.set_tags(run_id, {names.TUNER_STATUS: str(trial.status)})
            if trial.score is not None and math.isfinite(trial.score):
                self.tracker.log_metrics(run_id, [(names.TUNER_SCORE, trial.score, 0)])

    Tracked.__name__ = f"Tracked{tuner_class.__name__}"
    return Tracked


def make_tuner(search: SearchSpec, run: RunSpec, model, directory: Path, **tracking_kwargs):
    """The configured keras-tuner tuner, tracked, continuing any earlier state in ``directory``."""
    import keras_tuner

    common = {
        "hypermodel": model,
        "objective": keras_tuner.Objective(search.objective, direction="min"),
        "executions_per_trial": search.executions_per_trial,
        "directory": str(directory),
        "project_name": search.name,
        "overwrite": False,
        "seed": run.seed,
        "spec": run,
        **tracking_kwargs,
    }
    if search.tuner == "random":
        return tracked(keras_tuner.RandomSearch)(max_trials=search.max_trials, **common)
    if search.tuner == "grid":
        return tracked(keras_tuner.GridSearch)(max_trials=search.max_trials, **common)
    if search.tuner == "bayesian":
        return tracked(keras_tuner.BayesianOptimization)(
            max_trials=search.max_trials,
            num_initial_points=search.num_initial_points,
            beta=search.beta,
            **common,
        )
    return tracked(keras_tuner.Hyperband)(
        max_epochs=search.max_epochs,
        factor=search.factor,
        hyperband_iterations=search.hyperband_iterations,
        **common,
    )
