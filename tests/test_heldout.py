"""Rows no selection sees: changing only the test targets changes no selection, and a fold of a
cross-validation trains exactly as that fold run alone. In process, on the fast setting."""

from __future__ import annotations

import pytest

from alphalab.config.names import Arm
from alphalab.config.parse import run_spec
from alphalab.engine.record import Job
from alphalab.engine.runs import run_job, run_jobs
from alphalab.results.verdict import summarize
from tests.conftest import client, compose, store_uri

# A time series: the final 20% of the rows are the test rows (task.split=last).
LOADER = ["task=loader", "task.loader=tests.user_data.damped_signal", "formula=oscillation"]
COMMON = [*LOADER, "task.split=last", "+debug=fast", "model.head=gain", "+task.kwargs.last=80"]
GRID = [("lambda", 0.3, 1.6), ("lambda", 0.6, 2.2), ("lambda", 1.0, 1.8), ("trainable", 1.0, 1.5)]


def sweep(folder, *extra: str):
    from alphalab.results.rows import row_from_run

    specs = [
        run_spec(
            compose(
                [
                    *COMMON,
                    *extra,
                    f"approach={a}",
                    f"alpha.real={r}",
                    f"alpha.imag={i}",
                    f"tracking.uri={store_uri(folder)}",
                ]
            )
        )  # fmt: skip
        for a, r, i in GRID
    ]
    results = run_jobs([Job(spec) for spec in specs])
    runs = [client(store_uri(folder)).get_run(r.run_id) for r in results]
    return results, summarize([row_from_run(run) for run in runs], 0.05, 0.1)


def test_changing_only_the_test_targets_changes_no_selection(tmp_path):
    plain, plain_summary = sweep(tmp_path / "a")
    shifted, shifted_summary = sweep(tmp_path / "b", "+task.kwargs.last_shift=3.0")
    for a, b in zip(plain, shifted, strict=True):
        assert a.final_val_loss == b.final_val_loss  # training and validation rows are the same
        assert a.learned_alpha == b.learned_alpha
        assert b.final_test_loss > a.final_test_loss + 1  # the test rows are not
    for arm in (Arm.FIXED, Arm.LEARNED):
        assert plain_summary.arms[arm].chosen.start == shifted_summary.arms[arm].chosen.start
    assert plain_summary.best_fixed.start == shifted_summary.best_fixed.start


@pytest.mark.parametrize("approach", ["lambda", "trainable"])
def test_a_fold_member_trains_as_that_fold_run_alone(tmp_path, approach):
    args = [*COMMON, "task.folds=3", f"approach={approach}", "alpha.real=0.7", "alpha.imag=1.8"]
    spec = run_spec(compose([*args, f"tracking.uri={store_uri(tmp_path / 'cv')}"]))
    others = [spec.with_alpha(a, (0.3, 2.4)) for a in ("lambda", "trainable")]
    jobs = [Job(fold) for s in [*others, spec] for fold in s.folds]
    together = run_jobs(jobs)[-3:]  # the spec's three folds
    alone_spec = run_spec(compose([*args, "task.fold=1", f"tracking.uri={store_uri(tmp_path)}"]))
    alone = run_job(alone_spec)
    member = together[1]
    assert member.final_val_loss == pytest.approx(alone.final_val_loss, rel=1e-5)
    assert member.final_test_loss == pytest.approx(alone.final_test_loss, rel=1e-5)
    assert member.learned_alpha.distance(alone.learned_alpha) <= 1e-6
    params = client(store_uri(tmp_path / "cv")).get_run(member.run_id).data.params
    assert params["fold"] == "1" and params["task.folds"] == "3"
    assert len({r.final_val_loss for r in together}) == 3  # each fold its own rows
