"""One contract over every path that records a run, as Optuna runs one contract over every
sampler: the same spec, recorded as a single run, a job of a sweep, a population member, a
refinement, a search trial, a search's reference or a reproduction, leaves the same param, metric,
tag and artifact names (plus what only that kind adds, declared below) and the same numbers.

In process, on the fast setting; tolerance as the population engine states it (losses 1e-5
relative, alpha and weights 1e-6).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from alphalab.config.names import Approach, Kind
from alphalab.config.parse import run_spec
from alphalab.config.parse_search import search_spec
from alphalab.config.spec import TrackingSpec
from alphalab.engine.record import Job, WarmStart
from alphalab.engine.runs import run_job, run_jobs
from alphalab.results.compare import load_run_model
from alphalab.tracking.curves import kept_step
from alphalab.tracking.parent import ParentRun
from alphalab.tracking.store import tracker_for
from tests.conftest import client, compose, store_uri

LOSS_RTOL, ALPHA_ATOL = 1e-5, 1e-6
COMMON = ["+debug=fast", "model.head=gain", "alpha.real=0.7", "alpha.imag=1.8"]
VOLATILE = {"train_seconds"}  # a member's share of its population's fit
# What each path adds to the names of a single run (params, metrics, tags).
EXTRAS = {
    "single run": (set(), set(), set()),
    "job of a sweep": (set(), set(), {"mlflow.parentRunId"}),
    "population member": (set(), set(), {"mlflow.parentRunId", "alphalab.population"}),
    "refinement": ({"warm_start"}, set(), {"mlflow.parentRunId", "alphalab.warm_start"}),
    "search trial": (
        {"trial_id"},
        {"tuner_score"},
        {"mlflow.parentRunId", "alphalab.population", "alphalab.trial_id", "keras_tuner.status"},
    ),
    "search reference": (set(), set(), {"mlflow.parentRunId", "alphalab.population"}),
    "reproduction": (set(), set(), {"alphalab.reproduces"}),
    "refit": (set(), set(), {"mlflow.parentRunId", "alphalab.arm"}),
}
ARTIFACTS = ["config.yaml", "model.keras", "weights.json"]
# A sweep's grid jobs keep their curves at tracking.curves' epochs (the single run's values there)
# and no model.keras: their model is built on request, with the single run's weights.
GRID = {"job of a sweep", "population member"}
# The runs a verdict pairs row by row on the test rows also leave each row's loss.
PAIRED = {"search trial", "search reference", "refit"}
KINDS = {
    "single run": "run",
    "job of a sweep": "run",
    "population member": "run",
    "refinement": "refine",
    "search trial": "trial",
    "search reference": "reference",
    "reproduction": "reproduction",
    "refit": "refit",
}


def spec_in(folder: Path, approach: str, *extra: str):
    return run_spec(
        compose([*COMMON, f"approach={approach}", f"tracking.uri={store_uri(folder)}", *extra])
    )


def parent_in(folder: Path) -> str:
    tracker = tracker_for(spec_in(folder, "lambda").tracking)
    return ParentRun.open(tracker, "contract", Kind.SWEEP, {"test": 1}).run_id


def record(folder: Path, run_id: str) -> dict:
    """Everything a run left: names, values, histories, weights and artifacts."""
    c = client(store_uri(folder))
    run = c.get_run(run_id)
    histories, steps = {}, {}
    for key in ("loss", "val_loss", "alpha_real", "alpha_imag"):
        found = sorted(c.get_metric_history(run_id, key), key=lambda m: m.step)
        histories[key], steps[key] = [m.value for m in found], [m.step for m in found]
    local = c.download_artifacts(run_id, "weights.json", str(folder / "dl" / run_id))
    tracker = tracker_for(TrackingSpec(store_uri(folder), "contract-reader", None))
    model = load_run_model(tracker, run_id, str(folder / "model" / run_id))
    return {
        "steps": steps,
        "model": {w.path: np.asarray(w) for w in model.weights},
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
        "status": run.info.status,
        "histories": histories,
        "weights": json.loads(Path(local).read_text()),
        "artifacts": sorted(a.path for a in c.list_artifacts(run_id)),
    }


def through(path: str, folder: Path, approach: str) -> dict:
    """Record the contract's spec (at ``approach``) through ``path``, into ``folder``."""
    spec = spec_in(folder, approach)
    if path == "single run":
        return record(folder, run_job(spec).run_id)
    if path == "job of a sweep":
        return record(folder, run_job(spec, parent_id=parent_in(folder)).run_id)
    if path == "population member":
        others = [spec.with_alpha(a, (0.3, 2.4)) for a in Approach]
        results = run_jobs([Job(s) for s in [*others, spec]], parent_id=parent_in(folder))
        return record(folder, results[-1].run_id)
    if path == "refinement":  # warm-started from the weights a fresh gain head has
        warm = WarmStart("a-fixed-run", "its-job-key", {"head/kernel": [1.0, 0.0]})
        job = Job(spec, Kind.REFINE, warm_start=warm)
        return record(folder, run_jobs([job], parent_id=parent_in(folder))[0].run_id)
    if path == "refit":  # an arm's choice on every non-test row (no validation rows)
        job = Job(spec.refit(), Kind.REFIT, tags={"alphalab.arm": "learned"})
        return record(folder, run_jobs([job], parent_id=parent_in(folder))[0].run_id)
    if path == "reproduction":
        from alphalab.entry.reproduce import reproduce

        original = run_job(spec)
        return record(folder, reproduce(store_uri(folder), original.run_id).result.run_id)
    raise ValueError(path)


