"""Stores that fail fast and never break: a store that does not answer, an unsupported scheme, a
missing driver or a half-migrated SQLite file is one line naming tracking.uri, within seconds,
before any training; a sweep whose parent run cannot be opened stops with one line."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import pytest

from alphalab.entry.sweep_callback import hydra_quoted
from alphalab.tracking.lock import mlflow_revisions, sqlite_state
from tests.conftest import all_runs, cli, error_lines, grid_of, store_uri

FAST = ["+debug=fast", "train.epochs=1"]
LIMIT = 15.0  # seconds, as the product contract promises


def rejected(tmp_path: Path, uri: str, env: dict | None = None) -> tuple[str, float]:
    """Run a training command against ``uri``; return its one error line and the time taken."""
    started = time.monotonic()
    result = cli(
        "experiments.run",
        *FAST,
        f"tracking.uri={uri}",
        f"hydra.run.dir={tmp_path / 'h'}",
        env=env,
        timeout=120,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("alphalab: error: tracking.uri: ")
    return line, seconds


def test_no_server_at_an_http_uri_is_one_line_at_once(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    line, seconds = rejected(tmp_path, f"http://127.0.0.1:{port}")
    assert f"no MLflow server answers at http://127.0.0.1:{port}/health" in line
    assert seconds < LIMIT


@pytest.mark.slow
def test_a_server_that_never_answers_is_one_line_within_seconds(tmp_path):
    with socket.socket() as sock:  # accepts connections (backlog) but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port = sock.getsockname()[1]
        line, seconds = rejected(tmp_path, f"http://127.0.0.1:{port}")
    assert "no answer from" in line and "within 3 s" in line
    assert seconds < LIMIT


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("bogus://x", "unsupported scheme bogus://; use sqlite:///"),
        ("postgres://u:pw@127.0.0.1/db", "use postgresql+psycopg://"),
    ],
)
def test_an_unsupported_scheme_is_one_line(tmp_path, uri, expected):
    line, seconds = rejected(tmp_path, uri)
    assert expected in line and "pw" not in line.replace("psycopg", "")


BLOCK_DRIVERS = """
import sys
class _NoDriver:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("psycopg", "psycopg2", "psycopg_binary"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoDriver())
"""


def test_a_missing_database_driver_names_the_extra(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_DRIVERS)  # as if psycopg were not installed
    uri = "postgresql://alphalab:secret@127.0.0.1:9/mlflow"
    line, seconds = rejected(tmp_path, uri, env={"PYTHONPATH": str(site)})
    assert "the database driver 'psycopg' is not installed (uv sync --extra postgres)" in line
    assert "secret" not in line and seconds < LIMIT


def test_an_unreachable_postgresql_is_one_line(tmp_path):
    line, seconds = rejected(tmp_path, "postgresql+psycopg://alphalab:secret@127.0.0.1:9/mlflow")
    assert "alphalab:***@127.0.0.1:9/mlflow: " in line and "Connection refused" in line
    assert seconds < LIMIT


def half_migrated(db: Path) -> None:
    """What two processes migrating one fresh store at once left behind here."""
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY)")
        connection.execute("CREATE TABLE runs (run_uuid TEXT PRIMARY KEY)")
        connection.execute("CREATE TABLE _alembic_tmp_tags (key TEXT)")
        connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
        connection.execute("INSERT INTO alembic_version VALUES ('0584bdc529eb')")


def test_a_half_migrated_sqlite_store_is_named_with_what_to_do(tmp_path):
    db = tmp_path / "mlflow.db"
    half_migrated(db)
    line, seconds = rejected(tmp_path, store_uri(tmp_path))
    assert "broken by an interrupted MLflow schema migration" in line
    assert "_alembic_tmp_tags" in line and f"mv {db} {db}.broken" in line
    assert sqlite_state(db)[0] == "broken"


def test_the_schema_head_is_read_without_mlflow():
    revisions, heads = mlflow_revisions()
    assert len(revisions) > 50 and len(heads) == 1
    assert "dc11669786a5" in heads  # mlflow 3.17.2's head: update when mlflow moves


def test_config_only_commands_do_not_touch_the_store(tmp_path):
    result = cli("experiments.run", "tracking.uri=http://127.0.0.1:9", "--cfg", "job")
    assert result.returncode == 0 and "uri: http://127.0.0.1:9" in result.stdout


HIDE_INSTALLED_PLUGINS = """
import hydra_plugins  # keep alphalab's own plugins (src/), hide those installed in site-packages
hydra_plugins.__path__ = [p for p in hydra_plugins.__path__ if "site-packages" not in p]
"""


@pytest.mark.parametrize(("launcher", "extra"), [("ray", "ray"), ("submitit_slurm", "slurm")])
def test_a_launcher_that_is_not_installed_names_its_extra(tmp_path, launcher, extra):
    (tmp_path / "sitecustomize.py").write_text(HIDE_INSTALLED_PLUGINS)
    env = {"PYTHONPATH": str(tmp_path)}
    result = cli("experiments.run", "+sweep=alpha", f"hydra/launcher={launcher}", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"alphalab: error: hydra/launcher: '{launcher}' is not installed: ")
    assert f"uv sync --extra {extra}" in line


@pytest.mark.parametrize(
    "value", ['{"a": "it\'s", "b": "C:\\\\x\\\\", "c": "${not.a.key}"}', "end\\", "x'\\'y"]
)
def test_values_handed_to_jobs_read_back_unchanged_through_hydra(value):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    override = OverridesParser.create().parse_override(f"++k={hydra_quoted(value)}")
    assert OmegaConf.create({"k": override.value()}).k == value


@pytest.mark.slow
def test_a_sweep_whose_parent_cannot_be_opened_stops_with_one_line(tmp_path):
    from tests.conftest import client

    uri = store_uri(tmp_path)
    mlflow = client(uri)
    mlflow.delete_experiment(mlflow.create_experiment("alphalab"))  # no run can be created in it
    result = cli(
        "experiments.run",
        "+sweep=alpha",
        *FAST,
        "alpha.real=0.4,0.6",
        "alpha.imag=2.0",
        f"tracking.uri={uri}",
        f"hydra.sweep.dir={tmp_path / 'h'}",
    )
    assert result.returncode == 1, result.stdout[-2000:]
    (line,) = error_lines(result.stderr)
    assert "cannot open its parent run" in line and "active" in line
    assert "Traceback" not in result.stderr and "[  1/" not in result.stdout  # no job ran
    assert all_runs(uri) == []


@pytest.mark.slow
def test_two_sweeps_and_the_ui_started_at_once_on_a_fresh_store_all_succeed(tmp_path):
    from contextlib import ExitStack

    from tests.conftest import ROOT
    from tests.servers import finish, in_session

    uri = store_uri(tmp_path)
    grid = ["+sweep=alpha", *FAST, "alpha.real=0.5", "alpha.imag=2.0", f"tracking.uri={uri}"]
    commands = {
        "ui": ["experiments.ui", "--store", uri, "--port", "0"],
        **{
            name: [
                "experiments.run",
                *grid,
                f"sweep.name={name}",
                f"hydra.sweep.dir={tmp_path / name}",
            ]
            for name in ("first", "second")
        },
    }
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    with ExitStack() as stack:
        started = {
            name: stack.enter_context(in_session(command, logs[name], ROOT))
            for name, command in commands.items()
        }
        for name in ("first", "second"):
            output = finish(started[name], logs[name], 300)
            assert started[name].returncode == 0, output[-3000:]
        deadline = time.monotonic() + 120
        while "MLflow UI for" not in logs["ui"].read_text():
            assert started["ui"].poll() is None, logs["ui"].read_text()[-3000:]
            assert time.monotonic() < deadline, "the UI did not come up"
            time.sleep(0.2)
    assert "Traceback" not in logs["ui"].read_text()
    assert sqlite_state(tmp_path / "mlflow.db")[0] == "ok"
    runs = all_runs(uri)
    parents = {
        r.data.tags["alphalab.sweep_name"]: r for r in runs if "alphalab.sweep_name" in r.data.tags
    }
    assert set(parents) == {"first", "second"}
    for parent in parents.values():
        assert parent.info.status == "FINISHED"
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(grid_of(children)) == 2 and {c.info.status for c in children} == {"FINISHED"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"KERASTUNER_TUNER_ID": "tuner0", "KERASTUNER_ORACLE_IP": "127.0.0.1"},
            "KERASTUNER_ORACLE_PORT: ",
        ),
        (
            {
                "KERASTUNER_TUNER_ID": "chief",
                "KERASTUNER_ORACLE_IP": "127.0.0.1",
                "KERASTUNER_ORACLE_PORT": "9",
            },
            "search.name: a distributed search needs the same search.name",
        ),
    ],
)
def test_a_distributed_search_without_what_it_needs_is_one_line(tmp_path, env, expected):
    args = [
        "+search=random",
        *FAST,
        f"tracking.uri={store_uri(tmp_path)}",
        f"hydra.run.dir={tmp_path}",
    ]
    if "search.name" not in expected:
        args.append("search.name=named")
    result = cli("experiments.run", *args, env=env, timeout=120)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    (line,) = error_lines(result.stderr)
    assert line.startswith("alphalab: error: " + expected)


def test_a_relative_sqlite_uri_is_relative_to_the_folder_the_command_starts_in(
    tmp_path, monkeypatch
):
    from alphalab.tracking.store import resolve_uri
    from tests.conftest import ROOT

    monkeypatch.chdir(tmp_path)
    assert resolve_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resolve_uri("sqlite:///a/b.db?timeout=5") == f"sqlite:///{tmp_path / 'a/b.db'}?timeout=5"
    assert resolve_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    (tmp_path / "here").mkdir()
    args = ("+debug=fast", "tracking.uri=sqlite:///mlflow.db", f"hydra.run.dir={tmp_path / 'h'}")
    result = cli("experiments.run", *args, cwd=tmp_path / "here", env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = all_runs(f"sqlite:///{tmp_path / 'here' / 'mlflow.db'}")
    assert run.info.status == "FINISHED"


def test_a_sqlite_store_where_no_file_can_be_made_is_one_line():
    from alphalab.tracking.precheck import store_problem

    problem = store_problem("sqlite:////proc/alphalab-x.db")
    assert problem is not None and "no file can be created in the folder /proc" in problem
    assert "\n" not in problem
