"""What watches a population while it trains: after every epoch its progress shown
(``engine.progress``) and its runs' epochs so far logged, so the store's RUNNING children grow
as they train."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

from alphalab.config import one_line
from alphalab.engine.outcome import FitOutcome
from alphalab.tracking import names
from alphalab.tracking.curves import kept_step
from alphalab.tracking.runs import RunWriter
from alphalab.tracking.unreachable import TrackingUnreachable

PROGRESS = "sweep_progress"  # the parent's metric: the fraction of the sweep's epochs done


class Watch:
    """While a population trains: after every epoch its progress shown, and its runs' epochs
    so far logged (in one write, in the background, at most every ``EVERY`` seconds after the
    first epoch and never more than a ``SHARE`` of the time: thousands of runs take a while to
    write), so the store's RUNNING children grow as they train."""

    EVERY = 2.0
    SHARE = 0.1

    def __init__(self, writer: RunWriter, records, last, jobs, groups, shown, thin=None):
        """``last[i]``: job ``i``'s last member; ``groups``: each member's arm; ``thin[i]``:
        job ``i`` keeps its curves at the epochs ``tracking.curves`` keeps (a sweep's grid)."""
        self.writer, self.records, self.groups, self.shown = writer, records, groups, shown
        self.job_of = {last[i]: i for i, job in enumerate(jobs) if job.executions == 1}
        self.thin = list(thin or [False] * len(jobs))
        self.epochs = jobs[0].spec.train.epochs
        self.written: dict[int, int] = {}  # job -> epochs logged
        self.best: dict[str, float] = {}
        self.flushed = -math.inf
        self.wait = self.EVERY
        self.failed = False
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="alphalab-live")
        self.pending = None

    def __call__(self, epoch: int, members: list[tuple[int, FitOutcome]]) -> None:
        running = 0
        for member, outcome in members:
            running += outcome.error is None
            loss = outcome.last(names.VAL_LOSS)
            if math.isfinite(loss):
                group = str(self.groups[member])
                self.best[group] = min(self.best.get(group, math.inf), loss)
        self.shown.epoch(epoch, running, self.best)
        busy = self.pending is not None and not self.pending.done()
        due = epoch == 1 or time.perf_counter() - self.flushed >= self.wait
        if not self.failed and not busy and epoch < self.epochs and due:
            self.flushed = time.perf_counter()
            done = self.shown.fraction(epoch)
            progress = [(PROGRESS, done, round(done * 10_000))]  # step: grows over populations
            self.pending = self.thread.submit(self._write, self._points(members), progress)

    def finish(self) -> None:
        """Wait for the last write (before the runs close: they write only the rest)."""
        if self.pending is not None:
            self.pending.result()
        self.thread.shutdown()
        self.shown.close()

    def _points(self, members) -> list:
        """The epochs not yet logged of every member trained in this epoch."""
        points = []
        for member, outcome in members:
            job = self.job_of.get(member)
            if job is None:
                continue
            start = self.written.get(job, 0)
            values = [
                (key, series[step], step)
                for key, series in outcome.history.items()
                for step in range(start, len(series))
                if not self.thin[job] or kept_step(step)
            ]
            self.written[job] = len(outcome.history.get(names.LOSS, []))
            points.append((self.records[job], values))
        return points

    def _write(self, points, progress) -> None:
        """In the background, while the fit goes on."""
        start = time.perf_counter()
        try:
            self.writer.live(points, progress)
        except TrackingUnreachable:  # the close tries again, and says so if it cannot either
            self.failed = True
        except Exception as exc:  # noqa: BLE001 - the runs' close writes every epoch anyway
            self.failed = True
            print(f"alphalab: live metrics stopped ({one_line(exc)}); logged at the end")
        self.wait = max(self.EVERY, (time.perf_counter() - start) / self.SHARE)
