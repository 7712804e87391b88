"""Grid, then learn (``sweep.refine=K``): once the fixed-alpha grid is done, learn alpha from its
K best cells, each run warm-started with the fitted weights of the fixed-alpha run it starts
from, so that the rest of the model already fits before alpha moves. The refinements of one seed
train as one population."""

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
from alphalab.results.rows import latest_rows
from alphalab.results.stats import groups_of
from alphalab.tracking import names
from alphalab.tracking.parent import ParentRun


def best_cells(parent: ParentRun, k: int) -> list:
    """The K fixed-alpha groups (all seeds of one grid cell) with the lowest mean loss."""
    rows = latest_rows(parent.tracker.children(parent.run_id))
    fixed = [g for g in groups_of(rows) if g.arm == Arm.FIXED and g.finished]
    return sorted(fixed, key=lambda g: g.loss[0])[:k]


def refine(
    parent: ParentRun,
    k: int,
    context: SweepContext,
    spec_of_run: Callable[[str], RunSpec],
) -> list[JobResult]:
    """Train the refinement runs (children of ``parent``, kind ``refine``), one per seed of each
    of the K best cells; ``spec_of_run`` recovers a logged run's spec."""
    client = parent.tracker.client
    jobs = []
    for group in best_cells(parent, k):
        for row in group.finished:
            source = client.get_run(row.run_id)
            with tempfile.TemporaryDirectory(prefix="alphalab-refine-") as tmp:
                local = client.download_artifacts(row.run_id, names.WEIGHTS, tmp)
                weights = json.loads(Path(local).read_text())
            spec = spec_of_run(row.run_id).with_alpha(Approach.TRAINABLE, group.start)
            warm = WarmStart(row.run_id, source.data.tags[names.JOB_KEY], weights)
            jobs.append(Job(spec, Kind.REFINE, warm_start=warm))
    results = run_jobs(jobs, context)
    for number, result in enumerate(results, 1):
        print(
            f"[refine {number}/{len(jobs)}] {result.name:<44} val_loss "
            f"{result.final_val_loss:<10.4g} {result.status_text}"
            + (f"  ({result.error})" if result.error else ""),
            flush=True,
        )
    return results
