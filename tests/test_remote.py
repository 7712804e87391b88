"""What a shard carries to a Ray or SLURM worker, checked in process: the store as the launching
process resolves it, since a worker may start in another folder."""

from __future__ import annotations

import pytest

from alphalab.config.parse import run_spec
from alphalab.engine.record import Job
from alphalab.engine.remote import portable
from tests.conftest import compose


@pytest.mark.parametrize("typed", ["sqlite:///runs/mlflow.db", "sqlite:///runs/mlflow.db?x=1"])
def test_a_relative_sqlite_store_reaches_workers_as_this_folders_file(tmp_path, monkeypatch, typed):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    job = portable(Job(run_spec(compose([f"tracking.uri='{typed}'"]))))
    sent = job.spec.tracking.uri
    assert sent == typed.replace("sqlite:///runs", f"sqlite:///{tmp_path}/runs")
    monkeypatch.chdir("/")  # where a worker may start: the URI no longer depends on it
    assert portable(job).spec.tracking.uri == sent


def test_a_store_left_unset_reaches_workers_as_the_one_this_process_uses(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/env.db")
    job = Job(run_spec(compose()))
    assert portable(job).spec.tracking.uri == f"sqlite:///{tmp_path}/env.db"
