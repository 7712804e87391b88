"""A multirun as one MLflow parent run: opened before the first job, summarised after the last.

The launching process opens the store and the parent (fresh SQLite stores race when workers
create them), publishes a ``SweepContext`` to the jobs, prints a progress line per job, and at
the end logs ``comparison.csv``, ``landscape.png``, the ``best_*`` metrics and the verdict.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

from alphalab.config.names import Kind, Status
from alphalab.config.spec import RunSpec, SweepSpec
from alphalab.engine.context import SweepContext, resume_hint
from alphalab.engine.record import of_the_grid
from alphalab.engine.refine import refine
from alphalab.engine.refit import refit
from alphalab.engine.runs import record_rejected
from alphalab.results.compare import log_selected_models, record_comparison
from alphalab.results.render import Comparison
from alphalab.session import State
from alphalab.tracking.parent import ParentRun
from alphalab.tracking.runs import writer_line
from alphalab.tracking.store import tracker_for
from alphalab.tracking.unreachable import TrackingUnreachable, found_down, is_unreachable, one_try


class SweepSession:
    """One session of a sweep (a resumed sweep has several): its parent run and its context."""

    def __init__(self, spec: SweepSpec, name: str, total: int) -> None:
        self.spec, self.name, self.total = spec, name, total
        self.started = time.time()
        self.parent: ParentRun | None = None
        self.context: SweepContext | None = None

    @property
    def resume_hint(self) -> str:
        """How to resume this sweep."""
        return resume_hint(self.name)

    def start(
        self, params: dict[str, Any], launcher: str, workers: int, state_dir: str
    ) -> SweepContext:
        """Open (or resume) the parent run and publish the context the jobs read."""
        tracking = self.spec.tracking
        tracker = tracker_for(tracking)  # the one its jobs in this process use
        self.parent = ParentRun.open(tracker, self.name, Kind.SWEEP, params)
        context = SweepContext(
            parent_id=self.parent.run_id,
            total=self.total,
            started=self.started,
            done_at_start=sum(map(of_the_grid, self.parent.finished_keys)),
            state_dir=state_dir,
            tracking=tracking,
            name=self.name,
        )
        if workers > 1:
            share_cores(workers)
        context.write_finished(self.parent.finished_keys)
        context.to_env()
        self.context = context
        _OPEN.get().append(self)
        verb = "resuming" if self.parent.resumed else "starting"
        print(
            f"alphalab: {verb} sweep '{self.name}': {self.total} jobs "
            f"({context.done_at_start} already finished), launcher {launcher}, "
            f"parent run {self.parent.run_id}\nalphalab: if interrupted, {self.resume_hint}\n"
            f"{writer_line(tracker)}",
            flush=True,
        )
        return context

    def finish(self, spec_of_run: Callable[[str], RunSpec]) -> Comparison:
        """Refine (``sweep.refine``), refit each arm's choice, then compare the children, record
        the comparison on the parent, print it, close it; ``spec_of_run`` recovers a logged
        run's spec."""
        assert self.parent is not None and self.context is not None, "finish() before start()"
        tracker = self.parent.tracker
        try:
            if self.spec.refine:
                refine(self.parent, self.spec.refine, self.context, spec_of_run)
            refit(self.parent, self.context, spec_of_run)
            wall = time.time() - self.started
            comparison = record_comparison(tracker, self.parent.run_id, wall_seconds=wall)
            log_selected_models(tracker, self.parent.run_id, comparison)
            print(comparison.console(), flush=True)
            print(f"MLflow: parent run {self.parent.run_id} in {tracker.uri}", flush=True)
            self.parent.close(Status.FINISHED)
        except BaseException as exc:
            if is_unreachable(exc):  # the server is gone: one line, exit 1, resume later
                unreachable = TrackingUnreachable.of(tracker.uri, exc)
                unreachable.report(self.resume_hint)
                self._close_quickly()
                raise unreachable from exc
            self.parent.close(Status.FAILED, f"summary failed: {exc}")
            raise
        finally:
            SweepContext.clear_env()
            _forget(self)
        return comparison

    def interrupted(self) -> None:
        """At exit: a parent still open means the sweep was interrupted; close it KILLED."""
        _forget(self)
        if self.parent is None or self.parent.closed:
            return
        if found_down(self.parent.tracker.uri):  # its line is printed: no second one
            self._close_quickly()
            return
        stopped = _STOPPED.get()
        why = f"stopped: {stopped[-1]}" if stopped else "interrupted"  # see stop()
        print(f"alphalab: sweep '{self.name}' {why}; {self.resume_hint}", file=sys.stderr)
        with contextlib.suppress(Exception):  # best effort while the process exits
            self.parent.close(Status.KILLED, f"{why}; {self.resume_hint}")

    def _close_quickly(self) -> None:
        """Close the parent KILLED if the server answers at once (else it stays RUNNING until
        the sweep is resumed): MLflow's retries were used up already."""
        hint = f"the tracking server did not answer; {self.resume_hint}"
        with contextlib.suppress(Exception), one_try():
            self.parent.close(Status.KILLED, hint)


