"""Read a sweep's children back from MLflow and say which approach won, by how much, at what cost.

The same rows feed the console table, ``comparison.csv``, the ``best_*`` metrics, the verdict
(console and the parent run's MLflow description) and ``landscape.png``.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alphalab import tracking
from alphalab.tracking import Tracker, format_alpha

CSV_COLUMNS = (
    "run_name",
    "approach",
    "start_alpha_real",
    "start_alpha_imag",
    "learned_alpha_real",
    "learned_alpha_imag",
    "final_val_loss",
    "alpha_error",
    "seed",
    "status",
    "train_seconds",
    "run_id",
    "error",
)


@dataclass
class Row:
    """One job of a sweep: its latest run (a FINISHED one if there is any)."""

    run_id: str
    name: str
    approach: str
    start: tuple[float, float]
    learned: tuple[float, float]
    final_val_loss: float
    alpha_error: float | None
    seed: int
    status: str
    seconds: float
    error: str = ""
    true_alpha: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED" and math.isfinite(self.final_val_loss)


def _float(mapping: dict, key: str, default: float = math.nan) -> float:
    try:
        return float(mapping[key])
    except (KeyError, TypeError, ValueError):
        return default


def row_from_run(run) -> Row:
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    start = (_float(params, "alpha_real"), _float(params, "alpha_imag"))
    learned = (
        _float(metrics, tracking.LEARNED_REAL, start[0]),
        _float(metrics, tracking.LEARNED_IMAG, start[1]),
    )
    true_alpha = None
    if "true_alpha_real" in params:
        true_alpha = (_float(params, "true_alpha_real"), _float(params, "true_alpha_imag"))
    error = metrics.get(tracking.ALPHA_ERROR)
    return Row(
        run_id=run.info.run_id,
        name=tags.get(tracking.TAG_RUN_NAME, run.info.run_name or ""),
        approach=params.get("approach", tags.get(tracking.TAG_APPROACH, "?")),
        start=start,
        learned=learned,
        final_val_loss=_float(metrics, tracking.FINAL_VAL_LOSS),
        alpha_error=error,
        seed=int(_float(params, "seed", -1)),
        status=run.info.status,
        seconds=_float(metrics, "train_seconds"),
        error=tags.get(tracking.TAG_ERROR, ""),
        true_alpha=true_alpha,
    )


def latest_rows(runs: list) -> list[Row]:
    """One row per job key: the latest FINISHED run of that job, else its latest run."""
    chosen: dict[str, object] = {}
    for run in sorted(runs, key=lambda r: r.info.start_time or 0):
        key = run.data.tags.get(tracking.TAG_JOB_KEY, run.info.run_id)
        previous = chosen.get(key)
        if previous is None or run.info.status == "FINISHED" or previous.info.status != "FINISHED":
            chosen[key] = run
    return [row_from_run(run) for run in chosen.values()]


# --- statistics -------------------------------------------------------------------------------
def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (Student t); nan width for n < 2."""
    if not values:
        return math.nan, math.nan
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan
    from scipy import stats

    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, float(half)


@dataclass
class Group:
    """All seeds of one approach at one start (or fixed) alpha."""

    approach: str
    start: tuple[float, float]
    rows: list[Row] = field(default_factory=list)

    @property
    def finished(self) -> list[Row]:
        return [row for row in self.rows if row.ok]

    @property
    def loss(self) -> tuple[float, float]:
        return mean_ci([row.final_val_loss for row in self.finished])

    @property
    def learned(self) -> tuple[float, float]:
        done = self.finished or self.rows
        return (
            statistics.fmean(row.learned[0] for row in done),
            statistics.fmean(row.learned[1] for row in done),
        )

    def by_seed(self) -> dict[int, float]:
        return {row.seed: row.final_val_loss for row in self.finished}


def groups_of(rows: list[Row]) -> list[Group]:
    found: dict[tuple, Group] = {}
    for row in rows:
        key = (row.approach, row.start)
        found.setdefault(key, Group(row.approach, row.start)).rows.append(row)
    return list(found.values())


def best(groups: list[Group], approach: str) -> Group | None:
    candidates = [g for g in groups if g.approach == approach and g.finished]
    return min(candidates, key=lambda g: g.loss[0]) if candidates else None


