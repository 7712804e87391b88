"""A keras-tuner search over alpha for the Lambda model: one parent run, every trial a child,
then one trainable reference run on the same task and seed, and the comparison of both."""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from alphalab.config import ConfigError
from alphalab.config.paths import project_root
from alphalab.config.spec import RunSpec, SearchSpec
from alphalab.engine import distributed
from alphalab.engine.job import run_job
from alphalab.engine.record import run_params
from alphalab.results.compare import record_comparison
from alphalab.tracking.parent import ParentRun
from alphalab.tracking.store import Tracker, sqlite_path, tracker_for


class SearchFailed(RuntimeError):
    """The search could not finish; the message is one line for the user."""


def tuner_directory(search: SearchSpec, tracker: Tracker) -> Path:
    """keras-tuner's state: ``search.directory``, else beside a SQLite store, else under the
    project's mlruns/."""
    if search.directory:
        return Path(search.directory)
    db = sqlite_path(tracker.uri)
    return (db.parent if db is not None else project_root() / "mlruns") / "keras-tuner"


def _prepared(run: RunSpec):
    """The search's data, after seeding everything from ``run.seed``."""
    import logging

    import keras

    from alphalab.engine.fit import prepare_data

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keras.utils.set_random_seed(run.seed)
    return prepare_data(run)


def _tuner(run: RunSpec, search: SearchSpec, data, directory: Path, tracker, parent_id: str):
    """The hypermodel's tuner, logging every trial as a child of ``parent_id``."""
    from alphalab.engine.tuner import hypermodel, make_tuner

    steps = run.train.total_steps(len(data.train.x))
    model = hypermodel(run, search, data.train.input_shape, data.train.has_imag, steps)
    return make_tuner(
        search, run, model, directory, tracker=tracker, parent_id=parent_id, data=data
    )


def _search(tuner, run: RunSpec, data) -> None:
    """Run the tuner's trials on the run's training and validation data."""
    from alphalab.engine.fit import fit_on

    train = run.train
    stacked = run.output == "stacked"
    fit_on(
        tuner.search, data.train, data.validation, train.batch_size, train.epochs, run.seed, stacked
    )


def run_search(run: RunSpec, search: SearchSpec) -> float:
    """Run (or continue) the configured search; return the best trial's validation loss."""
    tuner_id = distributed.role()
    distributed.check_name(search, tuner_id)
    search = replace(search, name=search.name or f"{search.tuner}-{datetime.now():%Y%m%d-%H%M%S}")
    tracker = tracker_for(run.tracking)
    directory = tuner_directory(search, tracker)
    if tuner_id not in (None, "chief"):
        return run_worker(run, search, tracker, tuner_id, directory)
    data = _prepared(run)
    params = {f"search.{k}": v for k, v in search.__dict__.items()}
    params.update(run_params(run, data.params()))
    started = time.time()
    parent = ParentRun.open(tracker, search.name, "search", params)
    verb = "continuing" if parent.resumed else "starting"
    if tuner_id == "chief":
        where = f"{os.environ[distributed.IP_ENV]}:{os.environ[distributed.PORT_ENV]}"
        verb = f"serving the oracle at {where} for the workers of the"
    print(
        f"alphalab: {verb} {search.tuner} search '{search.name}' (parent run {parent.run_id}); "
        f"keras-tuner state in {directory / search.name}\n"
        f"alphalab: continue it later with the same command plus search.name={search.name}",
        flush=True,
    )
    try:
        tuner = _tuner(run, search, data, directory, tracker, parent.run_id)
        tuner.oracle.max_trials = search.max_trials  # a reloaded oracle keeps its old limit
        before = len(tuner.oracle.trials)
        _search(tuner, run, data)
        new_trials = len(tuner.oracle.trials) - before
        if search.reference:
            run_job(
                run.with_alpha("trainable", run.alpha), parent_id=parent.run_id, kind="reference"
            )
        comparison = record_comparison(tracker, parent.run_id, wall_seconds=time.time() - started)
        print(comparison.console(), flush=True)
        print(f"({new_trials} new trial(s) this session)", flush=True)
        print(f"MLflow: parent run {parent.run_id} in {tracker.uri}", flush=True)
    except KeyboardInterrupt:
        parent.close("KILLED", f"interrupted; continue with search.name={search.name}")
        raise
    except ConfigError:
        parent.close("FAILED", "rejected config")
        raise
    except BaseException as exc:
        parent.close("FAILED", f"{type(exc).__name__}: {exc}")
        raise SearchFailed(f"search '{search.name}' failed: {exc}") from exc
    if tuner.errors:
        parent.close("FAILED", "; ".join(tuner.errors[:3]))
        raise SearchFailed(f"{len(tuner.errors)} trial(s) raised: {tuner.errors[0]}")
    parent.close("FINISHED")
    return comparison.metrics.get("best_trial_val_loss", math.inf)


def run_worker(run: RunSpec, search: SearchSpec, tracker: Tracker, tuner_id: str, directory):
    """A worker of a distributed search: trials from the chief's oracle, each a child of the
    parent the chief opened; the parent stays open for the chief."""
    try:
        parent = distributed.wait_for_parent(tracker, search.name, tuner_id)
    except TimeoutError as exc:
        raise SearchFailed(str(exc)) from None
    data = _prepared(run)
    own = distributed.worker_directory(directory, search.name, tuner_id)
    joined = f"search '{search.name}' (parent run {parent.info.run_id})"
    print(f"alphalab: worker {tuner_id} joins {joined}", flush=True)
    try:
        tuner = _tuner(run, search, data, own, tracker, parent.info.run_id)
        _search(tuner, run, data)
    except (ConfigError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise SearchFailed(f"worker {tuner_id} of search '{search.name}' failed: {exc}") from exc
    if tuner.errors:
        raise SearchFailed(
            f"worker {tuner_id}: {len(tuner.errors)} trial(s) raised: {tuner.errors[0]}"
        )
    print(f"alphalab: worker {tuner_id} done: {len(tuner.trial_runs)} trial(s) of '{search.name}'")
    return math.inf  # the search's result is the chief's