# Why the running sweep was stopped; a reset forgets it.
_STOPPED: State[list[str]] = State("engine.sweep.stopped", list)


def _close_left_open(sessions: list[SweepSession]) -> None:
    """A reset must not leak an open parent run: each is closed KILLED, as at an interrupted
    exit, and the context its sweep published is withdrawn (a fresh process has none)."""
    if sessions:
        close_interrupted()
        SweepContext.clear_env()


# Sessions of this process whose parent run may be open (a reset closes them first).
_OPEN: State[list[SweepSession]] = State("engine.sweep.open", list, on_clear=_close_left_open)


def _forget(session: SweepSession) -> None:
    sessions = _OPEN.get()
    if session in sessions:
        sessions.remove(session)


def close_interrupted() -> None:
    """Close KILLED the parent run of every sweep this process left open (a sweep run in
    process, such as ``alphalab.sweep``, that was interrupted: no exit handler runs then)."""
    for session in list(_OPEN.get()):
        session.interrupted()
    _STOPPED.get().clear()


def stop(reason: str) -> NoReturn:
    """End the sweep now (exit 1): at exit its parent is closed KILLED and one line says
    ``reason`` and how to resume."""
    _STOPPED.get().append(reason)
    raise SystemExit(1)


def share_cores(workers: int) -> None:
    """Give each parallel worker's TensorFlow its share of the cores, through the environment the
    workers inherit (set before they start; a user's own setting wins)."""
    threads = str(max(1, (os.cpu_count() or 1) // max(workers, 1)))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", threads)


def report_population(context: SweepContext, results: list) -> None:
    """One line for a population that just finished (its members all end at once): how many
    finished, each approach's lowest final-epoch validation loss (what the table shows), the
    time so far and, while populations remain, the time left; then a line for each member that
    carries news (failed, diverged, rejected), and none for the others."""
    done = context.mark_done(*(result.job_key for result in results))
    elapsed = time.time() - context.started
    counts: dict[str, int] = {}
    lowest: dict[str, float] = {}
    for result in results:
        status = "skipped" if result.skipped else result.status
        counts[status] = counts.get(status, 0) + 1
        if math.isfinite(result.final_val_loss):
            approach = result.name.split(" ")[0]
            lowest[approach] = min(lowest.get(approach, math.inf), result.final_val_loss)
    best = ", ".join(f"{a} {loss:.4g}" for a, loss in sorted(lowest.items()))
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    after = f", ~{_time_left(context, done, elapsed):.0f}s left" if done < context.total else ""
    print(
        f"[{done:>3}/{context.total}] population of {len(results)} done: {tally}; "
        + (f"lowest final val_loss {best}" if best else "no finite val_loss")
        + f"; elapsed {elapsed:.0f}s{after}",
        flush=True,
    )
    for result in results:
        if not result.skipped and result.status != Status.FINISHED:
            print(f"        {result.name}: {result.status}, {result.error}", flush=True)


def report_members(context: SweepContext, results: list) -> None:
    """A line per member of a population that just finished: they all finished at once, so
    the time left is estimated from the sweep's progress after the whole population."""
    done = context.mark_done(*(result.job_key for result in results))
    first = done - len(results) + 1
    for number, result in enumerate(results, first):
        line = (result.name, result.final_val_loss, result.status_text, result.error)
        print(_progress_line(context, number, done, *line), flush=True)


def report_rejected(context: SweepContext, config: dict[str, Any], error: str) -> None:
    """A sweep job whose config was rejected: recorded FAILED, one line, counted as done."""
    key = record_rejected(context.tracking, config, error, context.parent_id)
    print(f"alphalab: job rejected: {error}", flush=True)
    context.mark_done(key)


def _time_left(context: SweepContext, done: int, elapsed: float) -> float:
    """The seconds the sweep's other jobs will take, at the pace of this session's jobs so far
    (jobs finished in earlier sessions took none of ``elapsed``)."""
    new = max(done - context.done_at_start, 1)
    return max(context.total - done, 0) * elapsed / new


def _progress_line(
    context: SweepContext,
    number: int,
    done: int,
    name: str,
    loss: float,
    status: str,
    error: str | None,
) -> str:
    """``[number/total] name  val_loss  status  elapsed, ~left`` with ``done`` jobs done."""
    elapsed = time.time() - context.started
    left = _time_left(context, done, elapsed)
    shown = f"{loss:.4g}" if math.isfinite(loss) else "n/a"
    return f"[{number:>3}/{context.total}] {name:<44} val_loss {shown:<10} {status:<9} " + (
        f"elapsed {elapsed:5.0f}s, ~{left:.0f}s left" + (f"  ({error})" if error else "")
    )