@dataclass
class Summary:
    rows: list[Row]
    groups: list[Group]
    best_fixed: Group | None
    best_trainable: Group | None
    true_alpha: tuple[float, float] | None
    in_basin: dict[str, bool]  # trainable run id -> ended near the best learned alpha
    basin_tolerance: float
    wall_seconds: float
    verdict: list[str]
    headline: str

    @property
    def seeds(self) -> list[int]:
        return sorted({row.seed for row in self.rows})

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for label, group in (("fixed", self.best_fixed), ("trainable", self.best_trainable)):
            if group is None:
                continue
            out[f"best_{label}_val_loss"] = group.loss[0]
            alpha = group.start if label == "fixed" else group.learned
            out[f"best_{label}_alpha_real"], out[f"best_{label}_alpha_imag"] = alpha
        out["trainable_starts_in_best_basin"] = sum(self.in_basin.values())
        out["failed_runs"] = sum(1 for row in self.rows if not row.ok)
        out["wall_seconds"] = self.wall_seconds
        for approach in ("lambda", "trainable"):
            spent = [r.seconds for r in self.rows if r.approach == approach and r.ok]
            if spent:
                out[f"{approach}_train_seconds"] = sum(spent)
        return out


def summarize(
    rows: list[Row], basin_tolerance: float = 0.05, wall_seconds: float = math.nan
) -> Summary:
    groups = groups_of(rows)
    best_fixed, best_trainable = best(groups, "lambda"), best(groups, "trainable")
    true_alpha = next((row.true_alpha for row in rows if row.true_alpha is not None), None)
    in_basin: dict[str, bool] = {}
    if best_trainable is not None:
        center = complex(*best_trainable.learned)
        radius = basin_tolerance * max(1.0, abs(center))
        for row in rows:
            if row.approach == "trainable" and row.ok:
                in_basin[row.run_id] = abs(complex(*row.learned) - center) <= radius
    summary = Summary(
        rows,
        groups,
        best_fixed,
        best_trainable,
        true_alpha,
        in_basin,
        basin_tolerance,
        wall_seconds,
        [],
        "",
    )
    summary.headline, summary.verdict = _verdict(summary)
    return summary


def _ratio_text(worse: float, better: float) -> str:
    if better > 0 and math.isfinite(worse / better):
        return f"{worse / better:.2f}x lower"
    return f"lower by {worse - better:.3g}"


def _headline(fixed: float, learned: float, fixed_label: str, fixed_winner: str) -> str:
    """Which reached the lower validation loss, and by how much; within 1% is a tie."""
    if abs(fixed - learned) <= 0.01 * min(fixed, learned):
        return (
            f"A tie: the learned alpha and {fixed_label} reach the same validation loss "
            f"({learned:.4g} vs {fixed:.4g}, within 1%)."
        )
    if learned < fixed:
        return (
            f"Learned alpha wins: validation loss {learned:.4g} vs {fixed:.4g} for "
            f"{fixed_label} ({_ratio_text(fixed, learned)})."
        )
    return (
        f"{fixed_winner} wins: validation loss {fixed:.4g} vs {learned:.4g} for the learned "
        f"alpha ({_ratio_text(learned, fixed)})."
    )


def _error_text(alpha: tuple[float, float], truth: tuple[float, float] | None) -> str:
    if truth is None:
        return ""
    return f", |α − α*| = {abs(complex(*alpha) - complex(*truth)):.3g}"


def _truth_and_failures(truth: tuple[float, float] | None, rows: list[Row], noun: str) -> list[str]:
    lines = [f"True alpha: {format_alpha(*truth)}."] if truth is not None else []
    failed = [row for row in rows if not row.ok]
    if failed:
        lines.append(
            f"{len(failed)} {noun}(s) did not finish: "
            + "; ".join(f"{row.name}: {row.error or row.status}" for row in failed[:5])
            + ("; ..." if len(failed) > 5 else "")
            + "."
        )
    return lines


