"""A tracking server that stops answering while a sweep writes to it (restarted, crashed, the
network gone), or that answers a write with an HTTP error (4xx, or 5xx past the retries):
bounded retries, then one line and a clean stop.

MLflow's HTTP client retries a refused or broken connection by itself, by default 7 times with
a backoff factor of 2 (about 4 minutes per call, then an ``MlflowException`` and, from the
sweep, a traceback). alphalab's commands lower the default to 5 retries (0, 4, 8, 16 and 32 s
apart: about 60 s, long enough for a server restart), replace urllib3's warning per retry with
one line, and turn a call that still fails into ``TrackingUnreachable``: the command exits 1 with
one line naming the server and how to resume. A user's own ``MLFLOW_HTTP_REQUEST_*`` settings
win. A write the server refuses (an HTTP error status: MLflow retries 408, 429 and 5xx, not 4xx)
stops the command the same way, its line saying what the server answered: a sweep cannot record
what its store rejects, and the same command resumes once the server accepts writes again.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from alphalab.session import State

RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
}
# Stores found unreachable in this process; a reset forgets them (the next close tries again).
_DOWN: State[set[str]] = State("tracking.unreachable.down", set)
_NOTICE_EVERY = 60.0  # seconds between "retrying" lines


def retry_seconds() -> float:
    """About how long MLflow retries one call before it gives up (its backoff, as set now)."""
    retries = int(os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7"))
    factor = float(os.environ.get("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "2"))
    return sum(min(120.0, factor * 2 ** (n - 1)) for n in range(2, retries + 1))


def bounded_retries() -> None:
    """Set alphalab's retry defaults (the user's own settings win) and quieten the per-retry
    warnings; for every process of a command (workers inherit the environment)."""
    for key, value in RETRY_DEFAULTS.items():
        os.environ.setdefault(key, value)
    quiet_retries()


def quiet_retries() -> None:
    """One line instead of urllib3's warning per retry (also where a worker process was handed
    the job without importing ``experiments``: joblib's, which inherit the retry settings)."""
    pool = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RetryNotice) for f in pool.filters):
        pool.addFilter(_RetryNotice())


class _RetryNotice(logging.Filter):
    """Drops urllib3's "Retrying (Retry(total=4, ...)) after connection broken by ..." warnings
    (one per retry of every thread) and says once a minute, in one line, what is going on."""

    def __init__(self) -> None:
        super().__init__()
        self.said = -float("inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Retrying"):
            return True
        now = time.monotonic()
        if now - self.said >= _NOTICE_EVERY:
            self.said = now
            text = record.getMessage().lower()
            server = _pool_address()
            why = "timed out" if "timed out" in text or "timeout" in text else "no answer"
            why = "connection refused" if "refused" in text else why
            print(
                f"alphalab: the tracking server{server} does not answer ({why}); "
                f"retrying for up to {retry_seconds():.0f} s",
                file=sys.stderr,
                flush=True,
            )
        return False


