"""The same comparison for every reader: console table, ``comparison.csv``, markdown verdict."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alphalab.config.names import Arm, Kind, learns
from alphalab.results.rows import Row
from alphalab.results.searches import SearchSummary
from alphalab.results.verdict import Summary

ARMS = tuple(Arm)
ROWS_PER_ARM = 50  # an arm with more runs shows its best SHOWN_OF_MANY (and any failed ones)
SHOWN_OF_MANY = 10
CSV_COLUMNS = (
    "run_name",
    "approach",
    "arm",
    "start_alpha_real",
    "start_alpha_imag",
    "learned_alpha_real",
    "learned_alpha_imag",
    "final_val_loss",
    "alpha_error",
    "seed",
    "status",
    "train_seconds",
    "baseline_val_loss",
    "converged",
    "run_id",
    "error",
    "final_test_loss",
    "test_baseline_loss",
    "fold",
    "pruned_after_epoch",
    "kind",  # run, refine, refit, continue, trial, reference (tag alphalab.kind)
)


def loss_text(value: float) -> str:
    """A loss for people: 4 significant digits, a dash when there is none."""
    return f"{value:.4g}" if math.isfinite(value) else "—"


def table(summary: Summary) -> str:
    """A sweep's console table: one line per run, best first within each arm."""
    tested = any(math.isfinite(row.test_loss) for row in summary.rows)
    folds = any(row.fold is not None for row in summary.rows)
    header = (
        f"{'approach':<15} {'start α':<13} {'learned α':<15} {'val_loss':>10} "
        + (f"{'test':>10} " if tested else "")
        + f"{'|α−α*|':>8} {'seed':>4}  "
        + (f"{'fold':>4}  " if folds else "")
        + f"{'status':<9} {'train s':>7}"
    )
    lines = [header, "-" * len(header)]
    order = sorted(summary.rows, key=_order)
    shown, hidden = _shown(order)
    for row in shown:
        error = f"{row.alpha_error:.3g}" if row.alpha_error is not None else "—"
        basin = (
            ""
            if not learns(row.approach) or not row.ok
            else (" *" if summary.in_basin.get(row.run_id) else "")
        )
        mark = "†" if row.ok and row.converged is False and row.pruned is None else ""
        loss = loss_text(row.final_val_loss) + ("‡" if row.pruned is not None else mark)
        label = Arm.REFINED if row.arm == Arm.REFINED else row.approach
        if row.kind == Kind.REFIT:
            label = f"{row.approach} refit"  # its arm's choice, on every non-test row
        elif row.kind == Kind.CONTINUE:
            label = f"{row.approach} refit+"  # a refit trained on as long again
        test = f"{loss_text(row.test_loss):>10} " if tested else ""
        fold = f"{row.fold if row.fold is not None else '—':>4}  " if folds else ""
        lines.append(
            f"{label:<15} {str(row.start):<13} "
            f"{str(row.learned) + basin:<15} {loss:>10} {test}"
            f"{error:>8} {row.seed:>4}  {fold}{row.status:<9} {row.seconds:>7.2f}"
        )
    for arm, count in hidden.items():
        lines.append(f"... and {count} more {arm} runs (every run is in comparison.csv)")
    if summary.in_basin:
        lines.append("* learned alpha in the best basin")
    if any(row.ok and row.converged is False and row.pruned is None for row in summary.rows):
        lines.append("† not converged: the validation loss was still falling at the end")
    if any(row.pruned is not None for row in summary.rows):
        lines.append("‡ pruned: stopped at a rung of sweep.prune (its last val_loss)")
    if math.isfinite(summary.trust.baseline):
        rows = summary.trust.rows
        lines.append(
            f"baseline (predicting the training mean, on the {rows} rows): "
            f"{summary.trust.baseline:.4g}"
        )
    if len(summary.seeds) > 1 or folds:
        lines += ["", aggregate_table(summary)]
    return "\n".join(lines)


def _order(r: Row) -> tuple:
    """Within each arm its refits first (by seed), then its runs by validation loss."""
    if not r.in_grid:
        return (ARMS.index(r.arm), 0, r.kind != Kind.REFIT, r.seed, 0.0)
    loss = r.final_val_loss if r.ok and math.isfinite(r.final_val_loss) else math.inf
    return (ARMS.index(r.arm), 1, not r.ok, loss, r.seed)


def _shown(rows: list[Row]) -> tuple[list[Row], dict[str, int]]:
    """The rows the console shows: all of an arm with few runs, the best of an arm with many
    (the failed ones included); and how many of each arm are left out."""
    shown, hidden = [], {}
    for arm in ARMS:
        of_arm = [row for row in rows if row.arm == arm]
        if len(of_arm) <= ROWS_PER_ARM:
            shown += of_arm
            continue
        refits = [row for row in of_arm if not row.in_grid]
        runs = [row for row in of_arm if row.in_grid]
        kept = refits + runs[:SHOWN_OF_MANY] + [row for row in runs[SHOWN_OF_MANY:] if not row.ok]
        shown += kept
        hidden[arm] = len(of_arm) - len(kept)
    return shown, hidden


