"""Both ends of the MLflow alphalab admits (pyproject: ``mlflow>=3.10,<4``). The locked end is
what every other test runs on; the oldest end is a second resolution, ``uv run --with
'mlflow==3.10.*'`` (an overlay of a few packages from the Python registry, like the apt packages
tests/provision.py installs), in which the writers' suite, the internals' checks, the template
store, the contract's search path (a random search) and a default sweep run, each read back with
3.10's own client (a newer client does not migrate an older schema). 3.10's schema is not the
one the bulk writer was written for, so these prove the client writer's records whole.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess

import pytest

from alphalab.tracking.curves import kept_step
from tests.conftest import ROOT, store_uri

OLDEST = "mlflow==3.10.*"
UNDER_OLDEST = "ALPHALAB_UNDER_OLDEST_MLFLOW"  # set in the second resolution's pytest
INSIDE = [
    "tests/test_writers.py",
    "tests/test_internals.py",
    "tests/test_store_template.py::test_a_copied_store_is_the_store_mlflow_migrates_at_the_same_path",
    "tests/test_contract.py::test_every_path_records_the_same_run[search trial-lambda]",
    "tests/test_mlflow_versions.py::test_a_default_sweep_records_every_run_whole",
]
CHILD_ARTIFACTS = {"config.yaml", "weights.json"}  # and a refit's model.keras
EPOCH_METRICS = {"loss", "val_loss"}
LEARNED = {"alpha_real", "alpha_imag"}  # per epoch, for trainable runs


@pytest.mark.slow
def test_the_oldest_mlflow_admitted_records_every_run_whole():
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "alphalab: this test runs a second resolution with uv: put uv on PATH"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [uv, "run", "--frozen", "--with", OLDEST, "python", "-m", "pytest", "-q"]
    done = subprocess.run(
        [*command, "-p", "no:cacheprovider", *INSIDE],
        cwd=ROOT,
        env={**env, UNDER_OLDEST: "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
    assert done.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail, tail


@pytest.mark.skipif(not os.environ.get(UNDER_OLDEST), reason="runs in the oldest MLflow (above)")
def test_a_default_sweep_records_every_run_whole(tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    import alphalab
    from alphalab.tracking.mlflow_internals import mlflow_revisions

    assert mlflow.__version__.startswith("3.10."), mlflow.__version__
    uri = store_uri(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        swept = alphalab.sweep(
            ["+debug=fast", f"hydra.sweep.dir={tmp_path / 'h'}"], tracking_uri=uri
        )
    said = [line for line in printed.getvalue().splitlines() if "runs are written" in line]
    (revision,) = mlflow_revisions()[1]
    assert said == [
        "alphalab: runs are written through MLflow's client: "
        f"store schema {revision} is not one the bulk writer was written for"
    ]
    c = MlflowClient(uri)
    parent = c.get_run(swept.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert {"best_fixed_val_loss", "best_trainable_val_loss"} <= set(parent.data.metrics)
    assert {"comparison.csv", "landscape.png"} <= {
        a.path for a in c.list_artifacts(parent.info.run_id)
    }
    children = c.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(children) == len(swept.runs) == 32 + 2  # the grid, each arm's refit
    for child in children:
        run_id, data = child.info.run_id, child.data
        assert child.info.status == "FINISHED" and child.info.end_time, child.info
        assert {"approach", "alpha_real", "alpha_imag", "seed", "formula"} <= set(data.params)
        refit = data.tags["alphalab.kind"] == "refit"  # every non-test row trains: no validation
        final = {"learned_alpha_real", "learned_alpha_imag"} | (
            {"final_test_loss"} if refit else {"final_val_loss"}
        )
        assert set(data.metrics) >= final, child.info.run_name
        keys = EPOCH_METRICS | (LEARNED if data.params["approach"] == "trainable" else set())
        if refit:
            keys -= {"val_loss"}
        epochs = int(data.params["train.epochs"])  # a grid job's curves: tracking.curves' epochs
        kept = [s for s in range(epochs) if refit or kept_step(s, epochs - 1)]
        for key in keys:
            steps = sorted(m.step for m in c.get_metric_history(run_id, key))
            assert steps == kept, (child.info.run_name, key)
        assert child.inputs.dataset_inputs, child.info.run_name
        files = CHILD_ARTIFACTS | ({"model.keras"} if refit else set())
        assert {a.path for a in c.list_artifacts(run_id)} >= files, child.info.run_name