@pytest.fixture(scope="module")
def searches(tmp_path_factory) -> Path:
    """One search (2 trials, 2 at a time, and its reference) for the trial and reference cases."""
    from alphalab.engine.search import run_search

    folder = tmp_path_factory.mktemp("search")
    cfg = compose([*COMMON, f"tracking.uri={store_uri(folder)}", "+search=random"])
    run_search(
        run_spec(cfg), replace(search_spec(cfg), name="contract", max_trials=2, population=2)
    )
    return folder


def searched(path: str, folder: Path) -> dict:
    """The search's trial or reference: for a trial, the single run to compare with is the one
    at the trial's alpha."""
    runs = tracker_for(spec_in(folder, "lambda").tracking).search("attributes.status = 'FINISHED'")
    kind = {"search trial": "trial", "search reference": "reference"}[path]
    found = next(r for r in runs if r.data.tags.get("alphalab.kind") == kind)
    return record(folder, found.info.run_id)


_ALONE: dict = {}


def single(
    folder: Path, approach: str, alpha: tuple[float, float] | None = None, *extra: str
) -> dict:
    """The same spec as a single run on its own (once per approach, alpha and overrides)."""
    if (approach, alpha, extra) in _ALONE:
        return _ALONE[approach, alpha, extra]
    spec = spec_in(folder, approach, *extra)
    if alpha is not None:
        spec = spec.with_alpha(approach, alpha)
    spec = replace(spec, tracking=TrackingSpec(store_uri(folder), "alone", None))
    _ALONE[approach, alpha, extra] = record(folder, run_job(spec).run_id)
    return _ALONE[approach, alpha, extra]


CASES = [
    ("single run", "lambda"),
    ("single run", "trainable"),
    ("job of a sweep", "trainable"),
    ("population member", "lambda"),
    ("population member", "trainable"),
    ("single run", "tuned"),
    ("population member", "tuned"),
    ("refinement", "trainable"),
    ("search trial", "lambda"),
    ("search reference", "trainable"),
    ("reproduction", "trainable"),
    ("refit", "trainable"),
]


