"""The one writer of training runs: one run or thousands, in as few writes as the store allows.

Through MLflow's client a run costs three calls and tens of milliseconds; thousands of runs cost
minutes. On a SQL store (SQLite, PostgreSQL) whose schema is one it was written for
(``mlflow_internals.BULK_REVISIONS``), ``RunWriter`` writes exactly the rows MLflow's own
``create_run``, ``log_batch`` and ``set_terminated`` write, for all runs at once: one transaction
to open them RUNNING, one to close them. Anywhere else (a tracking server, another MLflow's
schema) it writes the same records through the client, from several threads
(``tracking.unreachable``: a server that stops answering). Artifacts go straight into a local
artifact folder, or are uploaded. ``tests/test_writers.py`` writes every record both ways and
compares what landed; ``tests/test_children.py`` compares the rows, table by table.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphalab.config.names import Status
from alphalab.tracking import names
from alphalab.tracking.files import write_files_beside
from alphalab.tracking.inputs import input_rows
from alphalab.tracking.kept import keep
from alphalab.tracking.mlflow_internals import local_path, run_artifact_uri, session, tables
from alphalab.tracking.rows import in_key_order, metric_rows, param_row
from alphalab.tracking.store import KEY_CHARS, Tracker
from alphalab.tracking.unreachable import each, is_unreachable, quiet_retries

THREADS = 4  # a tracking server answers several clients at once; SQLite would not
CHUNK = 512  # runs whose metric rows are built and inserted at a time (memory stays flat)


@dataclass
class RunRecord:
    """Everything one run leaves in MLflow: what it is opened with (name, tags, params), then
    what it ends with (its name then, metrics with their steps, tags set at the end, status,
    error, and what writes its artifacts into a folder)."""

    name: str
    tags: dict[str, str]
    params: dict[str, Any]
    run_id: str = ""
    artifact_uri: str = ""
    status: str = Status.RUNNING
    error: str | None = None
    metrics: list[tuple[str, float, int]] = field(default_factory=list)
    final_tags: dict[str, str] = field(default_factory=dict)
    files: Callable[[Path], None] | None = None
    inputs: list = field(default_factory=list)  # MLflow DatasetInputs: the data it trained on
    logged: set = field(default_factory=set)  # (key, step) of metrics written while it ran
    start_time: int = 0  # when it was opened (ms)

    def unlogged(self) -> list[tuple[str, float, int]]:
        """Its metrics not yet written while it ran."""
        return [m for m in self.metrics if (m[0], m[2]) not in self.logged]

    def end_with(self, other: RunRecord) -> None:
        """Take the end of ``other`` (the same run, described after its fit)."""
        self.name, self.metrics, self.final_tags = other.name, other.metrics, other.final_tags
        self.status, self.error, self.files = other.status, other.error, other.files


def writer_line(tracker: Tracker) -> str:
    """The one line a sweep or search says about how its runs are written, and why."""
    store, why = tracker.writer()
    how = "in bulk into the store's SQL tables" if store is not None else "through MLflow's client"
    return f"alphalab: runs are written {how}: {why}"


class RunWriter:
    """Writes runs into ``tracker``'s experiment, as children of ``parent_id`` if given."""

    def __init__(self, tracker: Tracker, parent_id: str | None = None):
        self.tracker, self.parent_id = tracker, parent_id
        self.store = tracker.writer()[0]
        if self.store is None:
            quiet_retries()

    def open(self, children: list[RunRecord]) -> None:
        """Create every run RUNNING, with its tags and params."""
        if self.store is None:
            uri = self.tracker.uri
            each(uri, self._open_one, children[:1], THREADS)  # it creates the datasets others find
            each(uri, self._open_one, children[1:], THREADS)
            return
        from mlflow.entities import LifecycleStage, SourceType

        location = self.tracker.client.get_experiment(self.tracker.experiment_id).artifact_location
        now = int(time.time() * 1000)
        runs, tags, params = [], [], []
        default_tags = self.tracker.default_tags()
        ids = sorted(uuid.uuid4().hex for _ in children)  # see rows.in_key_order
        for child, run_id in zip(children, ids, strict=True):
            child.run_id, child.start_time = run_id, now
            child.artifact_uri = run_artifact_uri(location, child.run_id)
            child_tags = {**default_tags, **child.tags, names.RUN_NAME: child.name}
            if self.parent_id:
                child_tags[names.PARENT] = self.parent_id
            runs.append(
                {
                    "run_uuid": child.run_id,
                    "name": child.name,
                    "source_type": SourceType.to_string(SourceType.UNKNOWN),
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": child_tags.get("mlflow.user", "unknown"),
                    "status": Status.RUNNING.value,
                    "start_time": now,
                    "end_time": None,
                    "deleted_time": None,
                    "source_version": "",
                    "lifecycle_stage": LifecycleStage.ACTIVE,
                    "artifact_uri": child.artifact_uri,
                    "experiment_id": int(self.tracker.experiment_id),
                }
            )
            tags += [param_row(child.run_id, k, v) for k, v in child_tags.items()]
            params += [param_row(child.run_id, k[:KEY_CHARS], v) for k, v in child.params.items()]
        self._insert(
            {
                "runs": runs,
                "tags": tags,
                "params": params,
                **input_rows(self.store, self.tracker.experiment_id, children),
            }
        )

    def _open_one(self, child: RunRecord) -> None:
        info = self.tracker.new_run(child.name, child.tags, self.parent_id)
        child.run_id, child.artifact_uri = info.run_id, info.artifact_uri
        child.start_time = info.start_time
        self.tracker.log_params(child.run_id, child.params)
        if child.inputs:
            from mlflow.exceptions import MlflowException

            try:
                self.tracker.client.log_inputs(child.run_id, datasets=child.inputs)
            except MlflowException:  # another process created the same dataset meanwhile
                self.tracker.client.log_inputs(child.run_id, datasets=child.inputs)

    def live(
        self,
        points: list[tuple[RunRecord, list[tuple[str, float, int]]]],
        parent: list[tuple[str, float, int]] = (),
    ) -> None:
        """Log metrics of runs still RUNNING (their epochs so far), and ``parent`` on the
        parent run, all in one write on a SQL store; ``close`` later writes only what was not
        logged here."""
        if parent and self.parent_id:
            points = [*points, (RunRecord("", {}, {}, run_id=self.parent_id), list(parent))]
        if self.store is None:

            def log(item):
                child, values = item
                self.tracker.log_metrics(child.run_id, values)

            each(self.tracker.uri, log, [item for item in points if item[1]], THREADS)
        else:
            now = int(time.time() * 1000)
            metrics, latest = [], []
            for child, values in points:
                rows, newest = metric_rows(child.run_id, values, now)
                metrics += rows
                latest += newest
            self._insert({"metrics": metrics}, latest=latest)
        for child, values in points:
            child.logged.update((key, step) for key, _, step in values)

    def close(self, children: list[RunRecord]) -> None:
        """Write every run's artifacts, log its metrics (those not logged while it ran), final
        name and tags, and end it with its status."""
        if self.store is None:
            each(self.tracker.uri, self._close_one, children, THREADS)
            keep(self.parent_id, children)
            return
        now = int(time.time() * 1000)
        files = write_files_beside(children, self._write_files, self.artifact_folder)
        with session(self.store, write=True) as transaction:
            for start in range(0, len(children), CHUNK):  # rows of a few runs at a time
                metrics, latest, replaced = [], [], []
                for child in children[start : start + CHUNK]:
                    rows, newest = metric_rows(child.run_id, child.unlogged(), now)
                    metrics += rows
                    latest += newest
                    logged = {key for key, _ in child.logged}  # keys logged while it ran
                    replaced += [row for row in newest if row["key"] in logged]
                self._put(transaction, {"metrics": metrics}, latest, replaced)
        files.wait()
        tags, runs, names_ = [], [], []
        for child in children:  # their artifacts written: the status each ends with is known
            tags += [param_row(child.run_id, k, v) for k, v in child.final_tags.items()]
            if child.error:
                tags.append(param_row(child.run_id, names.ERROR, child.error))
            run = {"b_run": child.run_id, "b_status": child.status, "b_end": now}
            runs.append({**run, "b_name": child.name})
            names_.append({"b_run": child.run_id, "b_value": child.name})
        self._insert({"tags": tags})
        self._update(runs, names_)
        keep(self.parent_id, children)

    def _close_one(self, child: RunRecord) -> None:
        self._write_files(child)
        tags = {**child.final_tags, names.RUN_NAME: child.name}
        self.tracker.log_metrics(child.run_id, child.unlogged(), tags=tags)
        self.tracker.finish(child.run_id, child.status, child.error)

    def _write_files(self, child: RunRecord) -> str | None:
        """The run's artifacts: straight into its artifact folder on a local store, else
        written to a temporary folder and uploaded. Returns why they could not be written
        (the run then ends FAILED, saying so), None when they were."""
        if child.files is None:
            return None
        try:
            folder = self.artifact_folder(child)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                child.files(folder)
                return None
            with tempfile.TemporaryDirectory(prefix="alphalab-run-") as tmp:
                child.files(Path(tmp))
                self.tracker.log_artifacts(child.run_id, Path(tmp))
        except Exception as exc:  # noqa: BLE001 - the run ends FAILED, saying why
            if is_unreachable(exc):  # nothing can be written: the sweep stops
                raise
            child.status = Status.FAILED
            child.error = f"its artifacts could not be written: {type(exc).__name__}: {exc}"
            return child.error
        return None

    def artifact_folder(self, child: RunRecord) -> Path | None:
        """Where the run's artifacts can be written directly (a local artifact store)."""
        if child.artifact_uri.startswith("file:"):
            return local_path(child.artifact_uri)
        return None

    # --- SQL ----------------------------------------------------------------------------------
    def _insert(self, rows_of: dict[str, list[dict]], latest: list[dict] | None = None) -> None:
        """Insert rows into MLflow's tables, in one transaction; ``latest``: rows of
        ``latest_metrics`` that replace any a run already has for that key."""
        with session(self.store, write=True) as transaction:
            self._put(transaction, rows_of, latest, replace=True)

    def _put(self, transaction, rows_of: dict[str, list[dict]], latest, replace) -> None:
        """Insert rows in ``transaction``; ``latest`` rows replace a run's for that key when
        ``replace`` is True or lists them (else they are its first)."""
        from sqlalchemy import bindparam, delete, insert

        classes = tables()
        older = latest if replace is True else replace or []
        if latest and older:
            table = classes["latest_metrics"].__table__
            replaced = delete(table).where(
                table.c.run_uuid == bindparam("b_run"), table.c.key == bindparam("b_key")
            )
            transaction.connection().execute(
                replaced, [{"b_run": row["run_uuid"], "b_key": row["key"]} for row in older]
            )
        if latest:
            rows_of = {**rows_of, "latest_metrics": latest}
        for table, rows in rows_of.items():
            if not rows:
                continue
            if transaction.bind.dialect.name == "sqlite":  # Core's per-row work costs more
                columns = list(rows[0])
                marks = ", ".join("?" * len(columns))
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                values = [tuple(row[c] for c in columns) for row in rows]
                in_key_order(classes[table], columns, values)
                transaction.connection().exec_driver_sql(sql, values)
            else:
                transaction.execute(insert(classes[table]), rows)

    def _update(self, runs: list[dict], run_names: list[dict]) -> None:
        """End the runs (status, end time, final name) and rename their runName tags."""
        from sqlalchemy import bindparam, update

        run, tag = tables()["runs"].__table__, tables()["tags"].__table__
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
        with session(self.store, write=True) as transaction:
            connection = transaction.connection()
            connection.execute(ended, runs)
            connection.execute(renamed, run_names)
