"""Creating or upgrading a store is safe across processes; a broken store is named, not opened.

MLflow creates and migrates a SQL store inside ``MlflowClient(uri)`` (and inside ``mlflow ui`` /
``mlflow server`` before they serve). Several processes doing it at once on a fresh SQLite store
fail ("table _alembic_tmp_tags already exists") and can leave it half-migrated, after which no
client opens it again. So:

- a missing SQLite store is built under an ``fcntl`` lock on ``<db>.lock`` beside it, in a
  temporary file that is renamed onto ``mlflow.db`` once complete: the store is either absent or
  whole, even if the creating process is killed part-way;
- that file is a copy of a template store MLflow migrated once per version, kept in
  ``$XDG_CACHE_HOME/alphalab`` (``~/.cache/alphalab``), its Default experiment set as MLflow sets
  it: no migration to wait for (MLflow migrates the store itself if that folder is not writable);
- a complete store (the common case) is opened without waiting for anybody;
- on PostgreSQL (transactional DDL: a lost race rolls back whole) a lock on this machine plus a
  few retries cover processes on other machines;
- ``sqlite_state`` tells a healthy store from a broken one with plain ``sqlite3``, in about a
  millisecond, without importing mlflow.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from alphalab.tracking.mlflow_internals import (
    TEMPLATE_REVISIONS,
    create_sql_store,
    default_experiment_location,
    mlflow_revisions,
)

LOCK_TIMEOUT = 300.0  # a first migration takes ~9 s here; several queued processes wait longer
SQL_RETRIES = 5


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` store, None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


SQL_BACKENDS = ("postgresql", "mysql", "mssql")  # SQLAlchemy dialects MLflow stores runs in


def lock_file(uri: str) -> Path | None:
    """The lock serialising the creation of the store at ``uri``: ``<db>.lock`` beside a SQLite
    file, a file in the temp folder for a SQL server's database, None for an HTTP server."""
    db = sqlite_path(uri)
    if db is not None:
        return db.with_name(db.name + ".lock")
    parts = urlsplit(uri)
    if parts.scheme.split("+", 1)[0] in SQL_BACKENDS:
        key = f"{parts.username}@{parts.hostname}:{parts.port}{parts.path}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"alphalab-store-{digest}.lock"
    return None


