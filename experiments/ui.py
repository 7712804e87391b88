"""``python -m experiments.ui``: the MLflow UI on alphalab's store, until Ctrl-C.

The store is ``--store``, else ``MLFLOW_TRACKING_URI``, else the project's
``sqlite:///<root>/mlruns/mlflow.db``. ``--port 0`` picks a free port. The server runs in its own
process group and is always stopped as a whole (MLflow leaves worker processes behind otherwise).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from contextlib import suppress
from pathlib import Path

from alphalab.entry.defaults import default_experiment
from alphalab.tracking.precheck import redact, store_problem
from alphalab.tracking.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    UIError,
    check_port,
    experiment_id,
    experiment_url,
    prepare_store,
    start_server,
    stop_server,
)
from alphalab.tracking.store import resolve_uri


class _Stop(Exception):
    """Raised from the SIGTERM/SIGHUP handler so the server is stopped like on Ctrl-C."""


def _raise_stop(signum: int, _frame) -> None:
    raise _Stop(signal.Signals(signum).name)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop_uninterrupted(process: subprocess.Popen) -> None:
    """Stop the server; a second Ctrl-C must not cut the clean-up short and leave it running."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
    try:
        stop_server(process)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_arguments(uri: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise UIError(f"--port must be between 0 and 65535, got {port}")
    if uri.startswith(("http://", "https://")):
        raise UIError(f"{uri} is a tracking server: it serves its own UI, open it in a browser")


def serve(store: str | None, host: str, port: int, experiment_name: str) -> int:
    """``python -m experiments.ui``: run the UI until Ctrl-C or SIGTERM; return the exit code."""
    uri = resolve_uri(store)
    log = Path(tempfile.gettempdir()) / f"alphalab-mlflow-ui-{os.getpid()}.log"
    # SIGTERM (and SIGHUP, unless started under nohup) stop the server like Ctrl-C does.
    previous = {
        sig: signal.signal(sig, _raise_stop)
        for sig in (signal.SIGTERM, signal.SIGHUP)
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    process = None
    try:
        _check_arguments(uri, port)
        if port != 0:
            check_port(host, port)  # before touching the store: a taken port changes nothing
        if problem := store_problem(uri):
            raise UIError(f"tracking.uri: {problem}")
        if prepare_store(uri, experiment_name):  # a typo in --store should not go unnoticed
            print(f"alphalab: created a new, empty store {uri}", flush=True)
        process, url = start_server(uri, host, port, log=log)
        page = experiment_url(url, experiment_id(uri, experiment_name))
        print(f"alphalab: MLflow UI for {redact(uri)} at {page} — Ctrl-C to stop", flush=True)
        print(f"alphalab: server log: {log}", flush=True)
        code = process.wait()
        print(
            f"alphalab: error: the MLflow UI exited on its own with code {code}; see {log}",
            file=sys.stderr,
        )
        return 1
    except UIError as exc:
        where = f" (server log: {log})" if log.exists() else ""
        print(f"alphalab: error: {exc}{where}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Stop):
        if process is not None:
            _stop_uninterrupted(process)
            print("alphalab: MLflow UI stopped", flush=True)
        with suppress(OSError):
            log.unlink()
        return 0
    finally:
        if process is not None:  # also when it exited on its own: its group may live on
            _stop_uninterrupted(process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and serve until stopped."""
    parser = argparse.ArgumentParser(
        prog="python -m experiments.ui",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (%(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--store", default=None, help="MLflow tracking URI (default: see above)")
    parser.add_argument(
        "--experiment", default=default_experiment(), help="experiment to open (%(default)s)"
    )
    args = parser.parse_args(argv)
    return serve(args.store, args.host, args.port, args.experiment)


if __name__ == "__main__":
    sys.exit(main())
