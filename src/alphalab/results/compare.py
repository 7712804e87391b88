"""A sweep's or search's comparison rebuilt from the store, and recorded on its parent run."""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
from functools import partial
from pathlib import Path

from alphalab.config.names import Arm, Kind
from alphalab.results.figures import search_figures, sweep_figures
from alphalab.results.landscape import landscape_figure
from alphalab.results.plots import trials_figure
from alphalab.results.rebuilt import has_model_file, rebuilt_model
from alphalab.results.render import Comparison, search_table, table
from alphalab.results.rows import latest_rows, row_from_run, test_rows, trajectories
from alphalab.results.searches import summarize_trials
from alphalab.results.verdict import summarize
from alphalab.results.verdict_plot import search_verdict_figure, verdict_figure
from alphalab.tracking import names
from alphalab.tracking.kept import children_of
from alphalab.tracking.store import Tracker

MARGIN = "verdict.baseline_margin"  # the param that says what beating the baseline means
ROPE = "verdict.rope"  # the region of practical equivalence
OLD_ROPE = 0.02  # for sweeps recorded before verdict.rope existed
SCAN = "warn_dependency_requirement_mismatches"  # mlflow.utils.environment's, see below


def load_comparison(tracker: Tracker, parent, wall_seconds: float | None = None) -> Comparison:
    """Rebuild the comparison of a sweep or search parent run from its children in the store."""
    if wall_seconds is None:
        wall_seconds = parent.data.metrics.get("wall_seconds")
    if wall_seconds is None:
        end = parent.info.end_time or parent.info.start_time
        wall_seconds = (end - parent.info.start_time) / 1000 if end else math.nan
    children = children_of(tracker, parent.info.run_id)
    name = parent.info.run_name
    if parent.data.tags.get(names.KIND) == Kind.SEARCH:
        found = [r for r in children if r.data.tags.get(names.KIND) == Kind.TRIAL]
        # in the order the oracle handed them out (a population's trials start in one instant)
        found.sort(key=lambda r: _trial_number(r.data.tags.get(names.TRIAL_ID, "")))
        trials = [row_from_run(r) for r in found]
        references = [r for r in children if r.data.tags.get(names.KIND) == Kind.REFERENCE]
        reference = latest_rows(references)[-1] if references else None
        params = parent.data.params  # older searches recorded the algorithm as search.tuner
        tuner = params.get("search.algorithm") or params["search.tuner"]
        margin = float(parent.data.params[MARGIN])
        rope = float(params.get(ROPE, OLD_ROPE))
        search = summarize_trials(
            trials, reference, tuner, margin, wall_seconds, rope, partial(test_rows, tracker)
        )
        learned = [reference] if reference is not None else []
        return Comparison(
            title=f"alphalab {tuner} search '{name}': searched alpha vs learned alpha",
            headline=search.headline,
            verdict=search.verdict,
            table=search_table(search),
            rows=trials + ([reference] if reference is not None else []),
            metrics=search.metrics(),
            artifacts="Artifacts: `comparison.csv` (one row per trial, and the trainable "
            "reference), `trials.png` (the trials over the alpha plane, in order), "
            "`verdict.png` (the learned alpha against the best trial, with its interval).",
            plots={
                names.TRIALS: lambda: trials_figure(search, trajectories(tracker, learned)),
                names.VERDICT_PLOT: lambda: search_verdict_figure(search),
            },
            outcome=search.outcome,
            reasons=search.reasons,
            selected={
                label: row
                for label, row in (("fixed", search.best), ("trainable", reference))
                if row is not None and row.ok
            },
            figures=search_figures(search),
        )
    rows = latest_rows(children)
    params = parent.data.params
    tolerance = float(params["base.sweep.basin_tolerance"])
    margin = float(params[f"base.{MARGIN}"])
    rope = float(params.get(f"base.{ROPE}", OLD_ROPE))
    paired = test_rows(tracker, [row for row in rows if not row.in_grid])
    summary = summarize(rows, tolerance, margin, wall_seconds, rope, paired)
    selected = {  # each arm's model: its refit (the first seed's), else its best fit
        arm: (
            result.refits[min(result.refits)]
            if result.refits
            else min(result.chosen.finished, key=lambda r: r.final_val_loss)
        )
        for arm, result in summary.arms.items()
    }
    return Comparison(
        title=f"alphalab sweep '{name}': fixed alpha vs learned alpha",
        headline=summary.headline,
        verdict=summary.verdict,
        table=table(summary),
        rows=rows,
        metrics=summary.metrics(),
        artifacts="Artifacts: `comparison.csv` (one row per run), `landscape.png` (validation "
        "loss over the alpha grid with its noise: each cell's mean and 95% band, each learned "
        "start's mean end point and spread, each arm's choice and refits), `verdict.png` (each "
        "arm's test-loss difference to the fixed arm with its interval and the ROPE); each "
        "arm's refit logged as an MLflow model `selected-<arm>`.",
        plots={
            names.LANDSCAPE: lambda: landscape_figure(summary, _paths(tracker, summary)),
            names.VERDICT_PLOT: lambda: verdict_figure(summary),
        },
        outcome=summary.outcome,
        reasons=summary.reasons,
        selected=selected,
        figures=sweep_figures(summary, selected),
    )


def _paths(tracker: Tracker, summary) -> dict:
    """The trajectories the landscape draws: the chosen learning starts' fits only."""
    chosen = [r for arm, result in summary.arms.items() if arm != Arm.FIXED
              for r in result.chosen.finished]  # fmt: skip
    return trajectories(tracker, chosen)


def _trial_number(trial_id: str) -> float:
    """keras-tuner's trial ids count up from 0 (padded to the width of max_trials)."""
    return int(trial_id) if trial_id.isdigit() else math.inf


