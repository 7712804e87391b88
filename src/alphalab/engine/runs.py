"""Training runs end to end: jobs -> populations -> one fit each -> one record per run.

``run_jobs`` is the one way alphalab trains and records: a single run, a sweep's jobs, a search's
trials (``on_trained`` lets the tuner report to its oracle before the runs close), refinements and
reproductions. Jobs that differ only in approach and alpha train as one population; the others
each as their own. No run is left RUNNING: a diverged member ends FAILED with ``alphalab.error``,
a crashed fit FAILED, Ctrl-C KILLED. Inside a sweep, a job that FINISHED before is skipped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from alphalab.config import one_line
from alphalab.config.names import Kind, Status, arm_of
from alphalab.config.spec import Alpha, RunSpec, TrackingSpec, flatten
from alphalab.engine.context import SweepContext
from alphalab.engine.outcome import FitOutcome, mean_outcome
from alphalab.engine.population.run import Member, population_key
from alphalab.engine.progress import SweepProgress
from alphalab.engine.record import Job, WarmStart, dataset_inputs, describe, job_key
from alphalab.engine.watch import Watch
from alphalab.tracking import names
from alphalab.tracking.curves import thinned
from alphalab.tracking.runs import RunRecord, RunWriter
from alphalab.tracking.store import Tracker, tracker_for
from alphalab.tracking.unreachable import TrackingUnreachable

# What a kind adds to its records once trained: (final metrics, final tags) per job.
OnTrained = Callable[[list[Job], list[FitOutcome]], list[tuple[dict, dict]]]


@dataclass
class JobResult:
    """How a job ended, and where it is recorded."""

    job_key: str
    run_id: str
    name: str
    status: str
    final_val_loss: float
    learned_alpha: Alpha
    tracking_uri: str
    experiment_name: str
    true_alpha: Alpha | None = None
    train_seconds: float = math.nan
    error: str | None = None
    skipped: bool = False
    final_test_loss: float = math.nan  # on the test rows (nan without them)

    @classmethod
    def of(cls, job: Job, record: RunRecord, outcome: FitOutcome, tracker: Tracker) -> JobResult:
        """The result of a job trained now."""
        spec = job.spec
        return cls(
            job_key=job.key,
            run_id=record.run_id,
            name=record.name,
            status=record.status,
            final_val_loss=outcome.last(names.VAL_LOSS),
            learned_alpha=outcome.learned(spec.alpha),
            tracking_uri=tracker.uri,
            experiment_name=spec.tracking.experiment_name,
            true_alpha=spec.task.true_alpha,
            train_seconds=outcome.seconds,
            error=record.error,
            final_test_loss=outcome.test_loss,
        )

    @property
    def status_text(self) -> str:
        """The status as progress lines show it."""
        return "skipped (finished before)" if self.skipped else self.status

    @property
    def alpha_error(self) -> float | None:
        """|learned alpha - true alpha|, where the truth is known."""
        if self.true_alpha is None:
            return None
        return self.learned_alpha.distance(self.true_alpha)

    def describe(self) -> str:
        """What a single ``python -m experiments.run`` prints when it ends."""
        loss = f"{self.final_val_loss:.4g}" if math.isfinite(self.final_val_loss) else "—"
        detail = f"  final val_loss {loss}, alpha {self.learned_alpha}"
        if math.isfinite(self.final_test_loss):
            detail = f"  final val_loss {loss}, test loss {self.final_test_loss:.4g}, alpha "
            detail += str(self.learned_alpha)
        if self.true_alpha is not None:
            detail += f", |alpha - true| {self.alpha_error:.3g} (true {self.true_alpha})"
        lines = [f"alphalab: {self.name}: {self.status}"]
        lines.append(detail + f", {self.train_seconds:.1f} s of training")
        if self.error:
            lines.append(f"  error: {self.error}")
        lines.append(f"  MLflow run {self.run_id} in experiment '{self.experiment_name}'")
        lines.append(f"  store {self.tracking_uri}; browse it with: python -m experiments.ui")
        return "\n".join(lines)


def job_value(results: list) -> float:
    """What a job returns to a sweeper: its validation loss (the mean over its folds), inf
    unless every one of its runs FINISHED."""
    if not results or any(r.status != Status.FINISHED for r in results):
        return math.inf
    return sum(r.final_val_loss for r in results) / len(results)


def finished_before(tracker: Tracker, parent_id: str, key: str, context: SweepContext | None):
    """The FINISHED child of an earlier session for this job, if any (resume skips it)."""
    known = context is not None and context.parent_id == parent_id
    if known and context.finished_before(key) is False:
        return None  # the sweep's own list says so: no need to ask the store
    return tracker.finished_child(parent_id, key)


def skipped(job: Job, tracker: Tracker, done) -> JobResult:
    """The result of a job that FINISHED in an earlier session (resume does not rerun it)."""
    metrics = done.data.metrics
    return JobResult(
        job_key=job.key,
        run_id=done.info.run_id,
        name=done.info.run_name,
        status=Status.FINISHED,
        final_val_loss=metrics.get(names.FINAL_VAL_LOSS, math.nan),
        learned_alpha=Alpha(
            metrics.get(names.LEARNED_REAL, math.nan), metrics.get(names.LEARNED_IMAG, math.nan)
        ),
        tracking_uri=tracker.uri,
        experiment_name=job.spec.tracking.experiment_name,
        true_alpha=job.spec.task.true_alpha,
        skipped=True,
    )


def run_jobs(
    jobs: list[Job],
    context: SweepContext | None = None,
    parent_id: str | None = None,
    on_trained: OnTrained | None = None,
    progress: SweepProgress | None = None,
) -> list[JobResult]:
    """Train and record ``jobs`` (children of ``parent_id``, by default the parent of the
    enclosing sweep ``context``), one population per ``population_key``; results in order.
    With ``progress``, each population's epochs are shown and logged as they end."""
    parent_id = parent_id or (context.parent_id if context else None)
    results: dict[int, JobResult] = {}
    populations: dict[str, list[int]] = {}
    trackers: dict[TrackingSpec, Tracker] = {}  # thousands of jobs share one or two
    for index, job in enumerate(jobs):
        tracking = job.spec.tracking
        tracker = trackers.get(tracking) or trackers.setdefault(tracking, tracker_for(tracking))
        done = finished_before(tracker, parent_id, job.key, context) if parent_id else None
        if done is not None:
            results[index] = skipped(job, tracker, done)
        else:
            populations.setdefault(population_key(job.spec), []).append(index)
    if progress is not None and results:
        progress.finished(len(results))  # finished before: nothing to train
    for indices in populations.values():
        try:
            trained = _run_population([jobs[i] for i in indices], parent_id, on_trained, progress)
        except TrackingUnreachable as stop:  # one line, then the command exits 1
            stop.report(context.resume_hint if context else "")
            raise
        results.update(zip(indices, trained, strict=True))
    return [results[i] for i in range(len(jobs))]


