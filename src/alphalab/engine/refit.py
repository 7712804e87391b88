"""Refit, as scikit-learn's ``refit=True``: once every candidate has trained on every fold and
seed, each arm's one chosen configuration (``results.stats.best``: the lowest mean validation
loss) trains again on every non-test row of each seed (kind ``refit``, tag ``alphalab.arm``) and
is scored on the test rows, row by row (``test_losses.json``). Its model.keras is the arm's model.

With ``sweep.refine`` a refined arm's configuration is "the fixed cell's fit, then learn alpha
from it": its refit is the fixed cell refitted, then trained on as long again with alpha learned
(kind ``continue``). So that every arm's refit has that budget, the other arms' refits train on
as long again too, each from where it ended.
"""

from __future__ import annotations

from collections.abc import Callable

from alphalab.config.names import Approach, Arm, Kind, Status, learns
from alphalab.config.spec import RunSpec
from alphalab.engine.context import SweepContext
from alphalab.engine.record import Job
from alphalab.engine.refine import warm_start
from alphalab.engine.runs import JobResult, run_jobs
from alphalab.results.rows import latest_rows
from alphalab.results.stats import best, groups_of
from alphalab.tracking import names
from alphalab.tracking.kept import children_of
from alphalab.tracking.parent import ParentRun


def refit_jobs(parent: ParentRun, spec_of_run: Callable[[str], RunSpec]) -> list[Job]:
    """One refit per chosen arm and seed (none without test rows: nothing would score it)."""
    rows = [r for r in latest_rows(children_of(parent.tracker, parent.run_id)) if r.in_grid]
    groups = groups_of(rows)
    jobs = []
    for arm in Arm:
        group = best(groups, arm)
        if group is None:
            continue
        for seed in sorted({row.seed for row in group.rows}):
            source = min(
                (row for row in group.rows if row.seed == seed),
                key=lambda row: (not row.ok, row.fold or 0),
            )
            spec = spec_of_run(source.run_id)
            if spec.task.test_split <= 0:
                return []
            if arm == Arm.REFINED:  # its first half: the fixed cell it warms up on
                spec = spec.with_alpha(Approach.LAMBDA, group.start)
            spec = spec.refit()
            key = f"refit-{arm}-{Job(spec).key}"
            tags = {names.ARM: str(arm)}
            jobs.append(Job(spec, Kind.REFIT, key=key, tags=tags, label=f"{arm} refit · "))
    return jobs


def continued(parent: ParentRun, jobs: list[Job], results: list[JobResult]) -> list[Job]:
    """Each refit trained on as long again from where it ended (the refined arm's learning
    alpha from its cell), so that every arm's refit has a refinement's budget."""
    out = []
    for job, result in zip(jobs, results, strict=True):
        if result.status != Status.FINISHED:
            continue
        arm, spec = job.tags[names.ARM], job.spec
        if arm == Arm.REFINED:
            spec = spec.with_alpha(Approach.TRAINABLE, spec.alpha)
        elif learns(spec.approach):
            spec = spec.with_alpha(spec.approach, result.learned_alpha)
        start = warm_start(parent, result.run_id)
        tags, label = {names.ARM: arm}, f"{arm} refit, continued · "
        out.append(Job(spec, Kind.CONTINUE, warm_start=start, tags=tags, label=label))
    return out


def refit(
    parent: ParentRun, context: SweepContext, spec_of_run: Callable[[str], RunSpec]
) -> list[JobResult]:
    """Train the refits (and, where ``sweep.refine`` doubled a budget, their continuations);
    a line for each; ``spec_of_run`` recovers a logged run's spec."""
    jobs = refit_jobs(parent, spec_of_run)
    results = run_jobs(jobs, context)
    _report(jobs, results)
    if any(job.tags[names.ARM] == Arm.REFINED for job in jobs):
        more = continued(parent, jobs, results)
        extra = run_jobs(more, context)
        _report(more, extra)
        results += extra
    return results


def _report(jobs: list[Job], results: list[JobResult]) -> None:
    for number, (job, result) in enumerate(zip(jobs, results, strict=True), 1):
        arm, name = job.tags[names.ARM], result.name[len(job.label) :]
        print(
            f"[{job.kind} {arm} {number}/{len(jobs)}] {name:<44} test loss "
            f"{result.final_test_loss:<10.4g} {result.status_text}"
            + (f"  ({result.error})" if result.error else ""),
            flush=True,
        )
