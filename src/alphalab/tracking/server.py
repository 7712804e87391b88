"""Start and stop an MLflow server (the UI) on a store, as a whole process group.

``mlflow ui`` is a tree of processes: the ``mlflow`` CLI, a uvicorn server, and (unless disabled)
a job runner with several ``huey_consumer`` processes. Stopping only the parent leaves the others
running, so the server gets its own process group and is always stopped as a whole group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

from alphalab.config import first_line
from alphalab.tracking.lock import lock_file
from alphalab.tracking.store import Tracker, sqlite_path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

# MLflow's server jobs (GenAI judges, trace roll-ups) are of no use to alphalab, and on a small
# machine their eight extra processes slow the UI's start. A user can still set it to true.
# MLflow 3.17's log_batch holds one database connection and opens a second for its metrics, so
# with SQLAlchemy's default pool (5 + 10 overflow) eight concurrent writes (two sweeps, four
# threads each) can take every connection and all wait 30 s for one ("QueuePool limit ...
# reached", a 400 to the client). A pool of 20 + 20 serves 20 concurrent writes.
_SERVER_ENV_DEFAULTS = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "20",
    "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "20",
}


class UIError(RuntimeError):
    """The server could not be started. ``str(error)`` is one line saying why."""


# --- addresses --------------------------------------------------------------------------------
def _client_host(host: str) -> str:
    """The address to reach a server bound to ``host`` (a wildcard is reached on loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def base_url(host: str, port: int) -> str:
    """The server's URL as a client reaches it."""
    host = _client_host(host)
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nobody listens on now (``--port 0``); the server binds it a moment later."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def check_port(host: str, port: int) -> None:
    """Fail early if ``host:port`` is taken.

    Otherwise the health check could be answered by whatever already listens there, and uvicorn
    would only report the clash after MLflow's slow start-up.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        # uvicorn sets SO_REUSEADDR too, so a port in TIME_WAIT is free for it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UIError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


# --- store ------------------------------------------------------------------------------------
def prepare_store(uri: str, experiment_name: str) -> bool:
    """Create a missing SQLite store once, here, before the server's processes open it.

    Several processes opening a fresh store race on its schema migration; a PostgreSQL database
    is migrated here too. Returns whether a SQLite store was created.
    """
    db = sqlite_path(uri)
    if (db is not None and db.exists()) or lock_file(uri) is None:
        return False  # a whole SQLite store (files are created whole), or an HTTP server
    try:
        Tracker(uri, experiment_name)  # a SQL server's database is migrated here, under the lock
    except Exception as exc:
        raise UIError(f"cannot create the store {uri}: {first_line(exc)}") from exc
    return db is not None


def experiment_id(uri: str, experiment_name: str) -> str | None:
    """The experiment's id, or None if it does not exist (yet) or the store cannot say."""
    from mlflow.tracking import MlflowClient

    try:
        found = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment_name)
    except Exception:  # only used to pick a nicer link; the UI itself is up
        return None
    return found.experiment_id if found is not None else None


def experiment_url(url: str, experiment_id: str | None) -> str:
    """The page a user wants first: the experiment's runs table, else MLflow's home page.

    MLflow 3's UI opens experiments in its GenAI view (traces overview) unless told otherwise;
    ``workflowType=machine_learning`` selects its "Model training" view with the runs table.
    """
    if not experiment_id:
        return url
    return f"{url}#/experiments/{experiment_id}/runs?workflowType=machine_learning"


# --- process groups ---------------------------------------------------------------------------
def processes() -> dict[int, tuple[int, int, str]]:
    """Every process as ``pid -> (ppid, pgid, state)``, read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return found


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    return [p for p, (_, group, state) in processes().items() if group == pgid and state != "Z"]


def descendant_groups(pid: int) -> set[int]:
    """The process groups of ``pid`` and of all its descendants."""
    procs = processes()
    tree, todo = {pid}, [pid]
    while todo:
        parent = todo.pop()
        children = [p for p, (ppid, _, _) in procs.items() if ppid == parent]
        tree.update(children)
        todo.extend(children)
    return {procs[p][1] for p in tree if p in procs}


def _killpg(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_server(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after ``timeout`` s."""
    pgid = process.pid  # started with start_new_session=True: it leads its own group
    _killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None and not group_members(pgid):
            return
        time.sleep(0.1)
    _killpg(pgid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    deadline = time.monotonic() + 5
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)


# --- start ------------------------------------------------------------------------------------
def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _last_line(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def start_server(
    uri: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    log: Path | None = None,
    timeout: float = START_TIMEOUT,
    artifacts: str | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start ``mlflow ui`` on ``uri`` and return ``(process, url)`` once it answers HTTP; with
    ``artifacts`` (a folder or URI), ``mlflow server`` that stores and serves them there.

    The server runs in its own session (so a terminal's Ctrl-C reaches only us, and we stop the
    whole group). Its output goes to ``log``, or is inherited when ``log`` is None. Port 0 picks
    a free port. Raises ``UIError`` if the port is taken or the server does not come up.
    """
    if port == 0:
        port = free_port(host)
    check_port(host, port)
    url = base_url(host, port)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui" if artifacts is None else "server",
        "--backend-store-uri",
        uri,
        *(["--artifacts-destination", artifacts] if artifacts else []),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {**_SERVER_ENV_DEFAULTS, **os.environ}
    with open(log, "wb") if log is not None else nullcontext() as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if log is not None else None,
            env=env,
            start_new_session=True,
        )
    try:
        _wait_until_up(process, url, timeout, log)
    except BaseException:
        stop_server(process)
        raise
    return process, url


def _wait_until_up(process: subprocess.Popen, url: str, timeout: float, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            reason = _last_line(log)
            raise UIError(
                f"the MLflow UI exited with code {process.returncode} before answering at {url}"
                + (f": {reason}" if reason else "")
            )
        if _answers(url):
            return
        time.sleep(0.25)
    raise UIError(f"the MLflow UI did not answer at {url} within {timeout:.0f} s")


@contextmanager
def running_server(
    uri: str, host: str = DEFAULT_HOST, port: int = 0, *, log: Path | None = None
) -> Iterator[str]:
    """``with running_server(uri) as url:`` the UI for the block, always stopped after it."""
    process, url = start_server(uri, host, port, log=log)
    try:
        yield url
    finally:
        stop_server(process)
