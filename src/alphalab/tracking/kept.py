"""What the process that wrote a sweep's children keeps of them for the sweep's summary, so that
the summary need not read thousands of runs back from the store: each child's run as far as the
summary reads it (its info, its tags, the params and final metrics a row needs, its learned
alpha's path). Runs written elsewhere (an earlier session, joblib's or Ray's workers) are read
from the store as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alphalab.session import State
from alphalab.tracking import names
from alphalab.tracking.rows import sanitize
from alphalab.tracking.store import to_param

# The params a summary row reads (results.rows.row_from_run); the rest stay in the store only.
ROW_PARAMS = (
    names.ALPHA_REAL,
    names.ALPHA_IMAG,
    names.TRUE_REAL,
    names.TRUE_IMAG,
    "approach",
    "seed",
    "fold",
    "warm_start",
)
_MAX_PARENTS = 8


@dataclass
class KeptInfo:
    """A kept run's ``info``: what MLflow's ``RunInfo`` has that a summary reads."""

    run_id: str
    run_name: str
    status: str
    start_time: int


@dataclass
class KeptData:
    """A kept run's ``data``: its row's params, its latest metrics, its tags."""

    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


@dataclass
class KeptRun:
    """A child run as ``MlflowClient.search_runs`` would return it, for what a summary reads,
    and the path of its learned alpha (``{step: (real, imag)}``)."""

    info: KeptInfo
    data: KeptData
    alpha_path: dict[int, tuple[float, float]] = field(default_factory=dict)


# {parent run id: {run id: KeptRun}}; a reset forgets them (a summary reads them from the store).
_KEPT: State[dict[str, dict[str, KeptRun]]] = State("tracking.kept.children", dict)


def keep(parent_id: str | None, children: list) -> None:
    """Keep the closed ``children`` (``RunRecord``s of ``parent_id``)."""
    if not parent_id:
        return
    kept = _kept_for(parent_id)
    for child in children:
        metrics: dict[str, tuple[int, float]] = {}
        reals, imags = {}, {}
        for key, value, step in child.metrics:
            is_nan, value = sanitize(float(value))  # as the store keeps it
            value = math.nan if is_nan else value
            if key not in metrics or step >= metrics[key][0]:
                metrics[key] = (step, value)
            if key == names.ALPHA_REAL:
                reals[step] = float(value)
            elif key == names.ALPHA_IMAG:
                imags[step] = float(value)
        run_tags = {**child.tags, **child.final_tags, names.RUN_NAME: child.name}
        run_tags[names.PARENT] = parent_id
        if child.error:
            run_tags[names.ERROR] = child.error
        params = {k: to_param(child.params[k]) for k in ROW_PARAMS if k in child.params}
        kept[child.run_id] = KeptRun(
            KeptInfo(child.run_id, child.name, str(child.status), child.start_time),
            KeptData(
                params,
                {k: v for k, (_, v) in metrics.items()},
                {k: to_param(v) for k, v in run_tags.items()},
            ),
            {step: (reals[step], imags[step]) for step in sorted(reals) if step in imags},
        )


def adopt(parent_id: str, runs: dict[str, KeptRun]) -> None:
    """Keep ``runs`` that another process (a Ray or submitit worker) wrote and kept."""
    _kept_for(parent_id).update(runs)


def _kept_for(parent_id: str) -> dict[str, KeptRun]:
    """The kept children of ``parent_id`` (the oldest parent's forgotten beyond _MAX_PARENTS)."""
    kept = _KEPT.get()
    if parent_id not in kept and len(kept) >= _MAX_PARENTS:
        kept.pop(next(iter(kept)))
    return kept.setdefault(parent_id, {})


def kept_runs(parent_id: str) -> dict[str, KeptRun]:
    """The children of ``parent_id`` this process wrote, by run id."""
    return _KEPT.get().get(parent_id, {})


def children_of(tracker, parent_id: str) -> list:
    """The children of ``parent_id``, oldest first: those this process wrote as it kept them,
    the others read from the store (all read from it where the store cannot list ids alone,
    or where most were written elsewhere)."""
    kept = kept_runs(parent_id)
    ids = tracker.child_ids(parent_id) if kept else None
    if ids is None:
        return tracker.children(parent_id)
    missing = ids - kept.keys()
    if len(missing) > len(ids) / 2:
        return tracker.children(parent_id)
    found = [kept[run_id] for run_id in ids & kept.keys()] + tracker.runs_by_id(sorted(missing))
    return sorted(found, key=lambda run: (run.info.start_time or 0, run.info.run_id))  # as MLflow


def kept_path(run_id: str) -> dict[int, tuple[float, float]] | None:
    """The learned alpha's path of a run this process wrote (None: not one of them)."""
    for kept in _KEPT.get().values():
        if run_id in kept:
            return kept[run_id].alpha_path
    return None
