"""Real servers for the engine tests, on 127.0.0.1 and free ports, always stopped afterwards.

- ``postgres_cluster()``: a throwaway PostgreSQL cluster (Debian's server binaries, found by
  tests/provision.py as ``$ALPHALAB_POSTGRESQL_BIN``). initdb and postgres refuse to run as root,
  so as root they run as the ``postgres`` system user, in a folder directly under /tmp (pytest's
  tmp folders are closed to other users). postgres is our direct child in its own session, dies
  with us (PR_SET_PDEATHSIG) and is stopped with its whole process group.
- ``tracking_server(backend, artifacts)``: ``mlflow server`` on a backend store, via
  ``alphalab.tracking.server`` (its own process group, stopped as a whole).
- ``restartable_server(backend, artifacts)``: the same, as a ``Server`` that a test can ``stop()``
  and ``start()`` again on the same port, backend store and artifact folder.
- ``in_session(command)``: a command in its own session whose whole group is killed at the end
  (Ray's and submitit's processes outlive a killed driver otherwise).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alphalab.tracking.server import free_port, start_server, stop_server

USER, PASSWORD = "alphalab", "secret"


def _as_postgres_user() -> dict:
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError("as root, PostgreSQL needs an unprivileged user (postgres or nobody)")


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGQUIT), 0, 0, 0)


@dataclass
class Postgres:
    """A running cluster: ``url(database)`` for MLflow and alphalab."""

    port: int
    process: subprocess.Popen

    def url(self, database: str, password: str = PASSWORD) -> str:
        """``postgresql+psycopg://`` URL of ``database`` on this cluster."""
        return f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def postgres_cluster(timeout: float = 60.0) -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster for the block, on 127.0.0.1 and a free port."""
    import psycopg

    bindir = Path(os.environ.get("ALPHALAB_POSTGRESQL_BIN", "/usr/lib/postgresql/15/bin"))
    run_as = _as_postgres_user()
    root = Path(tempfile.mkdtemp(prefix="alphalab-pg-"))
    (root / "pw").write_text(PASSWORD + "\n")
    if run_as:
        for path in (root, root / "pw"):
            os.chown(path, run_as["user"], run_as["group"])
    process = None
    try:
        initdb = [str(bindir / "initdb"), "-D", str(root / "data"), "-U", USER]
        initdb += [f"--pwfile={root / 'pw'}", "--auth-host=scram-sha-256", "--auth-local=trust"]
        initdb += ["-E", "UTF8", "--locale=C", "--no-sync"]
        subprocess.run(initdb, check=True, capture_output=True, **run_as)
        port = free_port()
        settings = ["listen_addresses=127.0.0.1", f"unix_socket_directories={root}", "fsync=off"]
        settings += ["synchronous_commit=off", "full_page_writes=off", "max_connections=60"]
        command = [str(bindir / "postgres"), "-D", str(root / "data"), "-p", str(port)]
        command += [arg for setting in settings for arg in ("-c", setting)]
        with open(root / "postgres.log", "wb") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **run_as,
            )
        cluster = Postgres(port, process)
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, (root / "postgres.log").read_text()[-2000:]
            try:
                psycopg.connect(cluster.url("postgres").replace("+psycopg", ""), connect_timeout=2)
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "PostgreSQL did not accept a login in time"
                time.sleep(0.1)
        yield cluster
    finally:
        if process is not None:
            process.send_signal(signal.SIGQUIT)  # immediate shutdown
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            stop_server(process, timeout=1.0)  # any backend left
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def tracking_server(backend: str, artifacts: Path, log: Path) -> Iterator[str]:
    """``mlflow server`` on ``backend`` (artifacts under ``artifacts``), on 127.0.0.1 and a free
    port; yields its URL without the trailing slash."""
    process, url = start_server(backend, port=0, log=log, artifacts=str(artifacts), timeout=120)
    try:
        yield url.rstrip("/")
    finally:
        stop_server(process)


class Server:
    """``mlflow server`` on ``backend`` that can be stopped and started again on the same port,
    backend store and artifact folder (each start logs to ``<log>.<n>``)."""

    def __init__(self, backend: str, artifacts: Path, log: Path):
        self.backend, self.artifacts, self.log = backend, artifacts, log
        self.process: subprocess.Popen | None = None
        self.port, self.starts = 0, 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it (on the port of its first start, once there was one)."""
        assert self.process is None, "already running"
        self.starts += 1
        log = self.log.with_name(f"{self.log.name}.{self.starts}")
        self.process, url = start_server(
            self.backend, port=self.port, log=log, artifacts=str(self.artifacts), timeout=120
        )
        self.port = int(url.rstrip("/").rsplit(":", 1)[1])

    def stop(self) -> None:
        """Stop its whole process group (SIGTERM, then SIGKILL), if it runs."""
        if self.process is not None:
            stop_server(self.process)
            self.process = None