def _pool_address() -> str:
    """`` at host:port`` of the urllib3 connection pool that is retrying (the caller's), or ""."""
    from urllib3 import HTTPConnectionPool

    frame = sys._getframe(1)
    while frame is not None:
        pool = frame.f_locals.get("self")
        if isinstance(pool, HTTPConnectionPool):
            return f" at {pool.host}:{pool.port}"
        frame = frame.f_back
    return ""


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and what it was raised from, innermost last."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) says an HTTP store could not be reached
    even after MLflow's retries (a refused or broken connection, a timeout, retries used up),
    or that it refused a write (``refusal``)."""
    if isinstance(exc, TrackingUnreachable):
        return True
    from requests.exceptions import ConnectionError, RetryError, Timeout

    if any(isinstance(e, (ConnectionError, RetryError, Timeout)) for e in _chain(exc)):
        return True
    return refusal(exc) is not None


_ERROR_STATUS = re.compile(r"too many (\d{3}) error responses|failed with error code (\d{3})")


def refusal(exc: BaseException) -> str | None:
    """What the tracking server answered when it refused a call (``HTTP 400: <its message>``;
    a 5xx past MLflow's retries: ``HTTP 503``), or None when ``exc`` is no such answer."""
    from mlflow.exceptions import MlflowException, RestException

    for error in _chain(exc):
        text = str(error)
        if isinstance(error, RestException):
            status, code = error.get_http_status_code(), error.error_code
            message = error.message.removeprefix(f"{code}: ")  # MLflow puts the code first
            return f"HTTP {status} {code}: {_first_line(message)}"
        found = _ERROR_STATUS.search(text)
        if found and isinstance(error, (MlflowException, OSError)):
            status = found.group(1) or found.group(2)
            body = text.partition("Response body: ")[2].strip("' ")
            return f"HTTP {status}" + (f": {_first_line(body)}" if body else "")
    return None


def _first_line(text: str, limit: int = 160) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


class TrackingUnreachable(SystemExit):
    """The tracking server did not answer within the retries: the command stops (exit 1).
    A SystemExit, so that it passes Hydra and the engine's handlers of failed fits (a fit that
    failed is recorded FAILED and the sweep goes on; a store that does not answer cannot be
    written to at all)."""

    def __init__(self, uri: str, resume: str = "", answered: str | None = None):
        super().__init__(1)
        self.uri, self.resume, self.answered = uri, resume, answered
        self.reported = False

    @classmethod
    def of(cls, uri: str, exc: BaseException) -> TrackingUnreachable:
        """The stop for ``exc`` (``is_unreachable``), saying what the server answered, if it
        did."""
        if isinstance(exc, TrackingUnreachable):
            return exc
        found = cls(uri, answered=refusal(exc))
        found.__cause__ = exc
        return found

    def __reduce__(self):
        """As it comes back from a worker process (joblib's): that process printed its line,
        and the launching one knows the store is down (no second line at its exit)."""
        return (_revived, (self.uri, self.resume, self.reported, self.answered))

    def report(self, resume: str = "") -> None:
        """Print the line (once), with how to resume where the caller knows it."""
        self.resume = self.resume or resume
        _DOWN.get().add(self.uri)
        if not self.reported:
            self.reported = True
            print(f"alphalab: error: {self.line()}", file=sys.stderr, flush=True)

    def line(self) -> str:
        """The one line the command prints."""
        from alphalab.tracking.precheck import redact

        server = f"the tracking server {redact(self.uri)} (tracking.uri)"
        if self.answered is not None:
            text = f"{server} refused a write ({self.answered})"
            return text + (f"; once it accepts writes, {self.resume}" if self.resume else "")
        text = f"{server} did not answer for {retry_seconds():.0f} s"
        return text + (f"; start it again, then {self.resume}" if self.resume else "")


def _revived(
    uri: str, resume: str, reported: bool, answered: str | None = None
) -> TrackingUnreachable:
    stop = TrackingUnreachable(uri, resume, answered)
    if reported:
        stop.reported = True
        _DOWN.get().add(uri)
    return stop


def each(uri: str, call: Callable, items: list, threads: int) -> None:
    """``call(item)`` for every item, from ``threads`` threads, writing to the server at
    ``uri``. Once a call finds it unreachable (after MLflow's own retries), the calls not yet
    started do not try: all raise ``TrackingUnreachable``."""
    from concurrent.futures import ThreadPoolExecutor

    down = threading.Event()
    first: list[TrackingUnreachable] = []  # what the first failed call met, for every call
    lock = threading.Lock()

    def guarded(item):
        if down.is_set():
            raise first[0]
        try:
            return call(item)
        except Exception as exc:
            if not is_unreachable(exc):
                raise
            stop = TrackingUnreachable.of(uri, exc)
            with lock:
                if not first:
                    first.append(stop)
                down.set()
            raise first[0] from exc

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(guarded, items))


def found_down(uri: str) -> bool:
    """Whether this process stopped because the store at ``uri`` did not answer."""
    return uri in _DOWN.get()


@contextmanager
def one_try() -> Iterator[None]:
    """MLflow calls in the block try once (a best-effort close of a store found down)."""
    saved = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_HTTP_REQUEST_MAX_RETRIES", None)
        else:
            os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = saved
