"""``alphalab.sweep`` / ``load_sweep`` / ``list_sweeps`` in process, against the same records the
command line writes: a real Hydra multirun, a real population fit, a real SQLite store."""

from __future__ import annotations

import inspect
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import alphalab
from tests.conftest import ROOT, all_runs, store_uri
from tests.test_population import statuses

FAST = ["+debug=fast", "train.epochs=4"]
GRID = ([0.2, 1.0], [2.0])  # 2 fixed cells, 2 learned starts: 4 jobs and 2 refits


def in_tmp(tmp_path, *extra: str) -> list[str]:
    return [*FAST, f"hydra.sweep.dir={tmp_path / 'multirun'}", *extra]


def test_hydra_internals_the_api_drives_are_where_they_were():
    """Hydra has no public multirun call; alphalab.entry.inprocess drives the one Hydra's own
    test utilities use. When Hydra moves it, this is the line that says so."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path  # noqa: F401

    assert {"config_name", "task_function", "overrides", "with_log_configuration"} <= set(
        inspect.signature(Hydra.multirun).parameters
    ), "hydra._internal.hydra.Hydra.multirun changed: update alphalab/entry/inprocess.py"
    assert callable(Hydra.create_main_hydra2), "Hydra.create_main_hydra2 moved: see inprocess.py"


@pytest.mark.slow
def test_a_sweep_from_python_is_the_command_lines_sweep(tmp_path):
    uri = store_uri(tmp_path)
    environment = dict(os.environ)
    result = alphalab.sweep(in_tmp(tmp_path), grid=GRID, tracking_uri=uri, name="first")
    assert dict(os.environ) == environment  # nothing the sweep's jobs set stays behind
    assert result.status == "FINISHED" and result.name == "first"
    verdict = result.verdict
    runs = all_runs(uri)
    parent = next(r for r in runs if r.info.run_id == result.parent_run_id)
    assert verdict.outcome == parent.data.tags["alphalab.verdict"]
    assert verdict.headline in parent.data.tags["mlflow.note.content"]
    assert set(verdict.arms) == {"fixed", "learned"}
    learned, fixed = verdict.arms["learned"], verdict.arms["fixed"]
    assert learned.alpha.real == pytest.approx(parent.data.metrics["best_trainable_alpha_real"])
    assert fixed.alpha == complex(parent.data.metrics["best_fixed_alpha_real"], 2.0)
    estimate, low, high = learned.vs_fixed
    assert low <= estimate <= high
    assert estimate == pytest.approx(parent.data.metrics["learned_vs_fixed"])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.parent_run_id]
    table = result.runs
    assert len(table) == len(children) == 6
    assert set(table["run_id"]) == {c.info.run_id for c in children}
    assert sorted(table["kind"]) == ["refit", "refit", "run", "run", "run", "run"]
    figure = result.plot()  # the landscape, as before kinds existed
    assert type(figure).__name__ == "Figure" and figure.axes
    assert figure.axes[0].get_xlabel() == result.plot("landscape").axes[0].get_xlabel()
    forest = result.plot("verdict")  # the verdict's interval against the ROPE
    assert forest._suptitle.get_text().startswith(verdict.headline.split(":")[0])
    with pytest.raises(ValueError, match="plot kind 'nope'"):
        result.plot("nope")
    from mlflow.tracking import MlflowClient

    logged = {a.path for a in MlflowClient(uri).list_artifacts(result.parent_run_id)}
    assert {"landscape.png", "verdict.png", "comparison.csv", "verdict.md"} <= logged
    model = result.load_model("learned")
    x = np.linspace(0.0, 3.0, 8, dtype="float32").reshape(-1, 1)
    predicted = model.predict(x, verbose=0)  # the outputs real and imag, by name
    assert set(predicted) == {"real", "imag"}
    assert all(np.all(np.isfinite(p)) for p in predicted.values())
    kernel = next(w for w in model.weights if w.name == "kernel")
    metrics = parent.data.metrics  # the refit's learned alpha (one seed: the mean is that refit's)
    assert complex(*np.asarray(kernel)) == pytest.approx(
        complex(metrics["best_trainable_alpha_real"], metrics["best_trainable_alpha_imag"])
    )
    page = result._repr_html_()
    assert page.count("data:image/png;base64,") == 2 and verdict.outcome in page
    with pytest.raises(KeyError, match="arm 'tuned'"):
        result.load_model("tuned")

    again = alphalab.sweep(in_tmp(tmp_path), grid=GRID, tracking_uri=uri, progress=False)
    assert again.parent_run_id != result.parent_run_id and again.name.startswith("alpha-")
    # a second call in the same process: the same numbers (no state carried over)
    first, second = (s.runs.set_index("run_name") for s in (result, again))
    for column in ("final_val_loss", "final_test_loss", "learned_alpha_real"):
        assert sorted(second.index) == sorted(first.index)
        np.testing.assert_allclose(second[column][first.index], first[column], rtol=1e-5)

    listed = alphalab.list_sweeps(uri)
    assert list(listed["name"]) == ["first", again.name]
    assert list(listed["outcome"]) == [verdict.outcome, again.verdict.outcome]
    assert listed["headline"][0] == verdict.headline and list(listed["jobs"]) == [4, 4]
    assert alphalab.load_sweep(tracking_uri=uri).parent_run_id == again.parent_run_id
    assert alphalab.load_sweep("first", uri).parent_run_id == result.parent_run_id
    with pytest.raises(LookupError, match="no sweep or search named 'nope'"):
        alphalab.load_sweep("nope", uri)


def oscillation(x, alpha_real, alpha_imag):
    """A formula defined where the user works (here a test module; a notebook's is __main__)."""
    from keras import ops

    envelope = ops.exp(-alpha_real * x)
    return envelope * ops.cos(alpha_imag * x), envelope * ops.sin(alpha_imag * x)


@pytest.mark.slow
def test_in_memory_data_and_a_formula_function(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 3, 200).astype("float32")
    frame = pd.DataFrame(
        {
            "x": x,
            "y_real": np.exp(-0.5 * x) * np.cos(2 * x) + 0.05 * rng.standard_normal(200),
            "y_imag": np.exp(-0.5 * x) * np.sin(2 * x) + 0.05 * rng.standard_normal(200),
        }
    )
    uri = store_uri(tmp_path)
    result = alphalab.sweep(
        in_tmp(tmp_path), data=frame, formula=oscillation, grid=GRID, tracking_uri=uri
    )
    assert result.status == "FINISHED"
    (written,) = (tmp_path / "data").glob("data-*.npz")
    children = [r for r in all_runs(uri) if r.data.tags.get("mlflow.parentRunId")]
    assert {c.data.params["task.path"] for c in children} == {str(written)}
    assert {c.data.params["formula"] for c in children} == {"tests.test_api.oscillation"}
    assert all(math.isfinite(c.data.metrics["final_test_loss"]) for c in children)
    assert np.allclose(np.load(written)["y_real"], frame["y_real"].to_numpy("float32"))


def test_bad_input_is_one_error_and_no_run(tmp_path, capsys):
    uri = store_uri(tmp_path)
    with pytest.raises(
        alphalab.SweepError, match=r"^train.epoch: no such key; did you mean train.epochs\?$"
    ):
        alphalab.sweep({"train.epoch": 3}, tracking_uri=uri)
    with pytest.raises(alphalab.SweepError, match="cannot be found again by name"):
        alphalab.sweep(FAST, formula=lambda x, a, b: (x, x), tracking_uri=uri)
    with pytest.raises(alphalab.SweepError, match="data: a DataFrame needs columns x"):
        import pandas as pd

        alphalab.sweep(FAST, data=pd.DataFrame({"t": [1.0]}), tracking_uri=uri)
    assert not (tmp_path / "mlflow.db").exists()  # nothing was opened, so nothing RUNNING


INTERRUPTED = textwrap.dedent(
    """
    import sys
    import alphalab

    args = dict(grid=([0.2, 0.6, 1.0, 1.4], [2.0]), tracking_uri=sys.argv[1], name="cell")
    overrides = ["+debug=fast", "train.epochs=400", "hydra.sweep.dir=" + sys.argv[2]]
    try:
        alphalab.sweep(overrides, **args)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    input()  # the notebook's user, rerunning the cell when told
    result = alphalab.sweep(overrides, **args)
    print("RESUMED", result.status, len(result.runs), flush=True)
    """
)


@pytest.mark.slow
def test_an_interrupted_cell_leaves_nothing_running_and_resumes(tmp_path):
    """A notebook's interrupt is SIGINT to the kernel's process, which goes on running: the
    sweep's runs are closed KILLED at once, and the same call resumes the sweep."""
    db = tmp_path / "mlflow.db"
    kernel = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, f"sqlite:///{db}", str(tmp_path / "multirun")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    try:
        deadline = time.time() + 300
        while statuses(db).get("RUNNING", 0) < 8 and time.time() < deadline:
            assert kernel.poll() is None, kernel.stderr.read()[-3000:]
            time.sleep(0.2)
        kernel.send_signal(signal.SIGINT)
        line = ""
        while "INTERRUPTED" not in line:
            line = kernel.stdout.readline()
            assert line, kernel.stderr.read()[-3000:]
        assert statuses(db) == {"KILLED": 8}
        with __import__("sqlite3").connect(db) as connection:
            parents = connection.execute(
                "SELECT status FROM runs JOIN tags USING (run_uuid) "
                "WHERE tags.key = 'alphalab.kind' AND tags.value = 'sweep'"
            ).fetchall()
        assert parents == [("KILLED",)]
        out, err = kernel.communicate("\n", timeout=600)
    finally:
        if kernel.poll() is None:
            kernel.kill()
    assert kernel.returncode == 0, err[-3000:]
    assert "RESUMED FINISHED" in out, out[-2000:]
    assert "resume with the same call plus name='cell'" in err + out
    assert statuses(db) == {"KILLED": 8, "FINISHED": 8}
