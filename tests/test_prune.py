"""Successive halving inside a population (``sweep.prune``): the rungs, who stops at each, and
that survivors train on exactly as they would have without pruning (the population engine's
tolerance: losses within 1e-5 relative, alphas within 1e-6)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from alphalab.config import ConfigError
from alphalab.config.names import Arm
from alphalab.config.parse import run_spec
from alphalab.config.spec import PruneSpec
from alphalab.engine.outcome import FitOutcome
from alphalab.engine.population.prune import rank
from alphalab.engine.record import Job
from alphalab.tracking import names
from alphalab.tracking.curves import kept_step
from tests.conftest import all_runs, compose, grid_of, store_uri
from tests.test_sweep import sweep

LOSS_RTOL, ALPHA_ATOL = 1e-5, 1e-6


def test_rungs_are_geometric_from_the_grace_period():
    assert PruneSpec(eta=3, grace=3).rungs(30) == [3, 9, 27]
    assert PruneSpec(eta=2, grace=5).rungs(30) == [5, 10, 20]
    assert PruneSpec(eta=3, grace=10).rungs(10) == []


def test_config_defaults_and_bad_values():
    assert run_spec(compose()).prune is None
    spec = run_spec(compose(["sweep.prune=true", "train.epochs=30"]))
    assert spec.prune == PruneSpec(eta=3, grace=3)
    assert run_spec(compose(["sweep.prune=true", "train.epochs=3"])).prune.grace == 1
    for overrides, key in (
        (["sweep.prune=maybe"], "sweep.prune"),
        (["sweep.prune=true", "sweep.prune_eta=1"], "sweep.prune_eta"),
        (["sweep.prune=true", "sweep.prune_grace=30"], "sweep.prune_grace"),
        (["sweep.prune=true", "sweep.prune_grace=0"], "sweep.prune_grace"),
    ):
        with pytest.raises(ConfigError, match=key):
            run_spec(compose(overrides))


def _outcome(val_loss: float) -> FitOutcome:
    return FitOutcome(history={names.VAL_LOSS: [9.0, val_loss]})


def test_rank_keeps_the_best_third_of_each_group_on_validation_loss():
    losses = [0.5, 0.1, 0.3, 0.2, 0.9, 0.8, 0.7, 0.6, 0.4]
    groups = [Arm.FIXED] * 5 + [Arm.LEARNED] * 4
    running = list(range(9))
    kept = rank(running, [_outcome(v) for v in losses], groups, PruneSpec(eta=3))
    assert kept == [1, 3, 7, 8]  # fixed: 0.1, 0.2 (ceil 5/3); learned: 0.4, 0.6 (ceil 4/3)
    # members already stopped (not running) are not ranked; ties keep the first position
    kept = rank([0, 1, 2], [_outcome(0.2)] * 3, [Arm.FIXED] * 3, PruneSpec(eta=2))
    assert kept == [0, 1]


def _grid_jobs(tmp_path, name: str, *overrides: str) -> list[Job]:
    base = run_spec(
        compose(
            [
                "train.epochs=20",
                "task.n_samples=300",
                f"tracking.uri={store_uri(tmp_path / name)}",
                *overrides,
                # the built-in model with a gain: fixed-alpha members train too
                *(() if any("builder" in o for o in overrides) else ("model.head=gain",)),
            ]
        )
    )
    return [
        Job(base.with_alpha(approach, alpha))
        for approach in ("lambda", "trainable")
        for alpha in itertools.product([0.2, 0.6, 1.0], [1.0, 1.6, 2.2])
    ]


def _train(tmp_path, name: str, *overrides: str):
    from alphalab.engine.runs import run_jobs
    from alphalab.tracking.parent import ParentRun
    from alphalab.tracking.store import tracker_for

    (tmp_path / name).mkdir()
    jobs = _grid_jobs(tmp_path, name, *overrides)
    parent = ParentRun.open(tracker_for(jobs[0].spec.tracking), name, "sweep", {})
    results = run_jobs(jobs, parent_id=parent.run_id)
    parent.close("FINISHED")
    runs = {run.info.run_id: run for run in all_runs(store_uri(tmp_path / name))}
    return jobs, [runs[result.run_id] for result in results]


def _history(tmp_path, name: str, run, key: str) -> dict[int, float]:
    from mlflow import MlflowClient

    points = MlflowClient(store_uri(tmp_path / name)).get_metric_history(run.info.run_id, key)
    return {p.step: p.value for p in sorted(points, key=lambda p: p.step)}


def _same_curve(mine: dict, full: dict, epochs: int, **tolerance) -> None:
    """A grid job's curve (``tracking.curves``) stops at its stop: the kept epochs up to its
    last, each as the unpruned run trained it (where that run kept the same epoch)."""
    assert sorted(mine) == [s for s in range(epochs) if kept_step(s, epochs - 1)]
    shared = [step for step in mine if step in full]
    assert len(shared) >= len(mine) - 1
    np.testing.assert_allclose([mine[s] for s in shared], [full[s] for s in shared], **tolerance)


@pytest.mark.slow
def test_pruned_population_trains_survivors_as_if_nothing_stopped(tmp_path):
    jobs, whole = _train(tmp_path, "whole")
    _, pruned = _train(tmp_path, "pruned", "sweep.prune=true")
    _, again = _train(tmp_path, "again", "sweep.prune=true")
    stopped = [run for run in pruned if names.PRUNED in run.data.tags]
    assert stopped and len(stopped) < len(pruned)
    fixed, learned = slice(0, 9), slice(9, 18)
    for arm in (fixed, learned):  # 9 -> 3 after epoch 2 -> 1 after epoch 6 (eta 3)
        assert sum(names.PRUNED not in run.data.tags for run in pruned[arm]) == 1
    # The fixed arm's best cell survives; the learned arm's survivor ends in the basin of the
    # best learned alpha (its members' final losses differ within the noise: which of them
    # ends lowest is not something a rung can see, nor should)
    losses = [run.data.metrics["final_val_loss"] for run in whole[fixed]]
    assert names.PRUNED not in pruned[int(np.argmin(losses))].data.tags
    best = min(whole[learned], key=lambda run: run.data.metrics["final_val_loss"]).data.metrics
    (survivor,) = [r.data.metrics for r in pruned[learned] if names.PRUNED not in r.data.tags]
    distance = abs(
        complex(survivor["learned_alpha_real"], survivor["learned_alpha_imag"])
        - complex(best["learned_alpha_real"], best["learned_alpha_imag"])
    )
    assert distance <= 0.05 * max(
        1, abs(complex(best["learned_alpha_real"], best["learned_alpha_imag"]))
    )
    for job, a, b, c in zip(jobs, whole, pruned, again, strict=True):
        assert b.info.status == "FINISHED"
        assert b.data.tags.get(names.PRUNED) == c.data.tags.get(names.PRUNED)  # deterministic
        epochs = int(b.data.tags.get(names.PRUNED, 20))
        assert b.data.metrics["epochs_run"] == epochs
        for key in ("loss", "val_loss") + (
            ("alpha_real",) if job.spec.approach != "lambda" else ()
        ):
            full = _history(tmp_path, "whole", a, key)
            mine = _history(tmp_path, "pruned", b, key)
            tol = dict(atol=ALPHA_ATOL) if key.startswith("alpha") else dict(rtol=LOSS_RTOL)
            _same_curve(mine, full, epochs, **tol)
        assert math.isfinite(b.data.metrics["final_test_loss"])
        if names.PRUNED not in b.data.tags:
            np.testing.assert_allclose(
                b.data.metrics["final_test_loss"], a.data.metrics["final_test_loss"], rtol=1e-5
            )


@pytest.mark.slow
def test_a_pruned_sweep_says_so_and_a_rerun_never_revives_a_pruned_member(tmp_path):
    args = ("+sweep=alpha", "+debug=fast", "train.epochs=9", "sweep.prune=true", "sweep.name=p")
    first = sweep(tmp_path, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Pruned (sweep.prune" in first.stdout
    runs = [r for r in all_runs(store_uri(tmp_path)) if "mlflow.parentRunId" in r.data.tags]
    pruned = {r.info.run_id: r.data.tags[names.PRUNED] for r in runs if names.PRUNED in r.data.tags}
    assert len(grid_of(runs)) == 32 and pruned
    again = sweep(tmp_path, *args[:-2], "sweep.name=p")  # same sweep, pruning off
    assert again.returncode == 0, again.stderr[-3000:]
    assert "32 jobs (32 already finished)" in again.stdout
    after = [r for r in all_runs(store_uri(tmp_path)) if "mlflow.parentRunId" in r.data.tags]
    assert len(grid_of(after)) == 32 and len(after) == len(runs)  # nor a refit again
    assert {
        r.info.run_id: r.data.tags[names.PRUNED] for r in after if names.PRUNED in r.data.tags
    } == pruned


@pytest.mark.slow
def test_the_summary_of_runs_this_process_wrote_equals_the_stores(tmp_path):
    """The summary reads the children it wrote from memory: the rows and trajectories are
    those the store gives."""
    from alphalab.results.rows import latest_rows, trajectories
    from alphalab.tracking.kept import children_of, kept_runs
    from alphalab.tracking.store import tracker_for

    jobs, runs = _train(tmp_path, "kept", "sweep.prune=true", "task.test_split=0.2")
    tracker = tracker_for(jobs[0].spec.tracking)
    parent_id = runs[0].data.tags["mlflow.parentRunId"]
    assert len(kept_runs(parent_id)) == len(jobs)
    from_memory = sorted(latest_rows(children_of(tracker, parent_id)), key=lambda r: r.run_id)
    from_store = sorted(latest_rows(tracker.children(parent_id)), key=lambda r: r.run_id)
    assert [repr(row) for row in from_memory] == [repr(row) for row in from_store]
    assert any(row.pruned for row in from_memory)
    assert trajectories(tracker, from_memory) == trajectories(tracker, from_store) != {}


@pytest.mark.slow
def test_a_users_model_prunes_as_copies_train_on(tmp_path):
    """A user's builder trains as copies side by side; the survivors of a rung are rebuilt as
    fewer copies and go on exactly as in the unpruned fit."""
    user = ("model.builder=tests.user_models.with_offset_branch", "train.epochs=9")
    _, whole = _train(tmp_path, "whole", *user)
    _, pruned = _train(tmp_path, "pruned", *user, "sweep.prune=true", "sweep.prune_grace=3")
    assert sum(names.PRUNED in run.data.tags for run in pruned) == 12  # 9 -> 3 per arm at 3
    for a, b in zip(whole, pruned, strict=True):
        epochs = int(b.data.tags.get(names.PRUNED, 9))
        full = _history(tmp_path, "whole", a, "val_loss")
        _same_curve(_history(tmp_path, "pruned", b, "val_loss"), full, epochs, rtol=LOSS_RTOL)
