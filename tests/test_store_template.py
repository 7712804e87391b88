"""A fresh SQLite store is a copy of a cached template MLflow migrated once: indistinguishable from
a store MLflow migrates at the same path, made without migrating, and migrated as before where the
cache folder is not writable."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from alphalab.tracking import lock
from alphalab.tracking.lock import ensure_store, open_client, sqlite_state, template_path

TIMES = ("creation_time", "last_update_time")  # of the Default experiment: when it was made
CLAUSES = ("CONSTRAINT ", "CHECK ", "FOREIGN KEY", "PRIMARY KEY", "UNIQUE ")


def ddl(sql: str | None) -> tuple | None:
    """A table's SQL as its columns in order and its constraints as a set: the migrations that
    rebuild a table (alembic's batch mode) write its constraints in no fixed order, so two stores
    MLflow migrates can list the CHECKs of ``runs`` in different orders (seen here)."""
    if sql is None:
        return None
    lines = [line.strip().rstrip(",").rstrip() for line in sql.split("\n")]
    clauses = frozenset(line for line in lines if line.startswith(CLAUSES))
    return tuple(line for line in lines if not line.startswith(CLAUSES)), clauses


def contents(db: Path) -> dict:
    """Everything in a store but the Default experiment's times: the schema (every table, index
    and trigger with its SQL), the rows of every table, and the file's SQLite settings."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        query = "SELECT type, name, tbl_name, sql FROM sqlite_master"
        master = {(t, n): (table, ddl(sql)) for t, n, table, sql in connection.execute(query)}
        rows = {}
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            names = [column[0] for column in cursor.description]
            rows[table] = sorted(
                tuple((n, v) for n, v in zip(names, row, strict=True) if n not in TIMES)
                for row in cursor
            )
        pragmas = {
            p: connection.execute(f"PRAGMA {p}").fetchall()
            for p in ("user_version", "application_id", "page_size", "journal_mode", "encoding")
        }
    return {"sqlite_master": master, "rows": rows, "pragmas": pragmas}


def migrated_by_mlflow(db: Path) -> None:
    """A store MLflow itself creates and migrates at ``db``, as alphalab always made them."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{db}"
    store = SqlAlchemyStore(uri, (db.parent / "artifacts").as_uri())
    store.engine.dispose()
    SqlAlchemyStore._engine_map.pop(uri, None)


def default_experiment(db: Path) -> tuple:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        query = "SELECT artifact_location, creation_time, last_update_time FROM experiments"
        return connection.execute(query + " WHERE experiment_id = 0").fetchone()


def leftovers(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.iterdir() if ".init-" in p.name]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    """One cache folder holding a template, made once for the tests that only copy it."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        assert lock._template() == template_path()
    return cache


@pytest.fixture
def migrations(monkeypatch) -> list[Path]:
    """Every store MLflow migrates from now on (template or store), by file."""
    calls: list[Path] = []
    real = lock._migrate

    def counted(db: Path, artifact_root: str) -> None:
        calls.append(db)
        real(db, artifact_root)

    monkeypatch.setattr(lock, "_migrate", counted)
    return calls


def test_a_copied_store_is_the_store_mlflow_migrates_at_the_same_path(
    tmp_path, monkeypatch, shared_cache, migrations
):
    import mlflow

    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache))
    db = tmp_path / "a store with spaces" / "mlflow.db"  # quoted in its artifact URI
    before = int(time.time() * 1000)
    ensure_store(f"sqlite:///{db}")
    assert migrations == [] and sqlite_state(db)[0] == "ok"
    copied, copied_mode, made = contents(db), db.stat().st_mode, default_experiment(db)[1:]
    assert before <= made[0] == made[1] <= int(time.time() * 1000)  # made now, not when cached

    with contextlib.closing(sqlite3.connect(db)) as connection:
        query = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
        as_copied = connection.execute(query).fetchall()
    with contextlib.closing(sqlite3.connect(template_path())) as connection:
        assert connection.execute(query).fetchall() == as_copied  # byte for byte

    db.rename(db.with_name("copied.db"))
    migrated_by_mlflow(db)  # what MLflow makes at the very same path
    assert contents(db) == copied
    assert db.stat().st_mode == copied_mode
    assert default_experiment(db)[0] == (db.parent / "artifacts" / "0").as_uri()
    with contextlib.closing(sqlite3.connect(db)) as connection:
        (head,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert template_path().name.startswith(f"mlflow-store-{mlflow.__version__}-{head}-")


def test_a_copied_store_takes_experiments_runs_and_metrics(tmp_path, monkeypatch, shared_cache):
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache))
    db = tmp_path / "mlflow.db"
    client = open_client(f"sqlite:///{db}")
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.artifact_location == (tmp_path / "artifacts" / "0").as_uri()
    experiment_id = client.create_experiment("copied", (tmp_path / "artifacts" / "1").as_uri())
    assert experiment_id == "1"  # the ids of a migrated store
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "loss", 0.25, step=3)
    client.set_terminated(run.info.run_id)
    (point,) = client.get_metric_history(run.info.run_id, "loss")
    assert (point.value, point.step) == (0.25, 3)
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    # the template stayed as MLflow made it: nothing written to a copy reaches it
    with contextlib.closing(sqlite3.connect(template_path())) as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        assert connection.execute("SELECT experiment_id FROM experiments").fetchall() == [(0,)]