@contextlib.contextmanager
def restartable_server(backend: str, artifacts: Path, log: Path) -> Iterator[Server]:
    """A started ``Server`` for the block, stopped after it whatever the test did to it."""
    server = Server(backend, artifacts, log)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def command_env(**extra: str) -> dict[str, str]:
    """The environment of a user's command in these tests."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(
        TF_CPP_MIN_LOG_LEVEL="2",
        MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT="true",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def in_session(args: list[str], log: Path, cwd: Path, **extra_env: str) -> Iterator:
    """``python -m ARGS`` in its own session, output to ``log``; its whole process group is
    killed when the block ends, finished or not."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=cwd,
            env=command_env(**extra_env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_server(process, timeout=2.0)


def finish(process: subprocess.Popen, log: Path, timeout: float) -> str:
    """Wait for a command started by ``in_session``; its output (the test fails on timeout)."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"still running after {timeout:.0f} s:\n{log.read_text()[-3000:]}"
        ) from None
    return log.read_text(errors="replace")


SLURM_CONF = """\
ClusterName=alphalab
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@contextlib.contextmanager
def slurm_cluster(cpus: int = 2, timeout: float = 60.0) -> Iterator[dict[str, str]]:
    """A one-node SLURM (Debian's slurm-wlm) on 127.0.0.1 for the block; yields the environment
    its clients need (``SLURM_CONF``). Test-only settings: no authentication (auth/none, so no
    munge daemon), no accounting; slurmctld and slurmd run as root, each in its own session."""
    import socket

    sbin = Path(os.environ.get("ALPHALAB_SLURM_SBIN", "/usr/sbin"))
    root = Path(tempfile.mkdtemp(prefix="alphalab-slurm-", dir="/tmp"))
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    host = socket.gethostname()
    conf = root / "slurm.conf"
    ports = {"ctld_port": free_port(), "slurmd_port": free_port()}
    conf.write_text(SLURM_CONF.format(host=host, root=root, cpus=cpus, **ports))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    daemons = []
    try:
        for command in (
            [str(sbin / "slurmctld"), "-D", "-i", "-f", str(conf)],
            [str(sbin / "slurmd"), "-D", "-f", str(conf), "-N", host],
        ):
            with open(root / f"{Path(command[0]).name}.out", "wb") as log:
                daemons.append(
                    subprocess.Popen(
                        command,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(
                ["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True
            )
            if done.returncode == 0 and done.stdout.strip() in ("idle", "mixed", "allocated"):
                break
            assert all(d.poll() is None for d in daemons), (root / "slurmd.out").read_text()[-2000:]
            assert time.monotonic() < deadline, (
                f"SLURM's node is not idle: {done.stdout}{done.stderr}"
            )
            time.sleep(0.3)
        yield env
    finally:
        if daemons:
            subprocess.run(["scancel", "--full", "-u", "root"], env=env, capture_output=True)
            wait_for_empty_queue(env, timeout=15)
        for daemon in reversed(daemons):
            stop_server(daemon, timeout=5.0)
        for pid in job_steps(conf):  # slurmstepd runs in a session of its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


def wait_for_empty_queue(env: dict[str, str], timeout: float) -> bool:
    """Whether SLURM's queue empties within ``timeout`` s (jobs linger a moment COMPLETING)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True)
        if done.returncode == 0 and not done.stdout.strip():
            return True
        time.sleep(0.3)
    return False


def job_steps(conf: Path) -> list[int]:
    """The ``slurmstepd`` processes of the cluster configured by ``conf``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            step = entry.name.isdigit() and (entry / "comm").read_text().startswith("slurmstepd")
            if step and f"SLURM_CONF={conf}".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 in front of a real tracking server that, while ``refuse`` is
    set to ``(status, body)``, answers every write (POST or PUT) with that status and body, as a
    server that rejects writes does (a full disk, a quota, a broken backend); everything else,
    and every request while ``refuse`` is None, goes to the server unchanged."""

    def __init__(self, target: str) -> None:
        import http.server
        import threading
        import urllib.parse

        self.target = urllib.parse.urlsplit(target)
        self.refuse: tuple[int, str] | None = None
        self.refused = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.refuse is not None and self.command in ("POST", "PUT"):
                    proxy.refused += 1
                    status, text = proxy.refuse
                    self._answer(status, text.encode(), "application/json")
                    return
                import http.client

                upstream = http.client.HTTPConnection(
                    proxy.target.hostname, proxy.target.port, timeout=60
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                kind = answer.getheader("Content-Type", "application/octet-stream")
                self._answer(answer.status, data, kind)
                upstream.close()

            def _answer(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> RefusingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
