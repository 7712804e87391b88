"""Grid, then learn (``sweep.refine=K``): once the fixed-alpha grid is done, learn alpha from its
K best cells, each run warm-started with the fitted weights of the fixed-alpha run it starts
from, so that the rest of the model already fits before alpha moves."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from alphalab.config.spec import RunSpec
from alphalab.engine.context import SweepContext
from alphalab.engine.job import JobResult, WarmStart, run_job
from alphalab.results.rows import FIXED, latest_rows
from alphalab.results.stats import groups_of
from alphalab.tracking import names
from alphalab.tracking.parent import ParentRun


def best_cells(parent: ParentRun, k: int) -> list:
    """The K fixed-alpha groups (all seeds of one grid cell) with the lowest mean loss."""
    rows = latest_rows(parent.tracker.children(parent.run_id))
    fixed = [g for g in groups_of(rows) if g.arm == FIXED and g.finished]
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
    jobs = [(group, row) for group in best_cells(parent, k) for row in group.finished]
    results = []
    for number, (group, row) in enumerate(jobs, 1):
        source = client.get_run(row.run_id)
        with tempfile.TemporaryDirectory(prefix="alphalab-refine-") as tmp:
            local = client.download_artifacts(row.run_id, names.WEIGHTS, tmp)
            weights = json.loads(Path(local).read_text())
        spec = spec_of_run(row.run_id).with_alpha("trainable", group.start)
        warm = WarmStart(row.run_id, source.data.tags[names.JOB_KEY], weights)
        try:
            result = run_job(spec, context, kind="refine", warm_start=warm)
        except Exception as exc:  # noqa: BLE001 - recorded FAILED by run_job; go on
            print(f"[refine {number}/{len(jobs)}] from {group.start}: FAILED ({exc})", flush=True)
            continue
        print(
            f"[refine {number}/{len(jobs)}] {result.name:<44} val_loss "
            f"{result.final_val_loss:<10.4g} {result.status_text}",
            flush=True,
        )
        results.append(result)
    return results