@pytest.mark.parametrize(("path", "approach"), CASES)
def test_every_path_records_the_same_run(tmp_path, searches, path, approach):
    if path.startswith("search"):
        got = searched(path, searches)
    else:
        got = through(path, tmp_path / "path", approach)
    alpha = None
    if path == "search trial":  # the oracle chose the alpha: the single run takes the same
        alpha = (float(got["params"]["alpha_real"]), float(got["params"]["alpha_imag"]))
    # a refit is the single run with every non-test row training: no folds, no validation rows
    extra = ("train.validation_split=0",) if path == "refit" else ()
    want = single(tmp_path / "alone", approach, alpha, *extra)
    params, metrics, tags = EXTRAS[path]
    if path.startswith("search"):  # a search's runs also record its section of the config
        got["params"] = {k: v for k, v in got["params"].items() if not k.startswith("search.")}
    assert got["status"] == want["status"] == "FINISHED"
    assert got["tags"]["alphalab.kind"] == KINDS[path]
    assert set(got["params"]) - {"tracking.uri"} == set(want["params"]) - {"tracking.uri"} | params
    assert set(got["metrics"]) == set(want["metrics"]) | metrics
    assert set(got["tags"]) == set(want["tags"]) | tags
    assert want["artifacts"] == ARTIFACTS
    artifacts = [a for a in ARTIFACTS if path not in GRID or a != "model.keras"]
    assert got["artifacts"] == sorted(artifacts + ["test_losses.json"] * (path in PAIRED))
    for key in (
        set(want["params"]) - {"tracking.uri"} - {k for k in want["params"] if "provenance" in k}
    ):
        assert got["params"][key] == want["params"][key], key
    for key in set(want["metrics"]) - VOLATILE:
        tolerance = dict(abs=ALPHA_ATOL) if "alpha" in key else dict(rel=LOSS_RTOL)
        assert got["metrics"][key] == pytest.approx(want["metrics"][key], **tolerance), key
    for key, values in want["histories"].items():
        assert want["steps"][key] == list(range(len(values)))
        if path in GRID:  # its curves at the kept epochs, its last among them
            kept = [s for s in range(len(values)) if kept_step(s, len(values) - 1)]
            assert got["steps"][key] == kept, key
            assert len(kept) < len(values) or len(values) <= 4
            values = [values[s] for s in kept]
        np.testing.assert_allclose(got["histories"][key], values, rtol=LOSS_RTOL, atol=ALPHA_ATOL)
    assert list(got["weights"]) == list(want["weights"])
    for name, value in want["weights"].items():
        np.testing.assert_allclose(got["weights"][name], value, atol=ALPHA_ATOL)
    # every run's model loads (a grid job's built on request) with the single run's weights
    assert list(got["model"]) == list(want["model"])
    for name, value in want["model"].items():
        np.testing.assert_allclose(got["model"][name], value, atol=ALPHA_ATOL)


def test_a_trials_executions_train_side_by_side_and_are_averaged(tmp_path):
    from alphalab.engine.search import run_search

    folder = tmp_path / "path"
    cfg = compose([*COMMON, f"tracking.uri={store_uri(folder)}", "+search=random"])
    search = replace(search_spec(cfg), name="twice", max_trials=2, population=2)
    run_search(run_spec(cfg), replace(search, executions_per_trial=2, reference=False))
    trials = tracker_for(spec_in(folder, "lambda").tracking).search(
        "tags.`alphalab.kind` = 'trial'"
    )
    assert len(trials) == 2
    # two trials of two executions each: four members, one record per trial
    assert {t.data.tags["alphalab.population"] for t in trials} == {"4"}
    for trial in trials:  # the built-in model starts deterministically: each execution alike
        alpha = (float(trial.data.params["alpha_real"]), float(trial.data.params["alpha_imag"]))
        want = single(tmp_path / "alone", "lambda", alpha)
        got = record(folder, trial.info.run_id)
        for key, values in want["histories"].items():
            np.testing.assert_allclose(got["histories"][key], values, rtol=LOSS_RTOL)