def aggregate_table(summary: Summary) -> str:
    """Over several seeds and folds: each configuration's mean validation loss (what an arm's
    choice ranks by) and its 95% CI; each arm's choice marked; the best of an arm with many."""
    header = f"{'approach':<10} {'start α':<13} {'mean val_loss':>13} {'± 95% CI':>9} {'runs':>5}"
    lines = [header, "-" * len(header)]
    chosen = {id(result.chosen) for result in summary.arms.values()}
    for arm in ARMS:
        groups = sorted((g for g in summary.groups if g.arm == arm), key=lambda g: g.loss[0])
        shown = groups if len(groups) <= ROWS_PER_ARM else groups[:SHOWN_OF_MANY]
        for group in shown:
            mean, half = group.loss
            mark = "  ← chosen" if id(group) in chosen else ""
            lines.append(
                f"{group.arm:<10} {str(group.start):<13} {loss_text(mean):>13} "
                f"{loss_text(half):>9} {len(group.finished):>5}{mark}"
            )
        if len(groups) > len(shown):
            lines.append(f"... and {len(groups) - len(shown)} more {arm} configurations")
    return "\n".join(lines)


def comparison_csv(rows: list[Row]) -> str:
    """``comparison.csv``: one row per child run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.name,
                r.approach,
                r.arm,
                r.start.real,
                r.start.imag,
                r.learned.real,
                r.learned.imag,
                r.final_val_loss,
                "" if r.alpha_error is None else r.alpha_error,
                r.seed,
                r.status,
                r.seconds,
                r.baseline,
                "" if r.converged is None else int(r.converged),
                r.run_id,
                r.error,
                r.test_loss,
                r.test_baseline,
                "" if r.fold is None else r.fold,
                "" if r.pruned is None else r.pruned,
                r.kind,
            ]
        )
    return out.getvalue()


def search_table(s: SearchSummary) -> str:
    """A search's console table: trials in the order they ran, then the reference."""
    header = f"{'#':>3} {'run':<34} {'alpha':<15} {'val_loss':>10} {'|α−α*|':>8}  {'status':<9}"
    lines = [header, "-" * len(header)]
    rows = list(enumerate(s.trials, 1))
    if s.reference is not None:
        rows.append(("ref", s.reference))
    for order, row in rows:
        alpha = str(row.learned)
        error = f"{row.alpha_error:.3g}" if row.alpha_error is not None else "—"
        mark = " ←best" if row is s.best else ""
        run = row.name.split(" α")[0]  # "trial 03 · lambda": the alpha has its own column
        lines.append(
            f"{order!s:>3} {run[:34]:<34} {alpha:<15} {loss_text(row.final_val_loss):>10} "
            f"{error:>8}  {row.status:<9}{mark}"
        )
    return "\n".join(lines)


@dataclass
class Comparison:
    """What a sweep or search concluded, ready for the console, the parent run and the CLI."""

    title: str
    headline: str
    verdict: list[str]
    table: str
    rows: list[Row]
    metrics: dict[str, float]
    artifacts: str  # one sentence on the parent's artifacts
    plots: dict[str, Callable[[], object]]  # artifact name -> draws it: a matplotlib Figure
    outcome: str  # learned | fixed | tuned | equivalent | inconclusive
    reasons: list[str]  # why it is inconclusive, if it is
    selected: dict[str, Row] = field(default_factory=dict)  # each arm's chosen run, by arm
    figures: list = field(default_factory=list)  # each arm's answer (results.figures.ArmFigure)

    def console(self) -> str:
        """The terminal's version: title, table, headline and verdict."""
        bar = "=" * 78
        bullets = "\n".join(f"  - {line}" for line in self.verdict)
        return f"\n{bar}\n{self.title}\n{bar}\n{self.table}\n\n{self.headline}\n{bullets}\n"

    def markdown(self) -> str:
        """``verdict.md`` and the parent run's description in the MLflow UI."""
        bullets = "\n".join(f"- {line}" for line in self.verdict)
        return (
            f"## {self.title}\n\n**{self.headline}**\n\n{bullets}\n\n{self.artifacts}\n\n"
            f"```\n{self.table}\n```\n"
        )

    @property
    def plot_name(self) -> str:
        """The main plot's artifact name (``landscape.png``, a search's ``trials.png``)."""
        return next(iter(self.plots))

    @property
    def figure(self) -> Callable[[], object]:
        """Draws the main plot."""
        return self.plots[self.plot_name]

    def draw(self, folder: Path) -> list[Path]:
        """Write every plot into ``folder``, each under its artifact name."""
        written = []
        for name, draw in self.plots.items():
            draw().savefig(folder / name)
            written.append(folder / name)
        return written

    def csv(self) -> str:
        """``comparison.csv``."""
        return comparison_csv(self.rows)
