"""The real-data example (examples/sunspots): its loader on statsmodels' bundled data, and its
sweep through the real command, small enough for the suite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import client, run_experiment, runs_in, store_uri


def test_the_sunspots_loader_reads_the_bundled_series():
    from examples.sunspots.data import load

    arrays = load()
    assert arrays["x"].shape == (309, 1) and arrays["y_real"].shape == (309,)
    assert arrays["x"][0, 0] == 1700 - 1854 and arrays["x"][-1, 0] == 2008 - 1854
    raw = load(transform="none")
    np.testing.assert_allclose(arrays["y_real"] ** 2, raw["y_real"], rtol=1e-5)


@pytest.mark.slow
def test_the_sunspots_sweep_runs_with_its_own_builder_and_loader(tmp_path):
    result = run_experiment(
        tmp_path,
        "+sunspots=sweep",
        "alpha.imag=0.56,0.58",
        "seed=0",
        "task.folds=1",
        "train.epochs=20",
        "sweep.refine=1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = runs_in(tmp_path)
    (parent,) = [r for r in runs if r.data.tags.get("alphalab.kind") == "sweep"]
    assert parent.info.run_name.startswith("sunspots-")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    kinds = sorted(c.data.tags["alphalab.kind"] for c in children)
    # the refinement, each arm's refit (fixed, learned, refined's cell) and each trained on as
    # long again (equal budgets: the refined arm's refit learns alpha from its cell's)
    assert kinds == ["continue"] * 3 + ["refine"] + ["refit"] * 3 + ["run"] * 4
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.params["model.builder"] == "examples.sunspots.model.build"
        assert child.data.params["task.loader"] == "examples.sunspots.data.load"
        assert "standardized.y_real_mean" in child.data.params
    local = client(store_uri(tmp_path)).download_artifacts(
        children[0].info.run_id, "weights.json", str(tmp_path)
    )
    weights = json.loads(Path(local).read_text())
    assert {"gain/kernel", "trend/kernel", "trend/bias"} <= set(weights)
    verdict, m = parent.data.tags["alphalab.verdict"], parent.data.metrics
    fixed, learned = m["best_fixed_test_loss"], m["best_trainable_test_loss"]  # the verdict's
    if verdict == "inconclusive":
        assert m["conclusive"] == 0 and parent.data.tags["alphalab.inconclusive"]
    else:
        assert m["conclusive"] == 1
        assert {"learned": learned < fixed, "fixed": fixed < learned}.get(verdict, True), verdict
