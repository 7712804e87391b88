"""What watches a population while it trains: after every epoch its progress shown
(``engine.progress``) and its runs' epochs so far logged, so the store's RUNNING children grow
as they train."""

from __future__ import annotations

import math
import time

from alphalab.config import one_line
from alphalab.engine.outcome import FitOutcome
from alphalab.tracking import names
from alphalab.tracking.runs import RunWriter


class Watch:
    """While a population trains: after every epoch its progress shown, and its runs' epochs
    so far logged (in one write, at most every ``EVERY`` seconds after the first epoch), so the
    store's RUNNING children grow as they train."""

    EVERY = 2.0

    def __init__(self, writer: RunWriter, records, last, jobs, groups, shown):
        """``last[i]``: job ``i``'s last member; ``groups``: each member's arm."""
        self.writer, self.records, self.groups, self.shown = writer, records, groups, shown
        self.job_of = {last[i]: i for i, job in enumerate(jobs) if job.executions == 1}
        self.epochs = jobs[0].spec.train.epochs
        self.written: dict[int, int] = {}  # job -> epochs logged
        self.best: dict[str, float] = {}
        self.flushed = -math.inf
        self.failed = False

    def __call__(self, epoch: int, members: list[tuple[int, FitOutcome]]) -> None:
        running = 0
        for member, outcome in members:
            running += outcome.error is None
            loss = outcome.last(names.VAL_LOSS)
            if math.isfinite(loss):
                group = str(self.groups[member])
                self.best[group] = min(self.best.get(group, math.inf), loss)
        self.shown.epoch(epoch, running, self.best)
        now = time.perf_counter()
        if (
            not self.failed
            and epoch < self.epochs
            and (epoch == 1 or now - self.flushed >= self.EVERY)
        ):
            self.flushed = now
            self._log(members)

    def _log(self, members) -> None:
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
            ]
            self.written[job] = len(outcome.history.get(names.LOSS, []))
            points.append((self.records[job], values))
        try:
            self.writer.live(points)
        except Exception as exc:  # noqa: BLE001 - the runs' close writes every epoch anyway
            self.failed = True
            print(f"alphalab: live metrics stopped ({one_line(exc)}); logged at the end")
