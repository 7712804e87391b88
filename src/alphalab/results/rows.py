"""A parent run's children read back from MLflow as rows: one per job, whatever produced it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from alphalab.config.names import Arm, Kind, Status, arm_of, learns
from alphalab.config.spec import Alpha
from alphalab.tracking import names
from alphalab.tracking.store import Tracker


@dataclass
class Row:
    """One job of a sweep: its latest run (a FINISHED one if there is any)."""

    run_id: str
    name: str
    approach: str
    arm: Arm
    start: Alpha
    learned: Alpha
    final_val_loss: float
    alpha_error: float | None
    seed: int
    status: str
    seconds: float
    error: str = ""
    true_alpha: Alpha | None = None
    baseline: float = math.nan  # the validation loss of predicting the training mean
    converged: bool | None = None  # None: not recorded
    test_loss: float = math.nan  # on the test rows no selection saw (nan: none)
    test_baseline: float = math.nan
    fold: int | None = None  # its fold of a cross-validation (None: none)
    epochs: int = 0  # epochs it trained itself
    warm_start: str = ""  # the run whose weights it started from (a refinement)
    kind: str = "run"  # alphalab.kind: run, refine, refit, continue, trial, reference
    pruned: int | None = None  # the epochs it trained before a rung stopped it (None: not)

    @property
    def ok(self) -> bool:
        """FINISHED with a finite validation loss (a refit, which has no validation rows: a
        finite test loss): a row the verdict can use."""
        if self.status != Status.FINISHED:
            return False
        if self.kind in (Kind.REFIT, Kind.CONTINUE) and not math.isfinite(self.final_val_loss):
            return math.isfinite(self.test_loss)
        return math.isfinite(self.final_val_loss)

    @property
    def in_grid(self) -> bool:
        """Whether it is one of the sweep's candidates (not a refit of the chosen one)."""
        return self.kind not in (Kind.REFIT, Kind.CONTINUE)


def _float(mapping: dict, key: str, default: float = math.nan) -> float:
    """A logged value as a float, ``default`` when absent or not a number."""
    try:
        return float(mapping[key])
    except (KeyError, TypeError, ValueError):
        return default


def row_from_run(run) -> Row:
    """The row of one MLflow run (params, metrics and tags as alphalab logs them)."""
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    start = Alpha(_float(params, names.ALPHA_REAL), _float(params, names.ALPHA_IMAG))
    learned = Alpha(
        _float(metrics, names.LEARNED_REAL, start.real),
        _float(metrics, names.LEARNED_IMAG, start.imag),
    )
    true_alpha = None
    if names.TRUE_REAL in params:
        true_alpha = Alpha(_float(params, names.TRUE_REAL), _float(params, names.TRUE_IMAG))
    error = metrics.get(names.ALPHA_ERROR)
    approach = params.get("approach", tags.get(names.APPROACH, "?"))
    return Row(
        run_id=run.info.run_id,
        name=tags.get(names.RUN_NAME, run.info.run_name or ""),
        approach=approach,
        arm=arm_of(approach, tags.get(names.KIND, Kind.RUN), tags.get(names.ARM)),
        start=start,
        learned=learned,
        final_val_loss=_float(metrics, names.FINAL_VAL_LOSS),
        alpha_error=error,
        seed=int(_float(params, "seed", -1)),
        status=run.info.status,
        seconds=_float(metrics, names.TRAIN_SECONDS),
        error=tags.get(names.ERROR, ""),
        true_alpha=true_alpha,
        baseline=_float(metrics, names.BASELINE),
        converged=bool(metrics[names.CONVERGED]) if names.CONVERGED in metrics else None,
        test_loss=_float(metrics, names.FINAL_TEST_LOSS),
        test_baseline=_float(metrics, names.TEST_BASELINE),
        fold=int(params["fold"]) if "fold" in params else None,
        epochs=int(_float(metrics, names.EPOCHS_RUN, 0)),
        warm_start=params.get("warm_start", ""),
        kind=tags.get(names.KIND, Kind.RUN),
        pruned=int(tags[names.PRUNED]) if names.PRUNED in tags else None,
    )


def latest_rows(runs: list) -> list[Row]:
    """One row per job key: the latest FINISHED run of that job, else its latest run."""
    chosen: dict[str, object] = {}
    for run in sorted(runs, key=lambda r: r.info.start_time or 0):
        key = run.data.tags.get(names.JOB_KEY, run.info.run_id)
        previous = chosen.get(key)
        finished = Status.FINISHED
        if previous is None or run.info.status == finished or previous.info.status != finished:
            chosen[key] = run
    return [row_from_run(run) for run in chosen.values()]


def test_rows(tracker: Tracker, rows: list[Row]) -> dict[str, dict]:
    """Each of ``rows``' loss on every test row (its ``test_losses.json``: refits, a search's
    trials and reference), by run id."""
    import json
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory(prefix="alphalab-test-rows-") as tmp:
        for row in rows:
            if not row.ok or not math.isfinite(row.test_loss):
                continue
            try:
                local = tracker.client.download_artifacts(row.run_id, names.TEST_ROWS, tmp)
            except Exception:  # noqa: BLE001 - an older refit, or its file is gone: unpaired
                continue
            with open(local) as file:
                out[row.run_id] = json.load(file)
    return out


def trajectories(tracker: Tracker, rows: list[Row]) -> dict[str, list[tuple[float, float]]]:
    """Each trainable run's path: its start alpha, then its alpha after every epoch."""
    from alphalab.tracking.kept import kept_path

    learned = [row for row in rows if learns(row.approach)]
    kept = {row.run_id: path for row in learned if (path := kept_path(row.run_id)) is not None}
    ids = [row.run_id for row in learned if row.run_id not in kept]
    reals = tracker.histories(ids, names.ALPHA_REAL) if ids else {}
    imags = tracker.histories(ids, names.ALPHA_IMAG) if ids else {}
    paths = {}
    for row in learned:
        if row.run_id in kept:
            path = kept[row.run_id]
            paths[row.run_id] = [row.start] + [path[step] for step in sorted(path)]
            continue
        by_step_r, by_step_i = reals[row.run_id], imags[row.run_id]
        steps = sorted(set(by_step_r) & set(by_step_i))
        paths[row.run_id] = [row.start] + [(by_step_r[s], by_step_i[s]) for s in steps]
    return paths
