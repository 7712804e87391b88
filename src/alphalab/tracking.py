"""The one place that knows alphalab's MLflow conventions: store, names, run lifecycle.

Every run is opened with ``Tracker.run`` and always closed: FINISHED, FAILED with the tag
``alphalab.error`` saying why, or KILLED when interrupted.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphalab.config import project_root

# Tags
TAG_ERROR = "alphalab.error"
TAG_KIND = "alphalab.kind"  # run | sweep | search | trial | reference
TAG_JOB_KEY = "alphalab.job_key"
TAG_SWEEP_NAME = "alphalab.sweep_name"
TAG_APPROACH = "alphalab.approach"
TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"
TAG_NOTE = "mlflow.note.content"

# Metrics
FINAL_VAL_LOSS = "final_val_loss"
LEARNED_REAL = "learned_alpha_real"
LEARNED_IMAG = "learned_alpha_imag"
ALPHA_ERROR = "alpha_error"

PARAM_BATCH = 100
METRIC_BATCH = 1000


def default_uri() -> str:
    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def resolve_uri(configured: str | None) -> str:
    """``tracking.uri`` from config, else ``MLFLOW_TRACKING_URI``, else the project's store."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_uri()


def sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])


def format_alpha(real: float, imag: float) -> str:
    return f"{real:.3g}{imag:+.3g}i"


def to_param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


@dataclass
class RunHandle:
    """An open run. Call ``fail(reason)`` to end it FAILED instead of FINISHED."""

    run_id: str
    status: str = "FINISHED"
    error: str | None = None

    def fail(self, reason: str) -> None:
        self.status, self.error = "FAILED", reason


class Tracker:
    """An MLflow client bound to one store and experiment."""

    def __init__(
        self,
        uri: str | None,
        experiment_name: str,
        artifact_location: str | None = None,
        create: bool = True,
    ):
        """``create=False``: raise LookupError instead of creating a missing experiment."""
        import logging

        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)

        self.uri = resolve_uri(uri)
        db = sqlite_path(self.uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
            if artifact_location is None:
                artifact_location = (db.parent / "artifacts").as_uri()
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_name = experiment_name
        if not create:
            found = self.client.get_experiment_by_name(experiment_name)
            if found is None:
                raise LookupError(f"no experiment '{experiment_name}'")
            self.experiment_id = found.experiment_id
        else:
            self.experiment_id = self._experiment(experiment_name, artifact_location)

    def _experiment(self, name: str, artifact_location: str | None) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException:  # created meanwhile by another process
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    # --- runs -----------------------------------------------------------------------------
    def create_run(self, name: str, tags: dict[str, str], parent_id: str | None = None) -> str:
        tags = {
            "mlflow.user": getpass.getuser(),
            "mlflow.source.name": "experiments.run",
            "mlflow.source.type": "LOCAL",
            **tags,
        }
        if parent_id:
            tags[TAG_PARENT] = parent_id
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
        return run.info.run_id

    def finish(self, run_id: str, status: str = "FINISHED", error: str | None = None) -> None:
        if error:
            self.client.set_tag(run_id, TAG_ERROR, to_param(error))
        self.client.set_terminated(run_id, status=status)

    @contextmanager
    def run(
        self, name: str, tags: dict[str, str], parent_id: str | None = None
    ) -> Iterator[RunHandle]:
        handle = RunHandle(self.create_run(name, tags, parent_id))
        try:
            yield handle
        except KeyboardInterrupt:
            self.finish(handle.run_id, "KILLED", "interrupted")
            raise
        except BaseException as exc:
            self.finish(handle.run_id, "FAILED", f"{type(exc).__name__}: {exc}")
            raise
        self.finish(handle.run_id, handle.status, handle.error)

    # --- logging ----------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(key[:250], to_param(value)) for key, value in params.items()]
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
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, to_param(v)) for k, v in tags.items()])

    def log_artifacts(self, run_id: str, folder: Path) -> None:
        self.client.log_artifacts(run_id, str(folder))

    # --- queries ----------------------------------------------------------------------------
    def search(self, filter_string: str, max_results: int = 50000) -> list:
        return self.client.search_runs(
            [self.experiment_id],
            filter_string=filter_string,
            max_results=max_results,
            order_by=["attributes.start_time ASC"],
        )

    def children(self, parent_id: str) -> list:
        return self.search(f"tags.`{TAG_PARENT}` = '{parent_id}'")

    def finished_child(self, parent_id: str, job_key: str):
        found = self.search(
            f"tags.`{TAG_PARENT}` = '{parent_id}' and tags.`{TAG_JOB_KEY}` = '{job_key}' "
            "and attributes.status = 'FINISHED'"
        )
        return found[0] if found else None

    def find_parent(self, sweep_name: str):
        found = self.search(f"tags.`{TAG_SWEEP_NAME}` = '{sweep_name}'")
        return found[-1] if found else None


_TRACKERS: dict[tuple, Tracker] = {}


def tracker_for(
    uri: str | None, experiment_name: str, artifact_location: str | None = None
) -> Tracker:
    """One Tracker per store and experiment per process (jobs of one process share it)."""
    key = (resolve_uri(uri), experiment_name, artifact_location)
    if key not in _TRACKERS:
        _TRACKERS[key] = Tracker(uri, experiment_name, artifact_location)
    return _TRACKERS[key]
