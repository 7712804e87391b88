"""The user's own model, data, loss and learning rates (builders and loaders in tests/user_*.py),
in process; the sweep and search through them, and bad ones, as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from alphalab.config.parse import run_spec
from alphalab.config.spec import TrackingSpec
from alphalab.engine.fit import prepare_data
from alphalab.engine.runs import run_job
from alphalab.results.compare import load_run_model
from alphalab.tracking.store import tracker_for
from tests.conftest import all_runs, client, compose, error_lines, grid_of, run_experiment, runs_in
from tests.conftest import store_uri as uri_of

BUILDER = "model.builder=tests.user_models.with_offset_branch"
LOADER = ["task=loader", "task.loader=tests.user_data.damped_signal", "formula=oscillation"]


def spec_of(*overrides: str):
    return run_spec(compose(list(overrides)))


def test_loader_data_reaches_the_run(store):
    spec = spec_of(*LOADER, "+task.kwargs.n=300", f"tracking.uri={store}", "+debug=fast")
    data = prepare_data(spec)
    assert len(data.train.x) + len(data.validation.x) + len(data.test.x) == 300
    result = run_job(spec)
    assert result.status == "FINISHED"
    params = client(store).get_run(result.run_id).data.params
    assert params["task.loader"] == "tests.user_data.damped_signal"
    assert params["data.digest"] == data.raw.digest()


def test_standardize_uses_the_training_rows_only():
    spec = spec_of(*LOADER, "task.standardize=both", "task.split=last")
    data = prepare_data(spec)
    train_rows = data.raw.take(np.arange(len(data.train.x)))
    assert data.scaling.x[0] == pytest.approx(train_rows.x.mean(axis=0))
    assert data.scaling.y["real"][0] == pytest.approx(train_rows.y_real.mean())
    assert data.scaling.y["imag"][1] == pytest.approx(train_rows.y_imag.std())
    assert data.train.x.mean() == pytest.approx(0.0, abs=1e-5)
    assert abs(data.validation.x.mean()) > 0.5  # the held-out rows were not used to fit it


def test_split_last_holds_out_the_final_rows():
    spec = spec_of(*LOADER, "task.split=last", "train.validation_split=0.25")
    data = prepare_data(spec)
    n_test, n_val = len(data.test.x), len(data.validation.x)
    assert (n_test, n_val) == (80, 80)  # 20% of 400, then 25% of the other 320
    np.testing.assert_array_equal(data.test.x, data.raw.x[-n_test:])
    np.testing.assert_array_equal(data.validation.x, data.raw.x[-n_test - n_val : -n_test])
    np.testing.assert_array_equal(data.train.x, data.raw.x[: -n_test - n_val])


def test_alpha_learning_rate_moves_alpha_and_the_rest_at_their_own_rates():
    from alphalab.model.build import build
    from alphalab.model.compile import compile_for_training

    spec = spec_of(
        BUILDER, "train.optimizer=sgd", "train.schedule=constant",
        "train.learning_rate=0.1", "train.alpha_learning_rate=0.01",
    )  # fmt: skip
    model, _ = build(spec.approach, spec.formula, spec.alpha, spec.model, (1,))
    compile_for_training(model, spec.train, True, 1)
    x = np.linspace(0, 6, 64, dtype="float32")[:, None]
    y = {"real": np.cos(2 * x), "imag": np.sin(2 * x)}
    before = {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights}
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = model(x)
        loss = sum(keras.ops.mean((out[k] - y[k]) ** 2) for k in y)
    grads = dict(
        zip(
            [w.path for w in model.trainable_weights],
            tape.gradient(loss, model.trainable_weights),
            strict=True,
        )
    )
    model.optimizer.apply(list(grads.values()), model.trainable_weights)
    for weight in model.trainable_weights:
        step = before[weight.path] - keras.ops.convert_to_numpy(weight)
        rate = 0.01 if weight.path == "alpha/kernel" else 0.1
        np.testing.assert_allclose(
            step, rate * keras.ops.convert_to_numpy(grads[weight.path]), rtol=1e-4, atol=1e-7
        )


def test_a_named_loss_is_what_the_run_minimises_and_reports(store):
    spec = spec_of(*LOADER, "train.loss=mae", f"tracking.uri={store}", "+debug=fast")
    data = prepare_data(spec)
    result = run_job(spec)
    metrics = client(store).get_run(result.run_id).data.metrics
    expected = sum(
        np.mean(np.abs(values - data.train.parts()[name].mean()))
        for name, values in data.validation.parts().items()
    )
    assert metrics["baseline_val_loss"] == pytest.approx(expected, rel=1e-5)
    assert result.final_val_loss < metrics["baseline_val_loss"]


def test_a_stacked_user_model(store):
    spec = spec_of(
        "model.builder=tests.user_models.stacked",
        "model.output=stacked",
        "+debug=fast",
        f"tracking.uri={store}",
    )
    assert run_job(spec).status == "FINISHED"


@pytest.fixture(scope="module")
def user_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user-sweep")
    result = run_experiment(
        folder, "+sweep=alpha", "+debug=fast", BUILDER, "+model.kwargs.units=3",
        "alpha.real=0.4,0.6", "alpha.imag=2.0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, result


@pytest.mark.slow
def test_a_user_model_through_the_main_job(user_sweep, tmp_path):
    folder, result = user_sweep
    runs = all_runs(uri_of(folder))
    children = grid_of(r for r in runs if "mlflow.parentRunId" in r.data.tags)
    assert len(children) == 4 and {c.info.status for c in children} == {"FINISHED"}
    weights, best = {}, {}
    for child in children:
        p, m = child.data.params, child.data.metrics
        loss = m["final_val_loss"]
        best[p["approach"]] = min(best.get(p["approach"], loss), loss)
        for key in ("approach", "formula", "task", "alpha_real", "alpha_imag", "seed"):
            assert key in p, key
        assert p["model.builder"] == "tests.user_models.with_offset_branch"
        for key in (
            "final_val_loss",
            "learned_alpha_real",
            "learned_alpha_imag",
            "alpha_error",
            "baseline_val_loss",
            "converged",
        ):
            assert key in m, key
        local = Path(
            client(uri_of(folder)).download_artifacts(
                child.info.run_id, "", str(tmp_path / child.info.run_id)
            )
        )
        weights[p["approach"]] = json.loads((local / "weights.json").read_text())
        import alphalab.layers  # noqa: F401 - registers alphalab's Keras objects

        model = load_run_model(
            tracker_for(TrackingSpec(uri_of(folder), "alphalab", None)),
            child.info.run_id,
            str(tmp_path / "model"),
        )  # built on request
        assert model.name == "user_model"
        if p["approach"] == "trainable":
            history = client(uri_of(folder)).get_metric_history(child.info.run_id, "alpha_real")
            assert len(history) == 3
    # alpha is the only difference between the approaches
    assert set(weights["trainable"]) - set(weights["lambda"]) == {"alpha/kernel"}
    assert set(weights["lambda"]) <= set(weights["trainable"])
    assert "branch_out/kernel" in weights["lambda"]
    # the verdict printed is the one these runs give
    out = result.stdout
    assert f"{best['lambda']:.4g}" in out and f"{best['trainable']:.4g}" in out
    if "Learned alpha wins" in out:
        assert best["trainable"] < best["lambda"]
    if "Fixed alpha wins" in out:
        assert best["lambda"] < best["trainable"]


@pytest.mark.slow
def test_a_keras_tuner_search_builds_the_users_model(tmp_path):
    result = run_experiment(
        tmp_path, "+search=random", "search.max_trials=2", "+debug=fast", BUILDER
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = [r for r in runs_in(tmp_path) if r.data.tags.get("alphalab.kind") == "trial"]
    assert len(trials) == 2 and {t.info.status for t in trials} == {"FINISHED"}
    local = Path(
        client(uri_of(tmp_path)).download_artifacts(
            trials[0].info.run_id, "weights.json", str(tmp_path)
        )
    )
    assert "branch_out/kernel" in json.loads(local.read_text())


# (overrides, the key the one line must name, words it must contain)
BAD = [
    (["model.builder=tests.user_models.missing"], "model.builder", "has no attribute"),
    (["model.builder=no_such_package.build"], "model.builder", "cannot import"),
    (["model.builder=tests.user_models.raises"], "model.builder", "the user's builder is broken"),
    (
        ["model.builder=tests.user_models.ignores_alpha"],
        "model.builder",
        "does not use the alpha layer",
    ),
    (["model.builder=tests.user_models.unknown_outputs"], "model.builder", "'signal'"),
    ([BUILDER, "model.head=gain"], "model.head", "built-in model"),
    (
        ["task=loader", "task.loader=tests.user_data.raises", "formula=oscillation"],
        "task.loader",
        "the database is not there",
    ),
    (
        ["task=loader", "task.loader=tests.user_data.not_a_mapping", "formula=oscillation"],
        "task.loader",
        "mapping",
    ),
    (["task=loader", "formula=oscillation"], "task.loader", "required"),
    (["train.loss=not_a_loss"], "train.loss", "unknown loss"),
    (["task.standardize=maybe"], "task.standardize", "unknown"),
    (["task.split=middle"], "task.split", "unknown"),
    (["train.alpha_learning_rate=-1"], "train.alpha_learning_rate", "positive"),
]


@pytest.mark.parametrize(("overrides", "key", "words"), BAD)
def test_a_bad_builder_loader_or_loss_is_rejected_in_process(overrides, key, words):
    from alphalab.config import ConfigError
    from alphalab.entry.preflight import check

    with pytest.raises(ConfigError) as caught:
        check(compose(overrides))
    message = str(caught.value)
    assert key in message and words in message and "\n" not in message


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "key", "words"), BAD)
def test_a_bad_builder_loader_or_loss_is_one_line_before_any_run(tmp_path, overrides, key, words):
    result = run_experiment(
        tmp_path, "+sweep=alpha", "alpha.real=0.4,0.6", "alpha.imag=2.0", *overrides
    )
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = error_lines(result.stderr)
    assert key in line and words in line, line
    assert "Traceback" not in result.stderr
    assert runs_in(tmp_path) == []  # nothing created, so nothing left RUNNING