def _verdict(s: Summary) -> tuple[str, list[str]]:
    lines: list[str] = []
    fixed, learned = s.best_fixed, s.best_trainable
    n_fixed = sum(1 for g in s.groups if g.approach == "lambda")
    n_starts = sum(1 for g in s.groups if g.approach == "trainable")
    if fixed is None and learned is None:
        return "No run finished: nothing to compare.", ["Every run failed; see the table."]
    if fixed is not None and learned is not None:
        headline = _headline(fixed.loss[0], learned.loss[0], "the best fixed alpha", "Fixed alpha")
    elif fixed is not None:
        headline = f"Only fixed-alpha runs: the best reached validation loss {fixed.loss[0]:.4g}."
    else:
        headline = f"Only trainable runs: the best reached validation loss {learned.loss[0]:.4g}."

    truth = s.true_alpha

    if fixed is not None:
        lines.append(
            f"Best fixed alpha (of {n_fixed} grid points): {format_alpha(*fixed.start)}, "
            f"val_loss {fixed.loss[0]:.4g}{_error_text(fixed.start, truth)}."
        )
    if learned is not None:
        lines.append(
            f"Best learned alpha: {format_alpha(*learned.learned)} "
            f"(started at {format_alpha(*learned.start)}), val_loss {learned.loss[0]:.4g}"
            f"{_error_text(learned.learned, truth)}."
        )
        reached = sum(s.in_basin.values())
        finished = len(s.in_basin)
        others = [
            row
            for row in s.rows
            if row.approach == "trainable" and row.ok and not s.in_basin[row.run_id]
        ]
        text = (
            f"{reached} of {finished} trainable runs ({n_starts} starts) reached the best basin "
            f"(within {s.basin_tolerance:g}·max(1,|α|) of {format_alpha(*learned.learned)})"
        )
        if others:
            worst = max(others, key=lambda r: r.final_val_loss)
            text += (
                f"; the others ended elsewhere, e.g. {format_alpha(*worst.learned)} from "
                f"{format_alpha(*worst.start)} with val_loss {worst.final_val_loss:.4g}"
            )
        lines.append(text + ".")
    lines += _truth_and_failures(truth, s.rows, "run")
    lines.append(_cost_line(s))
    lines.append(_noise_line(s))
    return headline, lines


def _cost_line(s: Summary) -> str:
    parts = []
    for approach, label in (("lambda", "fixed"), ("trainable", "trainable")):
        rows = [row for row in s.rows if row.approach == approach]
        if rows:
            spent = sum(row.seconds for row in rows if math.isfinite(row.seconds))
            parts.append(f"{len(rows)} {label} runs, {spent:.1f} s of training")
    wall = f"; wall time {s.wall_seconds:.0f} s" if math.isfinite(s.wall_seconds) else ""
    return "Cost: " + "; ".join(parts) + wall + "."


def _noise_line(s: Summary) -> str:
    fixed, learned = s.best_fixed, s.best_trainable
    if len(s.seeds) < 2:
        return (
            "One seed: the difference is not checked against seed-to-seed noise "
            "(add seed=0,1,2, or use +sweep=alpha_seeds)."
        )
    if fixed is None or learned is None:
        return f"{len(s.seeds)} seeds."
    f_seeds, l_seeds = fixed.by_seed(), learned.by_seed()
    common = sorted(set(f_seeds) & set(l_seeds))
    if len(common) < 2:
        return f"{len(s.seeds)} seeds, but fewer than 2 finished for both best groups."
    diffs = [f_seeds[seed] - l_seeds[seed] for seed in common]
    mean, half = mean_ci(diffs)
    f_mean, f_half = fixed.loss
    l_mean, l_half = learned.loss
    verdict = (
        "larger than the seed-to-seed noise"
        if abs(mean) > half
        else "NOT larger than the seed-to-seed noise"
    )
    return (
        f"Over {len(common)} seeds (mean ± 95% CI): best fixed {f_mean:.4g} ± {f_half:.2g}, "
        f"learned {l_mean:.4g} ± {l_half:.2g}; paired difference (fixed − learned) "
        f"{mean:.3g} ± {half:.2g}: {verdict}."
    )


