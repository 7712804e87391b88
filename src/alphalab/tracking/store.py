"""An MLflow client bound to one store and experiment; every run it opens is always closed:
FINISHED, FAILED with the tag ``alphalab.error`` saying why, or KILLED when interrupted."""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alphalab.config.names import Status
from alphalab.config.paths import project_root
from alphalab.config.spec import TrackingSpec
from alphalab.session import State
from alphalab.tracking import names
from alphalab.tracking.lock import lock_file, open_client, sqlite_path, store_lock
from alphalab.tracking.mlflow_internals import bulk_store, metric_history_bulk, session, tables

PARAM_BATCH = 100  # MLflow's limits per log_batch call
METRIC_BATCH = 1000
PARAM_CHARS = 6000
KEY_CHARS = 250


def default_uri() -> str:
    """``sqlite:///<project root>/mlruns/mlflow.db``, wherever the command is started from."""
    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def resolve_uri(configured: str | None) -> str:
    """``tracking.uri`` from config, else ``MLFLOW_TRACKING_URI``, else the project's store; a
    relative SQLite path (``sqlite:///mlflow.db``, the form MLflow's docs use) made absolute
    against the folder the command starts in, as MLflow itself reads it."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or default_uri()
    prefix = "sqlite:///"
    path, mark, query = uri[len(prefix) :].partition("?")
    if uri.startswith(prefix) and path and path != ":memory:" and not Path(path).is_absolute():
        return f"{prefix}{Path.cwd() / path}{mark}{query}"
    return uri


def to_param(value: Any) -> str:
    """A value as MLflow stores params and tags (text, cut to MLflow's limit)."""
    text = str(value)
    return text if len(text) <= PARAM_CHARS else text[: PARAM_CHARS - 3] + "..."


class Tracker:
    """An MLflow client bound to one store and experiment."""

    def __init__(
        self,
        uri: str | None,
        experiment_name: str,
        artifact_location: str | None = None,
        create: bool = True,
    ):
        """``create=False``: raise LookupError instead of creating a missing SQLite store or
        experiment (for commands that only read)."""
        import logging

        import mlflow  # sets its loggers' levels on import: quieten them after

        logging.getLogger(mlflow.__name__).setLevel(logging.WARNING)

        self.uri = resolve_uri(uri)
        db = sqlite_path(self.uri)
        if db is not None and not create and not db.exists():
            raise LookupError(f"no MLflow store at {db}")
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
            if artifact_location is None:
                artifact_location = (db.parent / "artifacts").as_uri()
        elif artifact_location is None and lock_file(self.uri) is not None:
            # a SQL database: the project's folder, not MLflow's default ./mlruns of any cwd
            artifact_location = (project_root() / "mlruns" / "artifacts").as_uri()
        self.client = open_client(self.uri)  # creates or migrates the store one process at a time
        self._writer: tuple[Any, str] | None = None
        self.experiment_name = experiment_name
        found = self.client.get_experiment_by_name(experiment_name)
        if found is not None:
            self.experiment_id = found.experiment_id
        elif not create:
            raise LookupError(f"no experiment '{experiment_name}'")
        else:
            with store_lock(self.uri):
                self.experiment_id = self._create_experiment(experiment_name, artifact_location)

    def _create_experiment(self, name: str, artifact_location: str | None) -> str:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException:  # created meanwhile by another process
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def __getstate__(self) -> dict:
        """Pickled (Hydra's submitit launcher pickles itself, with the sweep's tracker) without
        the SQL store it decided on: that holds an engine, which does not pickle; the copy
        decides again."""
        return {**self.__dict__, "_writer": None}

    def writer(self) -> tuple[Any, str]:
        """(MLflow's SQL store where alphalab may write and read its tables directly, else None
        and the client is used; why), decided once per store and process."""
        if self._writer is None:
            self._writer = bulk_store(self.client, self.uri)
        return self._writer

    # --- runs -----------------------------------------------------------------------------
    @staticmethod
    def default_tags() -> dict[str, str]:
        """The tags MLflow's own tools give every run: who ran it, from where."""
        return {
            "mlflow.user": getpass.getuser(),
            "mlflow.source.name": "experiments.run",
            "mlflow.source.type": "LOCAL",
        }

    def create_run(self, name: str, tags: dict[str, str], parent_id: str | None = None) -> str:
        """A new RUNNING run (a child of ``parent_id`` if given); returns its id."""
        return self.new_run(name, tags, parent_id).run_id

    def new_run(self, name: str, tags: dict[str, str], parent_id: str | None = None):
        """A new RUNNING run (a child of ``parent_id`` if given); returns MLflow's RunInfo."""
        tags = {**self.default_tags(), **tags}
        if parent_id:
            tags[names.PARENT] = parent_id
        return self.client.create_run(self.experiment_id, run_name=name, tags=tags).info

    def finish(self, run_id: str, status: str = Status.FINISHED, error: str | None = None) -> None:
        """End a run with ``status``; ``error`` becomes its ``alphalab.error`` tag."""
        if error:
            self.client.set_tag(run_id, names.ERROR, to_param(error))
        self.client.set_terminated(run_id, status=status)

    def reopen(self, run_id: str) -> None:
        """Mark an ended run RUNNING again (a resumed sweep or search)."""
        self.client.update_run(run_id, status=Status.RUNNING.value)

    # --- logging ----------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Log params in batches of MLflow's size."""
        from mlflow.entities import Param

        items = [Param(key[:KEY_CHARS], to_param(value)) for key, value in params.items()]
        for start in range(0, len(items), PARAM_BATCH):
            self.client.log_batch(run_id, params=items[start : start + PARAM_BATCH])

    def log_metrics(
        self,
        run_id: str,
        metrics: Iterable[tuple[str, float, int]],
        tags: dict[str, str] | None = None,
    ) -> None:
        """Log ``(key, value, step)`` triples (and tags) in as few calls as MLflow allows;
        non-finite values are logged as they are."""
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        items = [Metric(key, float(value), now, int(step)) for key, value, step in metrics]
        run_tags = [RunTag(k, to_param(v)) for k, v in (tags or {}).items()]
        for start in range(0, max(len(items), 1), METRIC_BATCH):
            batch = items[start : start + METRIC_BATCH]
            self.client.log_batch(run_id, metrics=batch, tags=run_tags if start == 0 else [])

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Set several tags in one call."""
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, to_param(v)) for k, v in tags.items()])

    def log_artifacts(self, run_id: str, folder: Path) -> None:
        """Upload every file in ``folder`` as an artifact of the run."""
        self.client.log_artifacts(run_id, str(folder))

    # --- queries ----------------------------------------------------------------------------
    def search(self, filter_string: str, max_results: int = 50000) -> list:
        """Runs of the experiment matching an MLflow filter, oldest first."""
        return self.client.search_runs(
            [self.experiment_id],
            filter_string=filter_string,
            max_results=max_results,
            order_by=["attributes.start_time ASC"],
        )

    def histories(self, run_ids: list[str], key: str) -> dict[str, dict[int, float]]:
        """``{run_id: {step: value}}`` of one metric for many runs: in a few queries where the
        bulk writer may read the store's tables, else one call per run."""
        store = self.writer()[0]
        out: dict[str, dict[int, float]] = {run_id: {} for run_id in run_ids}
        if store is None:
            for run_id in run_ids:
                for m in self.client.get_metric_history(run_id, key):
                    out[run_id][m.step] = m.value
            return out
        for start in range(0, len(run_ids), 500):
            for found in metric_history_bulk(store, run_ids[start : start + 500], key):
                out[found.run_id][found.step] = found.value
        return out

    def child_ids(self, parent_id: str) -> set[str] | None:
        """The run ids of ``parent_id``'s children, in one query where the bulk writer may read
        the store's tables (None elsewhere: list them with ``children``)."""
        store = self.writer()[0]
        if store is None:
            return None
        run, tag = tables()["runs"], tables()["tags"]
        with session(store) as reading:
            found = (
                reading.query(tag.run_uuid)
                .join(run, run.run_uuid == tag.run_uuid)
                .filter(tag.key == names.PARENT, tag.value == parent_id)
                .filter(run.experiment_id == int(self.experiment_id))
                .filter(run.lifecycle_stage == "active")
            )
            return {row[0] for row in found}

    def runs_by_id(self, run_ids: list[str]) -> list:
        """These runs of the experiment, in a few searches."""
        found = []
        for start in range(0, len(run_ids), 100):
            quoted = ", ".join(f"'{run_id}'" for run_id in run_ids[start : start + 100])
            found += self.search(f"attributes.run_id IN ({quoted})")
        return found

    def children(self, parent_id: str) -> list:
        """The children of a parent run, oldest first."""
        return self.search(f"tags.`{names.PARENT}` = '{parent_id}'")

    def finished_child(self, parent_id: str, job_key: str):
        """A FINISHED child of ``parent_id`` for the job ``job_key``, or None."""
        found = self.search(
            f"tags.`{names.PARENT}` = '{parent_id}' and tags.`{names.JOB_KEY}` = '{job_key}' "
            "and attributes.status = 'FINISHED'"
        )
        return found[0] if found else None

    def find_parent(self, name: str):
        """The latest sweep or search parent run called ``name``, or None."""
        found = self.search(f"tags.`{names.SWEEP_NAME}` = '{name}'")
        return found[-1] if found else None


# {(uri, experiment, artifact location): Tracker}; a reset forgets them (the next caller opens
# a client again; a tracker in use, such as an open parent run's, stays valid).
_TRACKERS: State[dict[tuple, Tracker]] = State("tracking.store.trackers", dict)


def tracker_for(spec: TrackingSpec) -> Tracker:
    """One Tracker per store and experiment per process (jobs of one process share it)."""
    key = (resolve_uri(spec.uri), spec.experiment_name, spec.artifact_location)
    trackers = _TRACKERS.get()
    if key not in trackers:
        trackers[key] = Tracker(spec.uri, spec.experiment_name, spec.artifact_location)
    return trackers[key]
