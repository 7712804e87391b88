"""Many child runs of one parent in as few writes as the store allows.

Through MLflow's client a child costs three calls and tens of milliseconds; thousands of
children cost minutes. On a SQL store (SQLite, PostgreSQL) of the MLflow version alphalab pins,
``Children`` writes exactly the rows MLflow's own ``create_run``, ``log_batch`` and
``set_terminated`` write, for all children at once: one transaction to open them RUNNING, one to
close them. Elsewhere (a tracking server) it uses the client, from several threads.
``tests/test_children.py`` checks the rows against the client's, table by table.
"""

from __future__ import annotations

import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphalab.tracking import names
from alphalab.tracking.store import KEY_CHARS, Tracker, to_param

BULK_MLFLOW = "3.17."  # the MLflow whose tables the bulk path writes (rows checked by tests)
THREADS = 4  # a tracking server answers several clients at once; SQLite would not


@dataclass
class Child:
    """One child run: what it is created with, then what it ends with."""

    name: str
    tags: dict[str, str]
    params: dict[str, Any]
    run_id: str = ""
    artifact_uri: str = ""
    status: str = "RUNNING"
    error: str | None = None
    metrics: list[tuple[str, float, int]] = field(default_factory=list)


def _sql_store(tracker: Tracker):
    import mlflow
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = tracker.client._tracking_client.store
    if isinstance(store, SqlAlchemyStore) and mlflow.__version__.startswith(BULK_MLFLOW):
        return store
    return None


def _sanitize(value: float) -> tuple[bool, float]:
    """A metric as MLflow's SQL store keeps it: NaN as 0 with is_nan, infinities as +-max."""
    if math.isnan(value):
        return True, 0.0
    if math.isinf(value):
        return False, 1.7976931348623157e308 if value > 0 else -1.7976931348623157e308
    return False, float(value)


