"""Does the store answer? One line saying why not, within seconds, before anything is trained.

MLflow's own client retries an unreachable store for minutes (about 250 s over HTTP, 100 s on
PostgreSQL) and then prints an exception over many lines. ``store_problem`` asks once, with a
short timeout, and without importing mlflow or TensorFlow: an HTTP(S) server must answer
``/health``; a SQL database must accept a connection (its driver installed); a SQLite store's
folder must be writable and its file, if any, not broken by an interrupted schema migration.
"""

from __future__ import annotations

import http.client
import os
import re
import stat
import tempfile
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from alphalab.tracking.lock import SQL_BACKENDS, sqlite_state
from alphalab.tracking.store import sqlite_path

TIMEOUT = 3.0
# The extra that installs each database driver (pyproject.toml [project.optional-dependencies]).
DRIVER_EXTRA = {"psycopg": "postgres", "psycopg2": "postgres"}
SUPPORTED = (
    "use sqlite:///path/mlflow.db, http(s)://host:port (an MLflow server) or "
    "postgresql+psycopg://user:password@host:port/database"
)


def redact(uri: str) -> str:
    """The URI with its password replaced by ``***`` (it goes into messages)."""
    parts = urlsplit(uri)
    if not parts.password:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def store_problem(uri: str, timeout: float = TIMEOUT) -> str | None:
    """None when the store at ``uri`` answers, else one line ``<uri>: <what is wrong>``."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    backend = scheme.split("+", 1)[0]
    if scheme in ("http", "https"):
        problem = _http_problem(uri, timeout)
    elif scheme == "sqlite":
        problem = _sqlite_problem(uri)
    elif backend in SQL_BACKENDS:
        problem = _sql_problem(uri, backend, timeout)
    elif backend == "postgres":
        problem = "use postgresql+psycopg:// (or postgresql://); MLflow does not know postgres://"
    elif backend == "file" or not scheme:
        problem = f"a plain folder is not an MLflow 3 store; {SUPPORTED}"
    else:
        problem = f"unsupported scheme {scheme}://; {SUPPORTED}"
    return None if problem is None else f"{redact(uri)}: {problem}"


def _http_problem(uri: str, timeout: float) -> str | None:
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if response.status == 200:
                return None
            return f"{url} answered HTTP {response.status}; is this an MLflow tracking server?"
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code}; is this an MLflow tracking server?"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return f"no answer from {url} within {timeout:.0f} s"
        return f"no MLflow server answers at {url} ({getattr(reason, 'strerror', None) or reason})"
    except (TimeoutError, OSError) as exc:
        return f"no answer from {url} within {timeout:.0f} s ({exc or type(exc).__name__})"
    except (http.client.InvalidURL, ValueError) as exc:  # a port that is not a number, ...
        return f"not a valid URL ({exc or type(exc).__name__})"
    except http.client.HTTPException as exc:  # something answered, but not in HTTP
        return f"no MLflow server answers at {url} ({exc or type(exc).__name__})"


def _sqlite_problem(uri: str) -> str | None:
    db = sqlite_path(uri)
    raw = uri[len("sqlite:///") :].split("?", 1)[0]
    if db is None or raw.strip("/") in ("", ":memory:"):
        return "expected sqlite:///path/to/mlflow.db (an absolute path after the third slash)"
    try:
        mode = db.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a name too long, a file where a folder should be, ...
        return f"cannot use {db} ({exc.strerror or exc})"
    if mode is not None and not stat.S_ISREG(mode):  # opening a pipe would wait forever
        return f"{db} is not a regular file (a folder, a device or a pipe); name a database file"
    folder = db.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the folder {folder} ({exc.strerror or exc})"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable"
    try:  # a folder may take no files whatever its mode says (/proc, a read-only mount as root)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".alphalab-probe-"):
            pass
    except OSError as exc:
        return f"no file can be created in the folder {folder} ({exc.strerror or exc})"
    state, message = sqlite_state(db)
    return message if state in ("broken", "old") else None


def _db_error_line(exc: Exception) -> str:
    lines = str(getattr(exc, "orig", None) or exc).splitlines()
    text = "; ".join(" ".join(line.split()) for line in lines if line.strip())
    text = re.sub(r"\s*\(Background on this error at:.*?\)", "", text)
    found = re.search(r".*failed: (.*)$", text)  # psycopg: "connection to server at ... failed: X"
    return (found.group(1) if found else text).removeprefix("FATAL: ").strip()


def _sql_problem(uri: str, backend: str, timeout: float) -> str | None:
    try:
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        url = sqlalchemy.engine.make_url(uri)
        options = {"connect_timeout": int(timeout)} if backend == "postgresql" else {}
        engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=options)
        try:
            with engine.connect():
                return None
        finally:
            engine.dispose()
    except ModuleNotFoundError as exc:
        driver = (exc.name or "").split(".")[0]
        extra = DRIVER_EXTRA.get(driver)
        how = f"uv sync --extra {extra}" if extra else f"pip install {driver}"
        return f"the database driver '{driver}' is not installed ({how})"
    except Exception as exc:  # sqlalchemy's OperationalError, ArgumentError, ...
        return _db_error_line(exc)