# --- rendering --------------------------------------------------------------------------------
def _loss(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "—"


def table(summary: Summary) -> str:
    header = (
        f"{'approach':<10} {'start α':<13} {'learned α':<15} {'val_loss':>10} "
        f"{'|α−α*|':>8} {'seed':>4}  {'status':<9} {'train s':>7}"
    )
    lines = [header, "-" * len(header)]
    order = sorted(
        summary.rows,
        key=lambda r: (r.approach, not r.ok, r.final_val_loss if r.ok else 0.0, r.seed),
    )
    for row in order:
        error = f"{row.alpha_error:.3g}" if row.alpha_error is not None else "—"
        basin = (
            ""
            if row.approach != "trainable" or not row.ok
            else (" *" if summary.in_basin.get(row.run_id) else "")
        )
        lines.append(
            f"{row.approach:<10} {format_alpha(*row.start):<13} "
            f"{format_alpha(*row.learned) + basin:<15} {_loss(row.final_val_loss):>10} "
            f"{error:>8} {row.seed:>4}  {row.status:<9} {row.seconds:>7.2f}"
        )
    if summary.in_basin:
        lines.append("* learned alpha in the best basin")
    if len(summary.seeds) > 1:
        lines += ["", aggregate_table(summary)]
    return "\n".join(lines)


def aggregate_table(summary: Summary) -> str:
    header = f"{'approach':<10} {'start α':<13} {'mean val_loss':>13} {'± 95% CI':>9} {'seeds':>5}"
    lines = [header, "-" * len(header)]
    for group in sorted(summary.groups, key=lambda g: (g.approach, g.loss[0])):
        mean, half = group.loss
        lines.append(
            f"{group.approach:<10} {format_alpha(*group.start):<13} {_loss(mean):>13} "
            f"{_loss(half):>9} {len(group.finished):>5}"
        )
    return "\n".join(lines)


def comparison_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.name,
                r.approach,
                r.start[0],
                r.start[1],
                r.learned[0],
                r.learned[1],
                r.final_val_loss,
                "" if r.alpha_error is None else r.alpha_error,
                r.seed,
                r.status,
                r.seconds,
                r.run_id,
                r.error,
            ]
        )
    return out.getvalue()


def trajectories(tracker: Tracker, rows: list[Row]) -> dict[str, list[tuple[float, float]]]:
    """Each trainable run's path: its start alpha, then its alpha after every epoch."""
    paths = {}
    for row in rows:
        if row.approach != "trainable":
            continue
        reals = tracker.client.get_metric_history(row.run_id, "alpha_real")
        imags = tracker.client.get_metric_history(row.run_id, "alpha_imag")
        by_step_r = {m.step: m.value for m in reals}
        by_step_i = {m.step: m.value for m in imags}
        steps = sorted(set(by_step_r) & set(by_step_i))
        paths[row.run_id] = [row.start] + [(by_step_r[s], by_step_i[s]) for s in steps]
    return paths


def describe_single_run(result) -> str:
    """What a single ``python -m experiments.run`` prints when it ends."""
    lines = [f"alphalab: {result.name}: {result.status}"]
    loss = _loss(result.final_val_loss)
    learned = format_alpha(*result.learned_alpha)
    detail = f"  final val_loss {loss}, alpha {learned}"
    if result.true_alpha is not None:
        detail += (
            f", |alpha - true| {result.alpha_error:.3g} (true {format_alpha(*result.true_alpha)})"
        )
    lines.append(detail + f", {result.train_seconds:.1f} s of training")
    if result.error:
        lines.append(f"  error: {result.error}")
    lines.append(f"  MLflow run {result.run_id} in experiment '{result.experiment_name}'")
    lines.append(f"  store {result.tracking_uri}; browse it with: python -m experiments.ui")
    return "\n".join(lines)