def record_comparison(tracker: Tracker, parent_id: str, wall_seconds: float) -> Comparison:
    """Compare the parent's children and log the result onto the parent: ``comparison.csv``,
    ``verdict.md``, the plots, the ``best_*`` metrics and the verdict as its description."""
    comparison = load_comparison(tracker, tracker.client.get_run(parent_id), wall_seconds)
    with tempfile.TemporaryDirectory(prefix="alphalab-summary-") as tmp:
        folder = Path(tmp)
        (folder / names.COMPARISON).write_text(comparison.csv())
        markdown = comparison.markdown()
        (folder / names.VERDICT).write_text(markdown)
        comparison.draw(folder)
        tracker.log_artifacts(parent_id, folder)
    metrics = [(k, v, 0) for k, v in comparison.metrics.items() if math.isfinite(v)]
    tracker.log_metrics(parent_id, metrics)
    tags = {names.NOTE: markdown, names.VERDICT_TAG: comparison.outcome}
    if comparison.reasons:
        tags[names.INCONCLUSIVE] = "; ".join(comparison.reasons)
    tracker.set_tags(parent_id, tags)
    return comparison


def log_selected_models(tracker: Tracker, parent_id: str, comparison: Comparison) -> list[str]:
    """Each arm's chosen run's ``model.keras`` as an MLflow Keras model logged on the parent
    (``selected-<arm>``: loadable with ``mlflow.keras.load_model`` and ``mlflow.pyfunc``, ready
    for the Model Registry); returns the models' URIs."""
    import keras
    import mlflow
    import numpy as np
    import tensorflow as tf
    from mlflow.models import Model, infer_signature

    requirements = [f"keras=={keras.__version__}", f"tensorflow=={tf.__version__}", "alphalab"]
    previous, uris = mlflow.get_tracking_uri(), []
    mlflow.set_tracking_uri(tracker.uri)
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)  # pip's version
    try:
        mlflow.set_experiment(experiment_id=tracker.experiment_id)  # where the models go
        with tempfile.TemporaryDirectory(prefix="alphalab-models-") as tmp:
            for arm, row in comparison.selected.items():
                model = load_run_model(tracker, row.run_id, f"{tmp}/{arm}")
                example = np.zeros((2, *model.inputs[0].shape[1:]), "float32")
                # an eager call: predict() would trace a function for two rows (~0.3 s a model)
                output = keras.tree.map_structure(keras.ops.convert_to_numpy, model(example))
                signature = infer_signature(example, output)
                with _no_installed_scan():
                    info = Model.log(
                        artifact_path=None,
                        name=f"selected-{arm}",
                        flavor=mlflow.keras,
                        model=model,
                        run_id=parent_id,
                        signature=signature,
                        pip_requirements=requirements,
                        tags={"alphalab.arm": str(arm), "alphalab.source_run": row.run_id},
                    )
                uris.append(info.model_uri)
    finally:
        mlflow.set_tracking_uri(previous)
    return uris


@contextlib.contextmanager
def _no_installed_scan():
    """MLflow checks a logged model's requirements against every installed distribution, only
    to warn on a mismatch: it reads the file list of each (about 1 s here, the first model of a
    process). The requirements above are this process's own versions: there is nothing to warn
    about. Without that function (another MLflow), nothing changes but the time."""
    from mlflow.utils import environment

    check = getattr(environment, SCAN, None)
    if check is None:
        yield
        return
    setattr(environment, SCAN, lambda requirements: None)
    try:
        yield
    finally:
        setattr(environment, SCAN, check)


def load_run_model(tracker: Tracker, run_id: str, folder: str):
    """A run's ``model.keras``, downloaded into ``folder`` and loaded in Keras's safe mode (a
    user's formula is registered first, as the run resolved it); a run without one (a sweep's
    grid job) has its model built on request from its config and weights."""
    import keras

    import alphalab.layers  # noqa: F401 - registers alphalab's Keras objects for loading
    from alphalab import formulas

    formula = tracker.client.get_run(run_id).data.params.get("formula", "")
    if "." in formula:  # a user's formula must be registered before loading
        formulas.resolve(formula)
    if not has_model_file(tracker, run_id):  # a sweep's grid job: built on request
        return rebuilt_model(tracker, run_id)
    local = tracker.client.download_artifacts(run_id, names.MODEL, folder)
    return keras.saving.load_model(local, safe_mode=True)


class NotFound(LookupError):
    """No such experiment, sweep or search; the message says where it looked."""


def parents(tracker: Tracker, extra: str = "") -> list:
    """Sweep and search parent runs, oldest first (MLflow's filter has no IN for tags)."""
    found = []
    for kind in (Kind.SWEEP, Kind.SEARCH):
        query = f"tags.`{names.KIND}` = '{kind}'" + (f" and {extra}" if extra else "")
        found += tracker.search(query)
    return sorted(found, key=lambda run: run.info.start_time or 0)


def find_parent(tracker: Tracker, name_or_id: str | None):
    """The sweep or search called ``name_or_id`` (a name or a run id); the latest by default."""
    if name_or_id is None:
        found = parents(tracker)
        if not found:
            raise NotFound(f"no sweep or search yet in experiment '{tracker.experiment_name}'")
        return found[-1]
    found = parents(tracker, f"tags.`{names.SWEEP_NAME}` = '{name_or_id}'")
    found = found or [run for run in parents(tracker) if run.info.run_id == name_or_id]
    if found:
        return found[-1]
    raise NotFound(
        f"no sweep or search named '{name_or_id}' in experiment '{tracker.experiment_name}'"
    )
