"""One suite over both writers, as Optuna runs one storage suite over every storage: the same
records written by the bulk SQL writer and by MLflow's client (what every other store gets), each
into a real SQLite store, read back through MLflow's public client and compared: params, metrics
and their histories, tags, dataset inputs, artifacts, statuses and names.

Under an MLflow whose schema the bulk writer was not written for (3.10, see
tests/test_mlflow_versions.py) only the client writer runs, and what it wrote is held to the
records themselves. tests/test_children.py compares the two writers' rows table by table.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from alphalab.tracking import names
from alphalab.tracking.mlflow_internals import (
    BULK_REVISIONS,
    CLIENT_WRITER,
    dataset_entity,
    mlflow_revisions,
)
from alphalab.tracking.rows import sanitize
from alphalab.tracking.runs import RunRecord, RunWriter, writer_line
from alphalab.tracking.store import KEY_CHARS, Tracker, to_param
from tests.conftest import store_uri

WRITERS = ["bulk", "client"]
EPOCHS, LIVE = 30, 10  # epochs of the trained runs; how many are logged while they run
LONG = 1500  # points of one history: more than MLflow takes in one log_batch (1000)
BULK_HERE = mlflow_revisions()[1] <= BULK_REVISIONS


def inputs(*digests: str) -> list:
    import numpy as np
    from mlflow.data import from_numpy
    from mlflow.entities import DatasetInput, InputTag

    out = []
    for digest in digests:
        data = from_numpy(np.ones((4, 1)), targets=np.zeros((4, 2)), name="t", digest=digest)
        tags = [InputTag("mlflow.data.context", "training"), InputTag("alphalab.split", "random")]
        out.append(DatasetInput(dataset_entity(data), tags))
    return out


def write_files(folder: Path) -> None:
    (folder / "config.yaml").write_text("seed: 0\n")
    (folder / "nested").mkdir()
    (folder / "nested" / "weights.json").write_text('{"alpha/kernel": [1.0, 2.0]}')


def records() -> list[tuple[RunRecord, RunRecord]]:
    """(as each run is opened, as it ends): a trained run, a diverged one, one with a long
    history and many params and tags (past MLflow's per-call limits), an interrupted one."""
    params = {"seed": 0, "x": "y", "long": "v" * 7000, "k" * 300: 1} | {
        f"p{i}": i for i in range(120)
    }
    curves = [(key, 1.0 / (1 + e + i), e) for e in range(EPOCHS) for i, key in enumerate(
        ("loss", "val_loss", "alpha_real", "alpha_imag"))]  # fmt: skip
    trained = RunRecord(
        "trained α₀ 1+1.5i", {"alphalab.kind": "run"}, params, inputs=inputs("d1", "d2")
    )
    trained_end = RunRecord("trained α 1+1.5i → 0.5+2i", {}, {})
    trained_end.metrics = [*curves, ("final_val_loss", 0.6, 0), ("loss", 1.0, 0)]  # a duplicate
    trained_end.status, trained_end.files = "FINISHED", write_files
    trained_end.final_tags = {"keras_tuner.status": "COMPLETED"}
    diverged = RunRecord("diverged", {"alphalab.kind": "run"}, {"seed": 1}, inputs=inputs("d1"))
    diverged_end = RunRecord("diverged", {}, {})
    diverged_end.metrics = [
        ("loss", math.inf, 0),
        ("val_loss", math.nan, 0),
        ("loss", -math.inf, 1),
    ]
    diverged_end.status, diverged_end.error = "FAILED", "diverged: loss became inf at epoch 0"
    long = RunRecord("long", {"alphalab.kind": "run"}, {"seed": 2})
    long_end = RunRecord("long", {}, {})
    long_end.metrics = [("loss", 1.0 / (1 + e), e) for e in range(LONG)]
    long_end.final_tags = {f"alphalab.t{i}": str(i) for i in range(150)}
    long_end.status, long_end.files = "FINISHED", write_files
    killed = RunRecord("killed", {"alphalab.kind": "run"}, {"seed": 3})
    killed_end = RunRecord("killed", {}, {})
    killed_end.status, killed_end.error = "KILLED", "interrupted"
    return [
        (trained, trained_end),
        (diverged, diverged_end),
        (long, long_end),
        (killed, killed_end),
    ]


def write(folder: Path, writer: str, monkeypatch) -> tuple[Tracker, list]:
    """Every record through ``writer``: opened, its first epochs logged while it runs (and the
    parent's), then closed; and a run of its own (no parent)."""
    if writer == "client":
        monkeypatch.setenv(CLIENT_WRITER, "1")
    else:
        monkeypatch.delenv(CLIENT_WRITER, raising=False)
    tracker = Tracker(store_uri(folder), "alphalab")
    parent = tracker.create_run("parent", {"alphalab.kind": "sweep"})
    children = RunWriter(tracker, parent)
    assert (children.store is not None) == (writer == "bulk"), writer_line(tracker)
    assert ("in bulk" in writer_line(tracker)) == (writer == "bulk")
    pairs = records()
    opened = [start for start, _ in pairs]
    children.open(opened)
    trained, trained_end = pairs[0]
    children.live([(trained, [m for m in trained_end.metrics if m[2] < LIVE])], [("best", 0.5, 0)])
    for start, end in pairs:
        start.end_with(end)
    children.close(opened)
    alone = RunRecord("alone", {"alphalab.kind": "run"}, {"seed": 4})
    single = RunWriter(tracker)
    single.open([alone])
    alone.status, alone.metrics = "FINISHED", [("final_val_loss", 0.5, 0)]
    single.close([alone])
    return tracker, [*opened, alone]


def value(number: float) -> float | str:
    return "nan" if math.isnan(number) else number


def landed(tracker: Tracker, folder: Path) -> dict[str, dict]:
    """Every run of the store as MLflow's public client reads it, by name; run ids as names."""
    c = tracker.client
    runs = c.search_runs([tracker.experiment_id], max_results=100)
    named = {run.info.run_id: run.info.run_name for run in runs}
    out = {}
    for run in runs:
        run_id = run.info.run_id
        local = Path(c.download_artifacts(run_id, "", str(folder / "read" / run_id)))
        out[run.info.run_name] = {
            "status": run.info.status,
            "ended": run.info.end_time is not None and run.info.start_time > 0,
            "params": dict(run.data.params),
            "tags": {k: named.get(v, v) for k, v in run.data.tags.items()},
            "metrics": {k: value(v) for k, v in run.data.metrics.items()},
            "histories": {
                key: sorted((m.step, value(m.value)) for m in c.get_metric_history(run_id, key))
                for key in run.data.metrics
            },
            "inputs": sorted(
                (
                    i.dataset.name,
                    i.dataset.digest,
                    i.dataset.source_type,
                    i.dataset.source,
                    i.dataset.schema,
                    i.dataset.profile,
                    sorted((t.key, t.value) for t in i.tags),
                )
                for i in run.inputs.dataset_inputs
            ),
            "artifacts": {
                str(p.relative_to(local)): p.read_text() for p in local.rglob("*") if p.is_file()
            },
        }
    return out


@pytest.mark.parametrize("writer", WRITERS)
def test_a_writer_lands_every_record_whole(tmp_path, monkeypatch, writer):
    if writer == "bulk" and not BULK_HERE:
        pytest.skip(f"the bulk writer is not written for this MLflow's schema {mlflow_revisions()}")
    tracker, written = write(tmp_path, writer, monkeypatch)
    found = landed(tracker, tmp_path)
    assert set(found) == {r.name for r in written} | {"parent"}
    assert found["parent"]["histories"] == {"best": [(0, 0.5)]}
    for record in written:
        run = found[record.name]
        assert run["status"] == record.status and run["ended"], record.name
        assert run["params"] == {k[:KEY_CHARS]: to_param(v) for k, v in record.params.items()}
        tags = {**record.tags, **record.final_tags, names.RUN_NAME: record.name}
        if record.name != "alone":
            tags[names.PARENT] = "parent"
        if record.error:
            tags[names.ERROR] = record.error
        assert {k: run["tags"].get(k) for k in tags} == tags, record.name
        points = {key: set() for key, _, _ in record.metrics}
        for key, number, step in record.metrics:  # infinities as MLflow keeps them
            points[key].add((step, value(number if math.isnan(number) else sanitize(number)[1])))
        assert {k: set(v) for k, v in run["histories"].items()} == points, record.name
        given = {
            (i.dataset.digest, tuple(sorted((t.key, t.value) for t in i.tags)))
            for i in record.inputs
        }
        assert {(i[1], tuple(i[6])) for i in run["inputs"]} == given, record.name
        if record.files is not None:
            assert run["artifacts"] == {
                "config.yaml": "seed: 0\n",
                "nested/weights.json": '{"alpha/kernel": [1.0, 2.0]}',
            }
    assert len(found["long"]["histories"]["loss"]) == LONG
    assert found["trained α 1+1.5i → 0.5+2i"]["metrics"]["loss"] == pytest.approx(1 / 30)


@pytest.mark.skipif(not BULK_HERE, reason="the bulk writer is not written for this schema")
def test_both_writers_land_the_same_runs(tmp_path, monkeypatch):
    by_client = landed(*write(tmp_path / "client", "client", monkeypatch)[:1], tmp_path / "c")
    in_bulk = landed(*write(tmp_path / "bulk", "bulk", monkeypatch)[:1], tmp_path / "b")
    assert in_bulk.keys() == by_client.keys()
    for name, run in by_client.items():
        for part, found in run.items():
            assert in_bulk[name][part] == found, (name, part)


def test_a_tracker_that_chose_its_writer_still_pickles(tmp_path):
    """Hydra's submitit launcher pickles itself with the sweep's tracker (CI: 'cannot pickle
    weakref' once the tracker kept its SQL store); the copy decides its writer again."""
    import pickle

    tracker = Tracker(store_uri(tmp_path), "pickled")
    chosen = tracker.writer()
    copy = pickle.loads(pickle.dumps(tracker))
    assert copy.uri == tracker.uri and copy.experiment_id == tracker.experiment_id
    assert (copy.writer()[0] is None) == (chosen[0] is None)
