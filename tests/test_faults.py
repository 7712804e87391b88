"""Faults around the tracking server, against the real thing on 127.0.0.1: one ``mlflow server``
on PostgreSQL for the module, that two sweeps share at once, and that is stopped and started
again (same port, same backend store and artifact folder) while a sweep writes to it. Each test
logs to an experiment of its own. Every process a test starts is stopped when it ends, passed
or failed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import ONE_SPLIT, ROOT, all_runs, finished_once, grid_of, split
from tests.servers import (
    RefusingProxy,
    finish,
    in_session,
    postgres_cluster,
    restartable_server,
)

pytestmark = pytest.mark.slow

SWEEP = ["+sweep=alpha", "alpha.imag=2.0", "approach=lambda,trainable"]
SWEEP += ["alpha.real=0.4,0.6,0.8,1.0", *ONE_SPLIT]  # 8 jobs, the default population launcher
JOBS = 8
TIMEOUT = 300


def sweep_command(folder: Path, name: str, uri: str, *extra: str) -> list[str]:
    """``python -m experiments.run`` of a small sweep called ``name`` logging to ``uri``, into
    the experiment called after the folder (the test's)."""
    args = ["experiments.run", *SWEEP, f"sweep.name={name}", f"tracking.uri={uri}"]
    return [*args, f"experiment_name={folder.name}", f"hydra.sweep.dir={folder / name}", *extra]


def wait_for(log: Path, process, text: str, timeout: float = TIMEOUT) -> None:
    """Until ``text`` shows in the output of a command started by ``in_session``."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, f"ended before '{text}':\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no '{text}' in time:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def no_traceback(output: str) -> None:
    assert "Traceback" not in output, output[-4000:]
    assert "Retrying (Retry(" not in output, output[-4000:]  # urllib3's line per retry


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The module's tracking server on PostgreSQL (stopped at the module's end)."""
    folder = tmp_path_factory.mktemp("server")
    with postgres_cluster() as postgres:
        backend = postgres.create_database("mlflow")
        with restartable_server(backend, folder / "artifacts", folder / "server.log") as server:
            yield server


@pytest.fixture
def server(shared):
    """The module's server, running (a test that failed with it stopped left it so)."""
    if shared.process is None:
        shared.start()
    return shared


@pytest.mark.needs("postgresql")
def test_two_sweeps_at_once_through_one_server_each_land_every_child_once(server, tmp_path):
    url, experiment, names = server.url, tmp_path.name, ("first", "second")
    logs = {name: tmp_path / f"{name}.log" for name in names}
    command = {name: sweep_command(tmp_path, name, url, "+debug=fast") for name in names}
    with (
        in_session(command["first"], logs["first"], ROOT) as first,
        in_session(command["second"], logs["second"], ROOT) as second,
    ):
        outputs = {
            "first": finish(first, logs["first"], TIMEOUT),
            "second": finish(second, logs["second"], TIMEOUT),
        }
    for name, process in (("first", first), ("second", second)):
        assert process.returncode == 0, outputs[name][-4000:]
        assert f"[  {JOBS}/{JOBS}]" in outputs[name]
        no_traceback(outputs[name])
    parents, children = split(all_runs(url, experiment))
    assert len(parents) == 2 and len(grid_of(children)) == 2 * JOBS
    for name in names:
        _, finished, _ = finished_once(url, JOBS, name, experiment)
        assert all(c.info.artifact_uri.startswith("mlflow-artifacts:/") for c in finished)


@pytest.mark.needs("postgresql")
def test_a_server_restarted_during_a_sweep_loses_and_duplicates_no_child(server, tmp_path):
    """Stopped while the sweep trains, started again a few seconds later on the same port: the
    sweep's writes wait (MLflow's retries, about 60 s) and it finishes every job exactly once
    (or, allowed too, it stops in one line and the same command resumes it)."""
    experiment, log = tmp_path.name, tmp_path / "sweep.log"
    command = sweep_command(tmp_path, "restart", server.url, "train.epochs=60")
    with in_session(command, log, ROOT) as process:
        wait_for(log, process, "epoch 1/60")  # its children are open, RUNNING
        server.stop()
        time.sleep(3)
        server.start()
        output = finish(process, log, TIMEOUT)
    no_traceback(output)
    assert f"tracking server at 127.0.0.1:{server.port} does not answer" in output
    if process.returncode != 0:  # one line naming the server and how to resume, then resume
        (line,) = [x for x in output.splitlines() if x.startswith("alphalab: error:")]
        assert "tracking.uri" in line and "sweep.name=restart" in line, line
        again = tmp_path / "again.log"
        with in_session(command, again, ROOT) as resumed:
            output = finish(resumed, again, TIMEOUT)
        assert resumed.returncode == 0, output[-4000:]
    finished_once(server.url, JOBS, "restart", experiment)
    assert not [r for r in all_runs(server.url, experiment) if r.info.status == "RUNNING"]


@pytest.mark.needs("postgresql")
def test_a_server_down_for_longer_than_the_retries_stops_the_sweep_in_one_line(server, tmp_path):
    """Down for longer than the sweep retries (here 4 s): exit 1, one line naming tracking.uri
    and how to resume, no traceback; once the server is back the same command resumes and
    finishes every job exactly once, leaving no run RUNNING."""
    experiment, log = tmp_path.name, tmp_path / "sweep.log"
    short = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2"}
    command = sweep_command(tmp_path, "down", server.url, "+debug=fast", "train.epochs=30")
    with in_session(command, log, ROOT, **short) as process:
        wait_for(log, process, "epoch 1/30")
        server.stop()
        output = finish(process, log, 120)
    assert process.returncode == 1, output[-4000:]
    no_traceback(output)
    errors = [x for x in output.splitlines() if x.startswith("alphalab: error:")]
    assert errors == [
        f"alphalab: error: the tracking server {server.url} (tracking.uri) did not answer "
        "for 4 s; start it again, then resume with the same command plus sweep.name=down"
    ], output[-4000:]
    assert "sweep 'down' interrupted" not in output  # the one line says it all

    server.start()
    left = [r for r in all_runs(server.url, experiment) if r.info.status == "RUNNING"]
    assert left  # what it could not close: closed by the resume
    again = tmp_path / "again.log"
    with in_session(command, again, ROOT) as resumed:
        output = finish(resumed, again, TIMEOUT)
    assert resumed.returncode == 0, output[-4000:]
    assert "resuming sweep 'down'" in output
    finished_once(server.url, JOBS, "down", experiment)
    assert not [r for r in all_runs(server.url, experiment) if r.info.status == "RUNNING"]


BAD_REQUEST = '{"error_code": "BAD_REQUEST", "message": "the backend store is read-only"}'


@pytest.mark.needs("postgresql")
@pytest.mark.parametrize(
    "status, body, said",
    [
        (400, BAD_REQUEST, "HTTP 400 BAD_REQUEST: the backend store is read-only"),
        (503, "Service Unavailable", "HTTP 503"),  # retried by MLflow, then refused
    ],
)
def test_a_server_that_refuses_writes_stops_the_sweep_in_one_line_and_the_rerun_finishes_it(
    server, tmp_path, status, body, said
):
    """A server that answers writes with an HTTP error (4xx at once, 5xx past MLflow's
    retries): exit 1, one line saying what it answered and how to resume, no traceback; once
    it accepts writes again, the same command finishes every job exactly once, no run left
    RUNNING."""
    experiment, log = tmp_path.name, tmp_path / "sweep.log"
    short = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
    with RefusingProxy(server.url) as proxy:
        name = f"refused-{status}"
        command = sweep_command(tmp_path, name, proxy.url, "+debug=fast", "train.epochs=30")
        with in_session(command, log, ROOT, **short) as process:
            wait_for(log, process, "epoch 1/30")
            proxy.refuse = (status, body)
            output = finish(process, log, 120)
        assert process.returncode == 1, output[-4000:]
        assert proxy.refused > 0
        no_traceback(output)
        errors = [x for x in output.splitlines() if x.startswith("alphalab: error:")]
        assert errors == [
            f"alphalab: error: the tracking server {proxy.url} (tracking.uri) refused a write "
            f"({said}); once it accepts writes, resume with the same command plus "
            f"sweep.name={name}"
        ], output[-4000:]

        proxy.refuse = None
        again = tmp_path / "again.log"
        with in_session(command, again, ROOT) as resumed:
            output = finish(resumed, again, TIMEOUT)
        assert resumed.returncode == 0, output[-4000:]
        assert f"resuming sweep '{name}'" in output
    finished_once(server.url, JOBS, name, experiment)
    assert not [r for r in all_runs(server.url, experiment) if r.info.status == "RUNNING"]
