"""Children written in bulk into MLflow's tables are exactly what MLflow's client writes.

The bulk path writes MLflow's own (private) schema for the version alphalab pins; this test is
what keeps it honest: the same children through both paths, compared table by table.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from alphalab.tracking.mlflow_internals import dataset_entity
from alphalab.tracking.runs import RunRecord, RunWriter
from alphalab.tracking.store import Tracker
from tests.conftest import store_uri

TABLES = {
    "runs": "SELECT * FROM runs ORDER BY name",
    "tags": "SELECT key, value, run_uuid FROM tags ORDER BY key, value",
    "params": "SELECT key, value, run_uuid FROM params ORDER BY key",
    "metrics": "SELECT * FROM metrics ORDER BY key, step, value",
    "latest_metrics": "SELECT * FROM latest_metrics ORDER BY key",
    # datasets and inputs by their content (their own ids are random)
    "datasets": "SELECT experiment_id, name, digest, dataset_source_type, dataset_source, "
    "dataset_schema, dataset_profile FROM datasets ORDER BY digest",
    "inputs": "SELECT d.digest, i.source_type, i.destination_type, i.destination_id, i.step "
    "FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id",
    "input_tags": "SELECT d.digest, i.destination_id, t.name, t.value FROM input_tags t "
    "JOIN inputs i USING (input_uuid) JOIN datasets d ON d.dataset_uuid = i.source_id",
}


def inputs(digest: str) -> list:
    import numpy as np
    from mlflow.data import from_numpy
    from mlflow.entities import DatasetInput, InputTag

    data = from_numpy(np.ones((4, 1), "float32"), targets=np.zeros((4, 2)), name="t", digest=digest)
    tags = [InputTag("mlflow.data.context", "training"), InputTag("alphalab.split", "random")]
    return [DatasetInput(dataset_entity(data), tags)]


def make_children() -> list[RunRecord]:
    finished = RunRecord(
        "trainable α 1+1.5i · seed 0", {"alphalab.kind": "run"}, {"seed": 0, "x": "y"}
    )
    finished.metrics = [("loss", 1.0, 0), ("loss", 0.5, 1), ("val_loss", 0.7, 0)]
    finished.metrics += [("val_loss", 0.6, 1), ("final_val_loss", 0.6, 0), ("loss", 0.5, 1)]
    finished.status, finished.name = "FINISHED", "trainable α 1+1.5i → 0.5+2i · seed 0"
    finished.final_tags = {"keras_tuner.status": "COMPLETED"}
    finished.files = lambda folder: (folder / "config.yaml").write_text("seed: 0\n")
    failed = RunRecord("lambda α -30+2i · seed 0", {"alphalab.kind": "run"}, {"seed": 0})
    failed.metrics = [("loss", math.inf, 0), ("val_loss", math.nan, 0), ("epochs_run", 1, 0)]
    failed.metrics += [("loss", -math.inf, 1)]
    failed.status, failed.error = "FAILED", "diverged: loss became inf at epoch 0"
    finished.inputs = inputs("d1") + inputs("d2")
    failed.inputs = inputs("d1")  # one dataset, two runs
    return [finished, failed]


def rows(db: Path) -> dict[str, list[tuple]]:
    """Every child's rows, with what differs by nature (ids, clocks) made equal."""
    with sqlite3.connect(db) as connection:
        parent = connection.execute("SELECT run_uuid FROM runs WHERE name = 'parent'").fetchone()[0]
        ids = {parent: "PARENT"}
        for (run_uuid,) in connection.execute("SELECT run_uuid FROM runs ORDER BY name"):
            ids.setdefault(run_uuid, f"RUN{len(ids)}")
        out = {}
        for table, query in TABLES.items():
            cursor = connection.execute(query)
            columns = [c[0] for c in cursor.description]
            found = []
            for row in cursor:
                row = dict(zip(columns, row, strict=True))
                if row.get("run_uuid") == parent:
                    continue
                for key in ("start_time", "end_time", "timestamp"):
                    if key in row:
                        row[key] = row[key] is not None
                for key, value in row.items():
                    if isinstance(value, str):
                        value = value.replace(str(db.parent), "FOLDER")
                        for run_uuid, label in ids.items():
                            value = value.replace(run_uuid, label)
                        row[key] = value
                found.append(tuple(sorted(row.items())))
            out[table] = sorted(found)
        return out


def write(folder: Path, bulk: bool) -> Path:
    tracker = Tracker(store_uri(folder), "alphalab")
    parent = tracker.create_run("parent", {"alphalab.kind": "sweep"})
    children = RunWriter(tracker, parent)
    assert (children.store is not None) is True
    if not bulk:
        children.store = None  # the client path, as for a tracking server
    records = make_children()
    opened = [
        RunRecord(
            r.name if r.status == "FAILED" else "trainable α₀ 1+1.5i · seed 0",
            r.tags,
            r.params,
            inputs=r.inputs,
        )
        for r in records
    ]
    children.open(opened)
    for record, open_record in zip(records, opened, strict=True):
        record.run_id, record.artifact_uri = open_record.run_id, open_record.artifact_uri
    children.close(records)
    alone = RunRecord("a single run", {"alphalab.kind": "run"}, {"seed": 1})  # no parent
    single = RunWriter(tracker)
    single.store = children.store
    single.open([alone])
    alone.status, alone.metrics = "FINISHED", [("final_val_loss", 0.5, 0)]
    single.close([alone])
    assert [a.path for a in tracker.client.list_artifacts(records[0].run_id)] == ["config.yaml"]
    return folder / "mlflow.db"


def test_bulk_children_are_the_rows_mlflows_client_writes(tmp_path):
    by_client = rows(write(tmp_path / "client", bulk=False))
    in_bulk = rows(write(tmp_path / "bulk", bulk=True))
    assert by_client["runs"] and by_client["metrics"] and len(by_client["inputs"]) == 3
    assert len(by_client["datasets"]) == 2 and len(by_client["input_tags"]) == 6
    for table in TABLES:
        assert in_bulk[table] == by_client[table], table