@contextlib.contextmanager
def store_lock(uri: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the store's lock for the block (nothing to hold for an HTTP server)."""
    path = lock_file(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} was held for more than {timeout:.0f} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def sqlite_state(db: Path) -> tuple[str, str]:
    """``(state, message)``: ``missing``, ``empty``, ``ok`` (at this MLflow's head), ``old`` (an
    older MLflow's schema) or ``broken`` (an interrupted migration)."""
    if not db.exists():
        return "missing", f"{db} does not exist yet"
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
            tables = {row[0] for row in connection.execute(query)}
            versions = None
            if "alembic_version" in tables:
                versions = [
                    r[0] for r in connection.execute("SELECT version_num FROM alembic_version")
                ]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return "broken", f"{db} is not an SQLite database MLflow can read ({exc})"
    if not tables:
        return "empty", f"{db} has no tables yet"
    broken = (
        f"{db} was broken by an interrupted MLflow schema migration ({{why}}); no MLflow client "
        f"can open it: move it away (mv {db} {db}.broken) and run again for a fresh store"
    )
    leftovers = sorted(t for t in tables if t.startswith("_alembic_tmp_"))
    if leftovers:
        return "broken", broken.format(why="leftover " + ", ".join(leftovers))
    if versions is None or len(versions) != 1:
        why = "no schema version" if not versions else f"{len(versions)} schema versions"
        return "broken", broken.format(why=why)
    revisions, heads = mlflow_revisions()
    if versions[0] in heads and {"experiments", "runs"} <= tables:
        return "ok", f"{db} is at schema revision {versions[0]}"
    if versions[0] in revisions and versions[0] not in heads:
        return "old", (
            f"{db} has an older MLflow's schema ({versions[0]}): back it up, then run "
            f"`mlflow db upgrade sqlite:///{db}`"
        )
    return "broken", broken.format(why=f"schema revision {versions[0]} unknown to this MLflow")


def template_path() -> Path:
    """The cached template store of this MLflow and schema head; the digest is of the SQLAlchemy,
    alembic and SQLite that wrote its schema (their SQL is kept in it)."""
    import alembic
    import mlflow
    import sqlalchemy

    base = os.environ.get("XDG_CACHE_HOME", "")
    cache = (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "alphalab"
    tools = f"{sqlalchemy.__version__} {alembic.__version__} {sqlite3.sqlite_version}"
    head = "-".join(sorted(mlflow_revisions()[1]))
    digest = hashlib.sha256(tools.encode()).hexdigest()[:8]
    return cache / f"mlflow-store-{mlflow.__version__}-{head}-{digest}.db"


def _migrate(db: Path, artifact_root: str) -> None:
    """Let MLflow create the store in the new file ``db``, running all its schema migrations."""
    create_sql_store(f"sqlite:///{db}", artifact_root)


def _template() -> Path | None:
    """The template store, made the first time in a temporary file of the cache folder renamed
    into place (so whole or absent); None where that folder is not writable, or where MLflow's
    schema is not one whose Default experiment row ``_copied`` was checked against."""
    if not mlflow_revisions()[1] <= TEMPLATE_REVISIONS:
        return None
    made = None
    try:
        path = template_path()
        if sqlite_state(path)[0] != "ok":
            path.parent.mkdir(parents=True, exist_ok=True)
            for old in path.parent.glob(f"{path.name}.init-*"):  # left by a killed maker
                with contextlib.suppress(OSError):
                    if time.time() - old.stat().st_mtime > LOCK_TIMEOUT:
                        old.unlink()
            fd, made = tempfile.mkstemp(prefix=f"{path.name}.init-", dir=path.parent)
            os.close(fd)
            _migrate(Path(made), (path.parent / "artifacts").as_uri())  # replaced in each copy
            os.replace(made, path)
        return path
    except Exception:  # an unwritable folder above all: the new store is migrated instead
        return None
    finally:
        if made is not None:
            Path(made).unlink(missing_ok=True)


def _copied(template: Path, temporary: Path, db: Path) -> bool:
    """Copy ``template`` to ``temporary`` as MLflow would have created ``db``; False (nothing
    left) if the template cannot be read or holds more than MLflow's Default experiment."""
    location = default_experiment_location(db.parent / "artifacts")
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))  # as SQLite
        shutil.copyfile(template, temporary)
        with contextlib.closing(sqlite3.connect(temporary)) as connection, connection:
            if connection.execute("SELECT experiment_id FROM experiments").fetchall() != [(0,)]:
                raise sqlite3.DatabaseError(f"{template} holds experiments of its own")
            now = int(time.time() * 1000)  # of its only row, the Default experiment
            fix = "UPDATE experiments SET artifact_location=?, creation_time=?, last_update_time=?"
            connection.execute(fix, (location, now, now))
        return True
    except (OSError, sqlite3.Error):
        temporary.unlink(missing_ok=True)
        return False


def _create_sqlite_store(db: Path) -> None:
    """Build a fresh store in a temporary file beside ``db`` (a copy of the template, or migrated
    by MLflow where there is none), then rename it into place."""
    for leftover in db.parent.glob(f"{db.name}.init-*"):  # from a creator that was killed
        leftover.unlink(missing_ok=True)
    temporary = db.with_name(f"{db.name}.init-{os.getpid()}")
    template = _template()
    if template is None or not _copied(template, temporary, db):
        _migrate(temporary, (db.parent / "artifacts").as_uri())
    os.replace(temporary, db)


def ensure_store(uri: str) -> None:
    """Make sure a SQLite store at ``uri`` exists and is whole (created here if missing);
    raise RuntimeError naming a broken one. Other stores are left to MLflow."""
    db = sqlite_path(uri)
    if db is None or sqlite_state(db)[0] == "ok":
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with store_lock(uri):
        state, message = sqlite_state(db)  # again: another process may have created it
        if state in ("missing", "empty"):
            if state == "empty":
                db.unlink()
            _create_sqlite_store(db)
        elif state in ("broken", "old"):
            raise RuntimeError(message)


def open_client(uri: str):
    """An ``MlflowClient`` on ``uri``, its store created or migrated by one process at a time."""
    from mlflow.tracking import MlflowClient

    ensure_store(uri)
    if sqlite_path(uri) is not None or lock_file(uri) is None:
        return MlflowClient(tracking_uri=uri)
    from sqlalchemy.exc import DBAPIError

    for attempt in range(SQL_RETRIES):
        try:
            with store_lock(uri):  # processes of this machine; retries cover other machines
                return MlflowClient(tracking_uri=uri)
        except DBAPIError:
            if attempt == SQL_RETRIES - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")