def test_the_template_is_made_once_then_every_fresh_store_is_copied(
    tmp_path, monkeypatch, migrations
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    template = template_path()
    assert template.parent == cache / "alphalab" and not template.exists()
    first, second = tmp_path / "one" / "mlflow.db", tmp_path / "two" / "mlflow.db"

    ensure_store(f"sqlite:///{first}")
    assert [p.parent for p in migrations] == [template.parent]  # the template only
    assert sqlite_state(template)[0] == "ok" and sqlite_state(first)[0] == "ok"
    made = template.stat().st_mtime_ns

    ensure_store(f"sqlite:///{second}")
    assert len(migrations) == 1  # no migration for the second store
    assert template.stat().st_mtime_ns == made
    assert sqlite_state(second)[0] == "ok"
    assert sorted(p.name for p in template.parent.iterdir()) == [template.name]
    assert leftovers(first.parent, second.parent) == []
    assert default_experiment(second)[0] == (second.parent / "artifacts" / "0").as_uri()


def test_a_template_holding_experiments_is_not_copied(
    tmp_path, monkeypatch, shared_cache, migrations
):
    with monkeypatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(shared_cache))
        shared = template_path()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = template_path()
    template.parent.mkdir(parents=True)
    shutil.copyfile(shared, template)
    with contextlib.closing(sqlite3.connect(template)) as connection, connection:
        connection.execute(  # someone used the template as a store
            "INSERT INTO experiments (experiment_id, name, lifecycle_stage, workspace) "
            "VALUES (1, 'used', 'active', 'default')"
        )

    db = tmp_path / "store" / "mlflow.db"
    ensure_store(f"sqlite:///{db}")
    assert migrations == [db.with_name(f"mlflow.db.init-{os.getpid()}")]  # migrated instead
    with contextlib.closing(sqlite3.connect(db)) as connection:
        assert connection.execute("SELECT name FROM experiments").fetchall() == [("Default",)]
    assert leftovers(db.parent) == []


def test_a_killed_makers_leftover_is_removed_a_working_makers_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = template_path()
    template.parent.mkdir(parents=True)
    old, recent = (template.with_name(f"{template.name}.init-{s}") for s in ("old", "recent"))
    old.write_bytes(b"half a store")
    recent.write_bytes(b"another process, still migrating")
    os.utime(old, (time.time() - 2 * lock.LOCK_TIMEOUT,) * 2)
    ensure_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not old.exists() and recent.exists()
    assert sqlite_state(template)[0] == "ok"


@pytest.mark.parametrize("where", ["under a file", "read-only"])
def test_an_unwritable_cache_folder_migrates_the_store_as_before(
    tmp_path, monkeypatch, migrations, where
):
    if where == "under a file":
        (tmp_path / "cache").write_text("not a folder")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (tmp_path / "cache").mkdir(mode=0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = tmp_path / "store" / "mlflow.db"
    client = open_client(f"sqlite:///{db}")
    assert migrations == [db.with_name(f"mlflow.db.init-{os.getpid()}")]
    assert not template_path().exists()
    assert client.get_experiment("0").artifact_location == (db.parent / "artifacts" / "0").as_uri()
    run = client.create_run(client.create_experiment("fallback"))
    client.log_metric(run.info.run_id, "loss", 1.0)
    assert client.get_metric_history(run.info.run_id, "loss")[0].value == 1.0
