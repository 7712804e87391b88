"""Shared helpers: compose configs in-process, run the real CLI as a subprocess, read the store."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"

# As every command sets them (experiments/__init__.py), for the tests that train in process.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# System tools the selected tests need (@pytest.mark.needs), and the one-time bytecode compile.
pytest_plugins = ["tests.provision"]


# --- Process-wide state: every test leaves a fresh alphalab session (alphalab/session.py) ------
@pytest.fixture(autouse=True)
def _fresh_session():
    """After each test, alphalab's caches (compiled models, task data, trackers, ...) are
    emptied and any sweep it left open is closed, so in-process tests do not depend on order."""
    yield
    from alphalab.session import clear_session

    clear_session()


def store_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A fresh SQLite MLflow store in the test's tmp dir."""
    return store_uri(tmp_path)


def compose(overrides: list[str] | None = None):
    """The config ``python -m experiments.run OVERRIDES`` would run (single-run mode)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from alphalab.config.reader import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return hydra_compose("config", overrides=list(overrides or []))


def cli(
    module: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m MODULE ARGS`` the way a user does, capturing its output."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_experiment(tmp_path: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python -m experiments.run`` with its store and Hydra outputs inside ``tmp_path``."""
    return cli(
        "experiments.run",
        *args,
        f"tracking.uri={store_uri(tmp_path)}",
        f"hydra.run.dir={tmp_path / 'hydra-run'}",
        f"hydra.sweep.dir={tmp_path / 'hydra-sweep'}",
        **kwargs,
    )


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def all_runs(uri: str, experiment: str = "alphalab") -> list:
    c = client(uri)
    found = c.get_experiment_by_name(experiment)
    if found is None:
        return []
    return c.search_runs([found.experiment_id], max_results=10000)


def runs_in(folder: Path) -> list:
    """Every run in the store of ``run_experiment(folder, ...)``; [] when no store was created."""
    if not (folder / "mlflow.db").exists():
        return []
    return all_runs(store_uri(folder))


def error_lines(stderr: str) -> list[str]:
    """The lines alphalab itself printed to stderr (TensorFlow's C++ start-up noise removed)."""
    return [line for line in stderr.splitlines() if line.startswith("alphalab:")]


def split(runs) -> tuple[list, list]:
    """Runs without a parent (sweeps, searches, single runs) and runs with one."""
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


REFITS = ("refit", "continue")  # each arm's choice, trained again on every non-test row
ONE_SPLIT = ["task.folds=1", "seed=0"]  # a sweep of one fit per job (+sweep=alpha: 3 seeds x 5)


def grid_of(children) -> list:
    """A sweep's own jobs among its children (not the refits that follow them)."""
    return [c for c in children if c.data.tags.get("alphalab.kind") not in REFITS]


def finished_once(uri: str, jobs: int, name: str | None = None, experiment: str = "alphalab"):
    """The FINISHED sweep parent (called ``name``, if given) with every job FINISHED exactly once
    under it (runs an interrupted session left end KILLED, none RUNNING), each arm's refit once
    per seed, and a comparison.csv listing exactly the FINISHED ones; returns (parent, finished
    jobs, all its children)."""
    parents, children = split(all_runs(uri, experiment))
    (parent,) = [
        p
        for p in parents
        if p.data.tags.get("alphalab.kind") == "sweep"
        and name in (None, p.data.tags.get("alphalab.sweep_name"))
    ]
    mine = [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
    assert parent.info.status == "FINISHED"
    assert {c.info.status for c in mine} <= {"FINISHED", "KILLED"}, [c.info for c in mine]
    finished = [c for c in mine if c.info.status == "FINISHED"]
    refits = [c for c in finished if c.data.tags["alphalab.kind"] in REFITS]
    grid = grid_of(finished)
    assert len(grid) == jobs
    assert len({c.data.tags["alphalab.job_key"] for c in grid}) == jobs
    seeds = {c.data.params["seed"] for c in grid}
    once = [(c.data.tags["alphalab.kind"], c.data.tags["alphalab.arm"], c.data.params["seed"])
            for c in refits]  # fmt: skip
    assert len(once) == len(set(once)) and {seed for *_, seed in once} == seeds
    with tempfile.TemporaryDirectory() as folder:
        local = client(uri).download_artifacts(parent.info.run_id, "comparison.csv", folder)
        rows = list(csv.DictReader(io.StringIO(Path(local).read_text())))
    assert {row["run_id"] for row in rows} == {c.info.run_id for c in finished}
    cells: dict[tuple, list[float]] = {}
    for c in grid:
        if c.data.params["approach"] == "lambda":
            key = (c.data.params["alpha_real"], c.data.params["alpha_imag"])
            cells.setdefault(key, []).append(c.data.metrics["final_val_loss"])
    best_fixed = min(sum(v) / len(v) for v in cells.values())  # a cell's mean over seeds, folds
    assert parent.data.metrics["best_fixed_val_loss"] == pytest.approx(best_fixed)
    return parent, grid, mine


def read_comparison(folder: Path, parent) -> list[dict]:
    """The parent run's comparison.csv, as rows (the store in ``folder``)."""
    local = client(store_uri(folder)).download_artifacts(
        parent.info.run_id, "comparison.csv", str(folder)
    )
    return list(csv.DictReader(io.StringIO(Path(local).read_text())))


def reset_sigint() -> None:
    """For a child process: Ctrl-C (SIGINT) is delivered as in a terminal's foreground job, even
    if whoever started pytest ignored it (a background job of a non-interactive shell inherits
    SIG_IGN)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