# --- searches ---------------------------------------------------------------------------------
@dataclass
class SearchSummary:
    trials: list[Row]  # in the order they ran
    reference: Row | None  # the trainable run on the same task and seed
    best: Row | None
    trials_to_within_1pct: int | None
    true_alpha: tuple[float, float] | None
    wall_seconds: float
    tuner: str
    headline: str = ""
    verdict: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {
            "trials": len(self.trials),
            "failed_trials": sum(1 for t in self.trials if not t.ok),
            "wall_seconds": self.wall_seconds,
            "search_train_seconds": sum(t.seconds for t in self.trials if math.isfinite(t.seconds)),
        }
        if self.best is not None:
            for prefix in ("best_trial", "best_fixed"):
                out[f"{prefix}_val_loss"] = self.best.final_val_loss
                out[f"{prefix}_alpha_real"], out[f"{prefix}_alpha_imag"] = self.best.start
        if self.trials_to_within_1pct is not None:
            out["trials_to_within_1pct"] = self.trials_to_within_1pct
        if self.reference is not None and self.reference.ok:
            out["best_trainable_val_loss"] = self.reference.final_val_loss
            out["best_trainable_alpha_real"], out["best_trainable_alpha_imag"] = (
                self.reference.learned
            )
            out["trainable_train_seconds"] = self.reference.seconds
        return out


def summarize_trials(
    trials: list[Row], reference: Row | None, tuner: str, wall_seconds: float = math.nan
) -> SearchSummary:
    finished = [t for t in trials if t.ok]
    best = min(finished, key=lambda t: t.final_val_loss) if finished else None
    within = None
    if best is not None:
        threshold = best.final_val_loss + 0.01 * abs(best.final_val_loss)
        within = next(i for i, t in enumerate(trials, 1) if t.ok and t.final_val_loss <= threshold)
    truth = next((t.true_alpha for t in trials if t.true_alpha is not None), None)
    summary = SearchSummary(trials, reference, best, within, truth, wall_seconds, tuner)
    summary.headline, summary.verdict = _search_verdict(summary)
    return summary


def _search_verdict(s: SearchSummary) -> tuple[str, list[str]]:
    truth = s.true_alpha

    lines = []
    ref = s.reference if s.reference is not None and s.reference.ok else None
    if s.best is None:
        headline = "No trial finished: nothing to compare."
    elif ref is None:
        found = format_alpha(*s.best.start)
        headline = f"Best alpha found: {found}, val_loss {s.best.final_val_loss:.4g}."
    else:
        label = f"the best of {len(s.trials)} {s.tuner}-search trials"
        headline = _headline(
            s.best.final_val_loss, ref.final_val_loss, label, f"The {s.tuner} search"
        )
    if s.best is not None:
        order = s.trials.index(s.best) + 1
        lines.append(
            f"Best alpha found by the search: {format_alpha(*s.best.start)} (trial "
            f"{s.best.name.split(' ')[1]}, number {order} of {len(s.trials)}), "
            f"val_loss {s.best.final_val_loss:.4g}{_error_text(s.best.start, truth)}."
        )
        lines.append(
            f"It took {s.trials_to_within_1pct} trial(s) to come within 1% of the final best loss."
        )
    if ref is not None:
        lines.append(
            f"Learned alpha (one trainable run from {format_alpha(*ref.start)}, same task and "
            f"seed): {format_alpha(*ref.learned)}, val_loss {ref.final_val_loss:.4g}"
            f"{_error_text(ref.learned, truth)}."
        )
    lines += _truth_and_failures(truth, s.trials, "trial")
    spent = sum(t.seconds for t in s.trials if math.isfinite(t.seconds))
    cost = f"Cost: search {len(s.trials)} trials, {spent:.1f} s of training"
    if ref is not None:
        cost += f"; learning 1 run, {ref.seconds:.1f} s of training"
    if math.isfinite(s.wall_seconds):
        cost += f"; wall time {s.wall_seconds:.0f} s"
    lines.append(cost + ".")
    return headline, lines


def search_table(s: SearchSummary) -> str:
    header = f"{'#':>3} {'run':<34} {'alpha':<15} {'val_loss':>10} {'|α−α*|':>8}  {'status':<9}"
    lines = [header, "-" * len(header)]
    rows = list(enumerate(s.trials, 1))
    if s.reference is not None:
        rows.append(("ref", s.reference))
    for order, row in rows:
        alpha = format_alpha(*row.learned)
        error = f"{row.alpha_error:.3g}" if row.alpha_error is not None else "—"
        mark = " ←best" if row is s.best else ""
        lines.append(
            f"{order!s:>3} {row.name[:34]:<34} {alpha:<15} {_loss(row.final_val_loss):>10} "
            f"{error:>8}  {row.status:<9}{mark}"
        )
    return "\n".join(lines)