def run_job(
    spec: RunSpec,
    context: SweepContext | None = None,
    parent_id: str | None = None,
    kind: Kind = Kind.RUN,
    warm_start: WarmStart | None = None,
) -> JobResult:
    """Train once as ``spec`` says and record it: a population of one."""
    return run_jobs([Job(spec, kind, warm_start=warm_start)], context, parent_id)[0]


def _run_population(
    jobs: list[Job],
    parent_id: str | None,
    on_trained: OnTrained | None,
    progress: SweepProgress | None = None,
) -> list[JobResult]:
    """One population: build it (bad input raises ConfigError before any run is opened), open
    its runs, fit, describe, close."""
    import logging

    import keras

    from alphalab.engine.fit import prepare_data
    from alphalab.engine.population.compiled import SharingRefused
    from alphalab.engine.population.run import Population

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    first = jobs[0].spec
    tracker = tracker_for(first.tracking)
    keras.utils.set_random_seed(first.seed)
    data = prepare_data(first)
    members = [
        Member(job.spec, job.spec.seed + execution, arm_of(job.spec.approach, job.kind))
        for job in jobs
        for execution in range(job.executions)
    ]
    # Only a sweep's own jobs are pruned: refinements and trials keep their whole budget.
    prune = first.prune if all(job.kind == Kind.RUN for job in jobs) else None
    paired = (Kind.REFIT, Kind.CONTINUE, Kind.TRIAL, Kind.REFERENCE)  # compared row by row
    refits = any(job.kind in paired for job in jobs)
    try:
        population = Population(members, data)
    except SharingRefused:  # a member's own losses would not stay its own: each alone
        return [
            result
            for job in jobs
            for result in _run_population([job], parent_id, on_trained, progress)
        ]
    size, data_params = len(members), data.params()
    writer = RunWriter(tracker, parent_id)
    inputs = dataset_inputs(first, data)  # one set for the population: they share the data
    records = [
        describe(job, data_params, data.baseline, population=size, inputs=inputs) for job in jobs
    ]
    writer.open(records)
    last = [end - 1 for end in itertools.accumulate(job.executions for job in jobs)]
    thin = [parent_id is not None and job.kind == Kind.RUN for job in jobs]  # a sweep's grid
    watch = None
    if progress is not None:
        shown = progress.population(len(jobs), first.train.epochs)
        watch = Watch(writer, records, last, jobs, [m.group for m in members], shown, thin)
    try:
        population.start_from(
            {last[i]: job.warm_start.weights for i, job in enumerate(jobs) if job.warm_start}
        )
        trained = population.fit(prune, watch, per_row=first.task.test_split > 0 and refits)
        outcomes = [
            mean_outcome(trained.outcomes[last[i] - job.executions + 1 : last[i] + 1])
            for i, job in enumerate(jobs)
        ]
        extras = on_trained(jobs, outcomes) if on_trained else [({}, {})] * len(jobs)
        for i, (job, record, outcome) in enumerate(zip(jobs, records, outcomes, strict=True)):
            files = partial(trained.write_files, last[i], job.spec, model=not thin[i])
            metrics, tags = extras[i]
            ended = describe(
                job, data_params, data.baseline, outcome, population=size, files=files,
                final_metrics=metrics, final_tags=tags, test_baseline=data.test_baseline,
            )  # fmt: skip
            if thin[i]:  # its curves at the epochs tracking.curves keeps
                ended.metrics = thinned(ended.metrics, len(outcome.history.get(names.LOSS, [])))
            record.end_with(ended)
    except KeyboardInterrupt:
        for record in records:
            record.status, record.error = Status.KILLED, "interrupted"
        if watch is not None:
            watch.finish()
        writer.close(records)
        raise
    except Exception as exc:  # noqa: BLE001 - recorded: every member FAILED, the sweep goes on
        crash = FitOutcome(crash=one_line(exc))
        outcomes = [crash] * len(jobs)
        for job, record in zip(jobs, records, strict=True):
            record.end_with(describe(job, data_params, data.baseline, crash, population=size))
    if watch is not None:
        watch.finish()
    writer.close(records)
    return [
        JobResult.of(job, record, outcome, tracker)
        for job, record, outcome in zip(jobs, records, outcomes, strict=True)
    ]


def record_rejected(
    tracking: TrackingSpec, config: dict[str, Any], error: str, parent_id: str
) -> str:
    """A sweep job whose config was rejected: a FAILED child, so the sweep's table lists it.
    Returns the job's key."""
    key = job_key(config)
    record = RunRecord(
        "rejected config", {names.KIND: Kind.RUN, names.JOB_KEY: key}, flatten(config)
    )
    writer = RunWriter(tracker_for(tracking), parent_id)
    writer.open([record])
    record.status, record.error = Status.FAILED, f"config: {error}"
    writer.close([record])
    return key
