"""Grid, then learn (``sweep.refine=K``): once the fixed-alpha grid is done, learn alpha from its
K best cells (by mean validation loss over seeds and folds), each run warm-started with the
fitted weights of the fixed-alpha run it starts from (same seed and fold), so that the rest of the
model already fits before alpha moves. The refinements of one seed and fold train as one
population. A refinement trains twice, its warm start's epochs and then its own: the refits
(``engine.refit``) give every arm that doubled budget.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from alphalab.config.names import Approach, Arm, Kind
from alphalab.config.spec import RunSpec
from alphalab.engine.context import SweepContext
from alphalab.engine.record import Job, WarmStart
from alphalab.engine.runs import JobResult, run_jobs
from alphalab.results.rows import Row, latest_rows
from alphalab.results.stats import groups_of
from alphalab.tracking import names
from alphalab.tracking.parent import ParentRun


def best_cells(rows: list[Row], k: int) -> list:
    """The K fixed-alpha groups (all seeds of one grid cell) with the lowest mean loss."""
    fixed = [g for g in groups_of(rows) if g.arm == Arm.FIXED and g.finished]
    return sorted(fixed, key=lambda g: g.loss[0])[:k]


def warm_start(parent: ParentRun, run_id: str) -> WarmStart:
    """Every weight of a logged run but alpha's, to start another run from."""
    client = parent.tracker.client
    with tempfile.TemporaryDirectory(prefix="alphalab-refine-") as tmp:
        local = client.download_artifacts(run_id, names.WEIGHTS, tmp)
        weights = json.loads(Path(local).read_text())
    key = client.get_run(run_id).data.tags[names.JOB_KEY]
    return WarmStart(run_id, key, weights)


def refine(
    parent: ParentRun,
    k: int,
    context: SweepContext,
    spec_of_run: Callable[[str], RunSpec],
) -> list[JobResult]:
    """Train the refinement runs (children of ``parent``, kind ``refine``), one per seed and
    fold of each of the K best cells; ``spec_of_run`` recovers a logged run's spec."""
    rows = [r for r in latest_rows(parent.tracker.children(parent.run_id)) if r.in_grid]
    jobs = []
    for group in best_cells([r for r in rows if r.kind != Kind.REFINE], k):
        for row in group.finished:
            spec = spec_of_run(row.run_id).with_alpha(Approach.TRAINABLE, group.start)
            jobs.append(Job(spec, Kind.REFINE, warm_start=warm_start(parent, row.run_id)))
    results = run_jobs(jobs, context)
    for number, (job, result) in enumerate(zip(jobs, results, strict=True), 1):
        print(
            f"[{job.kind} {number}/{len(jobs)}] {result.name:<44} val_loss "
            f"{result.final_val_loss:<10.4g} {result.status_text}"
            + (f"  ({result.error})" if result.error else ""),
            flush=True,
        )
    return results
