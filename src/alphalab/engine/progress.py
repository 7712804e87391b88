"""What a sweep shows while its populations train: per epoch the epoch and its total, how many
members still train, each arm's best validation loss so far and the time left from the measured
epoch time; and one overall line for all of the sweep's runs.

On a terminal it is a live display (``rich``, which Keras already brings); otherwise, as in a log
file or a CI job, plain lines: the first epoch's at once, then at most one a second, and the last.
"""

from __future__ import annotations

import math
import sys
import time

PLAIN_EVERY = 1.0  # seconds between plain lines (the first and the last epoch always print)


def _best_text(best: dict[str, float]) -> str:
    shown = [f"{arm} {loss:.4g}" for arm, loss in best.items() if math.isfinite(loss)]
    return (
        "lowest val_loss so far (any epoch) " + ", ".join(shown)
        if shown
        else ("no finite val_loss yet")
    )


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value >= 10 else f"{value:.1f}s"


class SweepProgress:
    """The progress of ``total`` runs trained in populations, one after another."""

    def __init__(self, total: int, done: int = 0, stream=None, live: bool | None = None):
        """``done``: runs finished before (a resumed sweep); ``live``: a live display (default:
        when ``stream`` is a terminal)."""
        self.stream = stream or sys.stdout
        self.total, self.done = total, done
        self.started = time.perf_counter()
        self.populations = 0
        self.live = self.stream.isatty() if live is None else live
        self._display = None

    def population(self, size: int, epochs: int) -> PopulationProgress:
        """Start showing one population of ``size`` runs training ``epochs`` epochs."""
        self.populations += 1
        return PopulationProgress(self, size, epochs)

    # --- the live display ---------------------------------------------------------------------
    def _rich(self):
        if self._display is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._display = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[detail]}"),
                console=Console(file=self.stream),
                transient=False,
            )
            self._display.start()
            self._overall = self._display.add_task(
                "sweep runs", total=self.total, completed=self.done, detail=""
            )
        return self._display

    def finished(self, runs: int) -> None:
        """``runs`` more runs are done."""
        self.done += runs
        if self._display is not None:
            self._display.update(self._overall, completed=self.done)

    def close(self) -> None:
        """Stop the live display (it leaves its last state on the terminal)."""
        if self._display is not None:
            self._display.stop()
            self._display = None


class PopulationProgress:
    """One population's epochs, shown as they end."""

    def __init__(self, sweep: SweepProgress, size: int, epochs: int):
        self.sweep, self.size, self.epochs = sweep, size, epochs
        self.number = sweep.populations
        self.started = time.perf_counter()
        self.last_line = -math.inf
        self.first_end = self.started
        self.task = None
        if sweep.live:
            display = sweep._rich()
            self.task = display.add_task(
                f"population {self.number} ({size} runs), epoch",
                total=epochs,
                detail="",
            )

    def epoch(self, epoch: int, live: int, best: dict[str, float]) -> None:
        """Epoch ``epoch`` (counted from 1) ended with ``live`` members training and ``best``
        the lowest validation loss so far of each arm."""
        now = time.perf_counter()
        if epoch == 1:  # the first epoch also builds the graph: time the ones after it
            self.first_end = now
        per_epoch = (now - self.first_end) / (epoch - 1) if epoch > 1 else math.nan
        left = per_epoch * (self.epochs - epoch)
        detail = f"{live} live, {_best_text(best)}"
        if self.task is not None:
            self.sweep._display.update(self.task, completed=epoch, detail=detail)
            return
        if epoch not in (1, self.epochs) and now - self.last_line < PLAIN_EVERY:
            return
        self.last_line = now
        sweep = self.sweep
        print(
            f"alphalab: population {self.number} ({self.size} runs; {sweep.done} of "
            f"{sweep.total} sweep runs done): epoch {epoch}/{self.epochs}, {detail}"
            + (f", {per_epoch:.2g} s/epoch" if epoch > 1 else "")
            + (f", ~{_seconds(left)} left" if 1 < epoch < self.epochs else ""),
            file=sweep.stream,
            flush=True,
        )

    def fraction(self, epoch: int) -> float:
        """How much of the sweep is done once this population's epoch ``epoch`` ended."""
        sweep = self.sweep
        return (sweep.done + self.size * epoch / self.epochs) / max(sweep.total, 1)

    def close(self) -> None:
        """The population is done."""
        if self.task is not None:
            self.sweep._display.update(self.task, completed=self.epochs, visible=False)
        self.sweep.finished(self.size)