# --- one comparison, whatever produced it -------------------------------------------------------
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
    plot_name: str
    draw: Callable[[Path], object]  # writes the plot to a path

    def console(self) -> str:
        bar = "=" * 78
        bullets = "\n".join(f"  - {line}" for line in self.verdict)
        return f"\n{bar}\n{self.title}\n{bar}\n{self.table}\n\n{self.headline}\n{bullets}\n"

    def markdown(self) -> str:
        bullets = "\n".join(f"- {line}" for line in self.verdict)
        return (
            f"## {self.title}\n\n**{self.headline}**\n\n{bullets}\n\n{self.artifacts}\n\n"
            f"```\n{self.table}\n```\n"
        )

    def csv(self) -> str:
        return comparison_csv(self.rows)


def _param(run, key: str, default: str) -> str:
    return run.data.params.get(key, default)


def load_comparison(tracker: Tracker, parent, wall_seconds: float | None = None) -> Comparison:
    """Rebuild the comparison of a sweep or search parent run from its children in the store."""
    from alphalab.plots import plot_landscape, plot_trials

    if wall_seconds is None:
        wall_seconds = parent.data.metrics.get("wall_seconds")
    if wall_seconds is None:
        end = parent.info.end_time or parent.info.start_time
        wall_seconds = (end - parent.info.start_time) / 1000 if end else math.nan
    children = tracker.children(parent.info.run_id)
    name = parent.info.run_name
    if parent.data.tags.get(tracking.TAG_KIND) == "search":
        kind = tracking.TAG_KIND
        trials = [row_from_run(r) for r in children if r.data.tags.get(kind) == "trial"]
        references = latest_rows([r for r in children if r.data.tags.get(kind) == "reference"])
        reference = references[-1] if references else None
        tuner = _param(parent, "search.tuner", "keras-tuner")
        search = summarize_trials(trials, reference, tuner, wall_seconds)
        paths = trajectories(tracker, [reference] if reference is not None else [])
        return Comparison(
            title=f"alphalab {tuner} search '{name}': searched alpha vs learned alpha",
            headline=search.headline,
            verdict=search.verdict,
            table=search_table(search),
            rows=trials + ([reference] if reference is not None else []),
            metrics=search.metrics(),
            artifacts="Artifacts: `comparison.csv` (one row per trial, and the trainable "
            "reference), `trials.png` (the trials over the alpha plane, in order).",
            plot_name="trials.png",
            draw=lambda path: plot_trials(search, paths, path),
        )
    rows = latest_rows(children)
    tolerance = float(_param(parent, "base.sweep.basin_tolerance", "0.05"))
    summary = summarize(rows, tolerance, wall_seconds)
    return Comparison(
        title=f"alphalab sweep '{name}': fixed alpha vs learned alpha",
        headline=summary.headline,
        verdict=summary.verdict,
        table=table(summary),
        rows=rows,
        metrics=summary.metrics(),
        artifacts="Artifacts: `comparison.csv` (one row per run), `landscape.png` (validation "
        "loss over the alpha grid with the learned-alpha trajectories).",
        plot_name="landscape.png",
        draw=lambda path: plot_landscape(summary, trajectories(tracker, rows), path),
    )


def record_comparison(tracker: Tracker, parent_id: str, wall_seconds: float) -> Comparison:
    """Compare the parent's children and log the result onto the parent: ``comparison.csv``,
    ``verdict.md``, the plot, the ``best_*`` metrics and the verdict as its description."""
    comparison = load_comparison(tracker, tracker.client.get_run(parent_id), wall_seconds)
    with tempfile.TemporaryDirectory(prefix="alphalab-summary-") as tmp:
        folder = Path(tmp)
        (folder / "comparison.csv").write_text(comparison.csv())
        (folder / "verdict.md").write_text(comparison.markdown())
        comparison.draw(folder / comparison.plot_name)
        tracker.log_artifacts(parent_id, folder)
    metrics = [(k, v, 0) for k, v in comparison.metrics.items() if math.isfinite(v)]
    tracker.log_metrics(parent_id, metrics)
    tracker.set_tags(parent_id, {tracking.TAG_NOTE: comparison.markdown()})
    return comparison