class Children:
    """The child runs of ``parent_id`` in ``tracker``'s experiment."""

    def __init__(self, tracker: Tracker, parent_id: str):
        self.tracker, self.parent_id = tracker, parent_id
        self.store = _sql_store(tracker)

    def open(self, children: list[Child]) -> None:
        """Create every child RUNNING, with its tags and params."""
        if self.store is None:
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(self._open_one, children))
            return
        from mlflow.entities import LifecycleStage, SourceType
        from mlflow.utils.uri import append_to_uri_path

        location = self.store.get_experiment(self.tracker.experiment_id).artifact_location
        now = int(time.time() * 1000)
        runs, tags, params = [], [], []
        default_tags = self.tracker.default_tags()
        for child in children:
            child.run_id = uuid.uuid4().hex
            child.artifact_uri = append_to_uri_path(location, child.run_id, "artifacts")
            child_tags = {**default_tags, **child.tags, names.RUN_NAME: child.name}
            child_tags[names.PARENT] = self.parent_id
            runs.append(
                {
                    "run_uuid": child.run_id,
                    "name": child.name,
                    "source_type": SourceType.to_string(SourceType.UNKNOWN),
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": child_tags.get("mlflow.user", "unknown"),
                    "status": "RUNNING",
                    "start_time": now,
                    "end_time": None,
                    "deleted_time": None,
                    "source_version": "",
                    "lifecycle_stage": LifecycleStage.ACTIVE,
                    "artifact_uri": child.artifact_uri,
                    "experiment_id": int(self.tracker.experiment_id),
                }
            )
            tags += [_row(child.run_id, k, v) for k, v in child_tags.items()]
            params += [_row(child.run_id, k[:KEY_CHARS], v) for k, v in child.params.items()]
        self._insert({"runs": runs, "tags": tags, "params": params})

    def _open_one(self, child: Child) -> None:
        info = self.tracker.new_run(child.name, child.tags, self.parent_id)
        child.run_id, child.artifact_uri = info.run_id, info.artifact_uri
        self.tracker.log_params(child.run_id, child.params)

    def close(self, children: list[Child]) -> None:
        """Log every child's metrics and final name, and end it with its status."""
        if self.store is None:
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(self._close_one, children))
            return
        now = int(time.time() * 1000)
        metrics, latest, tags, runs, names_ = [], [], [], [], []
        for child in children:
            newest: dict[str, dict] = {}
            seen = set()
            for key, value, step in child.metrics:
                is_nan, stored = _sanitize(float(value))
                if (key, stored, is_nan, step) in seen:  # MLflow drops exact duplicates
                    continue
                seen.add((key, stored, is_nan, step))
                row = {"key": key, "value": stored, "timestamp": now, "step": int(step)}
                row |= {"is_nan": is_nan, "run_uuid": child.run_id}
                metrics.append(row)
                old = newest.get(key)
                if old is None or (row["step"], row["value"]) > (old["step"], old["value"]):
                    newest[key] = row
            latest += list(newest.values())
            if child.error:
                tags.append(_row(child.run_id, names.ERROR, child.error))
            run = {"b_run": child.run_id, "b_status": child.status, "b_end": now}
            runs.append({**run, "b_name": child.name})
            names_.append({"b_run": child.run_id, "b_value": child.name})
        self._insert({"metrics": metrics, "latest_metrics": latest, "tags": tags})
        self._update(runs, names_)

    def _close_one(self, child: Child) -> None:
        self.tracker.log_metrics(child.run_id, child.metrics, tags={names.RUN_NAME: child.name})
        self.tracker.finish(child.run_id, child.status, child.error)

    def artifact_folder(self, child: Child) -> Path | None:
        """Where the child's artifacts can be written directly (a local artifact store)."""
        from mlflow.utils.file_utils import local_file_uri_to_path

        if child.artifact_uri.startswith("file:"):
            return Path(local_file_uri_to_path(child.artifact_uri))
        return None

    # --- SQL ----------------------------------------------------------------------------------
    def _insert(self, tables: dict[str, list[dict]]) -> None:
        """Insert rows into MLflow's tables, in one transaction."""
        from mlflow.store.tracking.dbmodels import models
        from sqlalchemy import insert

        classes = {cls.__tablename__: cls for cls in _tables(models)}
        with self.store.ManagedSessionMaker(read_only=False) as session:
            for table, rows in tables.items():
                if not rows:
                    continue
                if session.bind.dialect.name == "sqlite":  # Core's per-row work costs more
                    columns = list(rows[0])
                    marks = ", ".join("?" * len(columns))
                    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                    values = [tuple(row[c] for c in columns) for row in rows]
                    session.connection().exec_driver_sql(sql, values)
                else:
                    session.execute(insert(classes[table]), rows)

    def _update(self, runs: list[dict], run_names: list[dict]) -> None:
        """End the runs (status, end time, final name) and rename their runName tags."""
        from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag
        from sqlalchemy import bindparam, update

        run, tag = SqlRun.__table__, SqlTag.__table__
        ended = (
            update(run)
            .where(run.c.run_uuid == bindparam("b_run"))
            .values(
                status=bindparam("b_status"), end_time=bindparam("b_end"), name=bindparam("b_name")
            )
        )
        renamed = (
            update(tag)
            .where(tag.c.run_uuid == bindparam("b_run"), tag.c.key == names.RUN_NAME)
            .values(value=bindparam("b_value"))
        )
        with self.store.ManagedSessionMaker(read_only=False) as session:
            connection = session.connection()
            connection.execute(ended, runs)
            connection.execute(renamed, run_names)


def _row(run_id: str, key: str, value: Any) -> dict:
    return {"key": key, "value": to_param(value), "run_uuid": run_id}


def _tables(models) -> list[type]:
    return [models.SqlRun, models.SqlTag, models.SqlParam, models.SqlMetric, models.SqlLatestMetric]
