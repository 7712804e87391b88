"""``python -m experiments.run`` as a user runs it: what lands in MLflow, exit codes, seeds."""

from pathlib import Path

import keras
import numpy as np
import pytest

from alphalab.tracking.store import default_uri, resolve_uri
from tests.conftest import (
    ROOT,
    all_runs,
    client,
    error_lines,
    run_experiment,
    runs_in,
    store_uri,
)

pytestmark = pytest.mark.slow  # every test here runs the command as a subprocess

FAST = ["+debug=fast"]
EPOCHS = 3  # conf/debug/fast.yaml


@pytest.fixture(scope="module")
def trainable_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trainable")
    result = run_experiment(folder, *FAST, "seed=5")
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = all_runs(store_uri(folder))
    return folder, run, result


def test_single_run_is_finished_with_the_promised_params(trainable_run):
    _, run, _ = trainable_run
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["approach"] == "trainable"
    assert params["formula"] == "oscillation" and params["task"] == "oscillation"
    assert (params["alpha_real"], params["alpha_imag"]) == ("1.0", "1.5")
    assert params["seed"] == "5"
    assert (params["true_alpha_real"], params["true_alpha_imag"]) == ("0.5", "2.0")
    # the rest of the resolved config, flattened with dotted keys
    assert params["train.epochs"] == str(EPOCHS) and params["model.output"] == "pair"
    assert params["task.noise"] == "0.05" and params["train.learning_rate"] == "0.05"


def test_per_epoch_metrics_include_the_learned_alpha_trajectory(trainable_run):
    folder, run, _ = trainable_run
    c = client(store_uri(folder))
    for key in ("loss", "val_loss", "alpha_real", "alpha_imag"):
        history = c.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in history) == list(range(EPOCHS)), key
    reals = [
        m.value
        for m in sorted(c.get_metric_history(run.info.run_id, "alpha_real"), key=lambda m: m.step)
    ]
    assert reals[-1] == pytest.approx(run.data.metrics["learned_alpha_real"])
    assert reals[0] != 1.0  # it moved from the start after the first epoch


def test_final_metrics_and_alpha_error(trainable_run):
    _, run, _ = trainable_run
    m = run.data.metrics
    for key in ("final_val_loss", "learned_alpha_real", "learned_alpha_imag", "alpha_error"):
        assert key in m, key
    expected = abs(complex(m["learned_alpha_real"], m["learned_alpha_imag"]) - (0.5 + 2.0j))
    assert m["alpha_error"] == pytest.approx(expected, rel=1e-6)
    assert m["final_val_loss"] == pytest.approx(m["val_loss"])


def test_artifacts_config_weights_and_a_reloadable_model(trainable_run, tmp_path):
    folder, run, _ = trainable_run
    c = client(store_uri(folder))
    names = {a.path for a in c.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "weights.json", "model.keras"} <= names
    local = Path(c.download_artifacts(run.info.run_id, "", str(tmp_path)))
    import json

    weights = json.loads((local / "weights.json").read_text())
    learned = [run.data.metrics["learned_alpha_real"], run.data.metrics["learned_alpha_imag"]]
    assert weights["alpha/kernel"] == pytest.approx(learned)
    import alphalab.layers  # noqa: F401 - registers ComplexAlpha, as a user's script would

    model = keras.saving.load_model(local / "model.keras", safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.get_layer("alpha").kernel), learned, rtol=1e-6
    )
    assert "seed: 5" in (local / "config.yaml").read_text()


def test_the_console_says_where_the_run_is(trainable_run):
    folder, run, result = trainable_run
    assert "FINISHED" in result.stdout and run.info.run_id in result.stdout
    assert str(folder / "mlflow.db") in result.stdout


def test_same_seed_same_numbers_run_after_run(tmp_path, trainable_run):
    first_folder, first, _ = trainable_run
    again = run_experiment(tmp_path, *FAST, "seed=5")
    assert again.returncode == 0, again.stderr[-2000:]
    (second,) = all_runs(store_uri(tmp_path))
    timing = {"train_seconds"}
    assert {k: v for k, v in second.data.metrics.items() if k not in timing} == {
        k: v for k, v in first.data.metrics.items() if k not in timing
    }
    c1, c2 = client(store_uri(first_folder)), client(store_uri(tmp_path))
    for key in ("loss", "val_loss", "alpha_real", "alpha_imag"):
        values = [
            [
                m.value
                for m in sorted(c.get_metric_history(r.info.run_id, key), key=lambda m: m.step)
            ]
            for c, r in ((c1, first), (c2, second))
        ]
        assert values[0] == values[1], key


def test_lambda_run_keeps_alpha_fixed_and_logs_no_trajectory(tmp_path):
    result = run_experiment(
        tmp_path, *FAST, "approach=lambda", "alpha.real=0.5", "alpha.imag=2.0", "seed=5"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = all_runs(store_uri(tmp_path))
    m = run.data.metrics
    assert (m["learned_alpha_real"], m["learned_alpha_imag"]) == (0.5, 2.0)
    assert m["alpha_error"] == 0.0
    assert "alpha_real" not in m and "val_loss" in m
    assert run.data.params["approach"] == "lambda"


def test_a_diverging_run_ends_failed_with_the_reason(tmp_path):
    # exp(-alpha_real * x) overflows float32 for alpha_real = -30 and x up to 6: the loss is inf.
    result = run_experiment(tmp_path, *FAST, "approach=lambda", "alpha.real=-30")
    assert result.returncode == 1
    (run,) = all_runs(store_uri(tmp_path))
    assert run.info.status == "FAILED"
    assert "diverged" in run.data.tags["alphalab.error"]
    assert error_lines(result.stderr)[-1].startswith("alphalab: error: run ")


def test_a_formula_that_does_not_fit_the_data_is_rejected_before_training(tmp_path):
    # oscillation is elementwise: on complex_gain's two x columns it yields two columns per part.
    result = run_experiment(tmp_path, *FAST, "task=complex_gain", "formula=oscillation")
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith("alphalab: error: formula:") and "column" in line
    assert runs_in(tmp_path) == []


def test_mlflow_tracking_uri_environment_points_the_store_elsewhere(tmp_path):
    from tests.conftest import cli

    uri = store_uri(tmp_path / "elsewhere")
    result = cli(
        "experiments.run",
        *FAST,
        f"hydra.run.dir={tmp_path / 'h'}",
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(all_runs(uri)) == 1


def test_store_precedence_config_then_environment_then_project(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the default does not depend on where the command starts
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_uri() == f"sqlite:///{ROOT / 'mlruns' / 'mlflow.db'}"
    assert resolve_uri(None) == default_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////env.db")
    assert resolve_uri(None) == "sqlite:////env.db"
    assert resolve_uri("sqlite:////config.db") == "sqlite:////config.db"
