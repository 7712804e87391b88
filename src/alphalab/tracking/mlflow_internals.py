"""Every private MLflow internal alphalab uses, in one place: each is re-checked by
``tests/test_internals.py``, which names in one line any that moved.

The bulk writer (``tracking.runs``, ``tracking.inputs``) and the bulk reads of ``tracking.store``
use MLflow's SQL tables directly, so they run only where the store's schema revision is one of
``BULK_REVISIONS``: the tables ``tests/test_writers.py`` checks their rows against (MLflow 3.10's
store differs: its session maker has no ``read_only``). Anywhere else runs go through
``MlflowClient``'s public API. ``ALPHALAB_CLIENT_WRITER=1`` chooses the client anyway.

Import this module freely: it imports mlflow only inside its functions.
"""

from __future__ import annotations

import importlib.util
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

BULK_REVISIONS = frozenset({"dc11669786a5"})  # MLflow 3.17's schema (3.17.0 to 3.17.2)
# Schemas whose fresh SQLite store may be a copy of a template MLflow migrated once, with the
# Default experiment's row rewritten (``tracking.lock``): 3.17's and 3.10's, each checked equal to
# the store MLflow migrates itself (tests/test_store_template.py, under 3.10 by
# tests/test_mlflow_versions.py). Other MLflows migrate each fresh store themselves.
TEMPLATE_REVISIONS = BULK_REVISIONS | {"1b5f0d9ad7c1"}
CLIENT_WRITER = "ALPHALAB_CLIENT_WRITER"


@cache
def mlflow_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(every schema revision the installed MLflow knows, its head revisions), read from its
    migration scripts without importing mlflow."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        return frozenset(), frozenset()
    versions = Path(spec.submodule_search_locations[0]) / "store" / "db_migrations" / "versions"
    revisions, downs = set(), set()
    for script in versions.glob("*.py"):
        text = script.read_text()
        if found := re.search(r"^revision\s*=\s*['\"]([0-9a-f]+)['\"]", text, re.M):
            revisions.add(found.group(1))
        if down := re.search(r"^down_revision\s*=\s*(.+)$", text, re.M):
            downs.update(re.findall(r"['\"]([0-9a-f]+)['\"]", down.group(1)))
    return frozenset(revisions), frozenset(revisions - downs)


def schema_revision(uri: str) -> str | None:
    """The schema revision of the SQL store at ``uri`` (``alembic_version``), read with plain
    SQLAlchemy; None where there is none to read."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    try:
        engine = create_engine(uri, poolclass=NullPool)
    except (SQLAlchemyError, ImportError):  # not a SQLAlchemy URL, or no driver for it
        return None
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return found[0][0] if len(found) == 1 else None


def bulk_store(client, uri: str) -> tuple[Any, str]:
    """(MLflow's SQL store behind ``client`` where alphalab may write and read its tables
    directly, else None; why, in a few words)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = client._tracking_client.store
    if not isinstance(store, SqlAlchemyStore):
        return None, f"the store is not a SQL database ({type(store).__name__})"
    if os.environ.get(CLIENT_WRITER, "") not in ("", "0"):
        return None, f"{CLIENT_WRITER} is set"
    revision = schema_revision(uri)
    if revision not in BULK_REVISIONS:
        return None, f"store schema {revision} is not one the bulk writer was written for"
    return store, f"store schema {revision} is the one the bulk writer was written for"


def session(store, write: bool = False):
    """A transaction on the SQL ``store`` (committed at the end of the ``with`` block)."""
    return store.ManagedSessionMaker(read_only=not write)


def tables() -> dict[str, type]:
    """MLflow's SQL table classes the bulk writer fills and reads, by table name."""
    from mlflow.store.tracking.dbmodels import models

    classes = [
        models.SqlRun,
        models.SqlTag,
        models.SqlParam,
        models.SqlMetric,
        models.SqlLatestMetric,
        models.SqlDataset,
        models.SqlInput,
        models.SqlInputTag,
    ]
    return {cls.__tablename__: cls for cls in classes}


def metric_history_bulk(store, run_ids: list[str], key: str) -> list:
    """Every value of metric ``key`` of ``run_ids`` in one query (the store's own method)."""
    return store.get_metric_history_bulk(run_ids, key, max_results=None)


def dataset_entity(dataset):
    """An ``mlflow.data`` dataset as the entity ``MlflowClient.log_inputs`` takes."""
    return dataset._to_mlflow_entity()


def local_path(uri: str) -> Path:
    """The local folder of a ``file:`` artifact URI."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(uri))


def run_artifact_uri(location: str, run_id: str) -> str:
    """The artifact URI MLflow gives a run of an experiment whose artifacts go to ``location``."""
    from mlflow.utils.uri import append_to_uri_path

    return append_to_uri_path(location, run_id, "artifacts")


def default_experiment_location(root: Path) -> str:
    """The artifact location MLflow gives the Default experiment of a store whose artifact root
    is the folder ``root``."""
    from mlflow.utils.uri import append_to_uri_path, resolve_uri_if_local

    return append_to_uri_path(resolve_uri_if_local(root.as_uri()), "0")


def create_sql_store(uri: str, artifact_root: str) -> None:
    """Let MLflow create (and migrate) the SQL store at ``uri``, then let go of its engine."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, artifact_root)
    store.engine.dispose()
    SqlAlchemyStore._engine_map.pop(uri, None)  # MLflow caches an engine per URI
