"""A verdict says when it can't be trusted, and grid-then-learn (sweep.refine) is recorded as
such: real sweeps as subprocesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import all_runs, read_comparison, run_experiment, store_uri

pytestmark = pytest.mark.slow


def sweep_runs(folder: Path):
    runs = all_runs(store_uri(folder))
    (parent,) = [r for r in runs if r.data.tags.get("alphalab.kind") == "sweep"]
    return parent, [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]


def test_pure_noise_is_inconclusive_everywhere_the_verdict_goes(tmp_path):
    result = run_experiment(
        tmp_path, "+sweep=alpha", "task=loader", "task.loader=tests.user_data.pure_noise",
        "formula=oscillation", "alpha.real=0.2,1.0", "alpha.imag=1.0,2.0", "train.epochs=10",
        "seed=0,1", "task.folds=2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    parent, children = sweep_runs(tmp_path)
    kinds = [c.data.tags["alphalab.kind"] for c in children]
    assert kinds.count("run") == 32 and kinds.count("refit") == 4  # 8 x 2 seeds x 2 folds
    verdict_line = next(
        line for line in result.stdout.splitlines() if "Taken at face value" in line
    )
    assert verdict_line.startswith("Inconclusive: no approach beats the baseline")
    tags, metrics = parent.data.tags, parent.data.metrics
    assert tags["alphalab.verdict"] == "inconclusive"
    assert "baseline" in tags["alphalab.inconclusive"]
    assert tags["mlflow.note.content"].split("**")[1].startswith("Inconclusive")
    assert metrics["conclusive"] == 0.0
    best = min(metrics["best_fixed_val_loss"], metrics["best_trainable_val_loss"])
    assert best > 0.9 * metrics["baseline_val_loss"]
    best = min(metrics["best_fixed_test_loss"], metrics["best_trainable_test_loss"])
    assert best > 0.9 * metrics["test_baseline_loss"]  # on the test rows, the verdict's
    rows = [r for r in read_comparison(tmp_path, parent) if r["fold"] != ""]
    baselines = [float(r["baseline_val_loss"]) for r in rows]
    assert sum(baselines) / len(baselines) == pytest.approx(metrics["baseline_val_loss"])
    assert {r["converged"] for r in rows} <= {"0", "1"}


def test_the_default_task_is_still_a_clear_win_for_the_learned_alpha(tmp_path):
    result = run_experiment(tmp_path, "+sweep=alpha", "alpha.real=0.2,1.0", "alpha.imag=1.0,2.8")
    assert result.returncode == 0, result.stderr[-3000:]
    parent, children = sweep_runs(tmp_path)
    assert parent.data.tags["alphalab.verdict"] == "learned"
    assert parent.data.metrics["conclusive"] == 1.0
    assert parent.data.metrics["unconverged_runs"] == 0
    assert "\nLearned alpha is better: test loss" in result.stdout
    # one configuration per arm, refitted on every non-test row of each of the 3 seeds
    refits = [c for c in children if c.data.tags["alphalab.kind"] == "refit"]
    assert sorted(c.data.tags["alphalab.arm"] for c in refits) == ["fixed"] * 3 + ["learned"] * 3
    assert all(c.data.params["train.validation_split"] == "0" for c in refits)
    assert "Student's t over 3 seeds" in parent.data.tags["mlflow.note.content"]
    m = parent.data.metrics
    assert m["best_trainable_test_loss"] < m["best_fixed_test_loss"]
    # each arm's chosen model, logged on the parent in MLflow's Keras flavour
    import mlflow
    import numpy as np

    import alphalab.layers  # noqa: F401 - registers alphalab's Keras objects

    mlflow.set_tracking_uri(store_uri(tmp_path))
    models = mlflow.search_logged_models(
        experiment_ids=[parent.info.experiment_id], output_format="list"
    )
    assert {model.name for model in models} == {"selected-fixed", "selected-learned"}
    assert {model.source_run_id for model in models} == {parent.info.run_id}
    sources = {model.tags["alphalab.source_run"] for model in models}
    assert sources <= {c.info.run_id for c in refits}  # each arm's model is its refit
    learned = next(model for model in models if model.name == "selected-learned")
    keras_model = mlflow.keras.load_model(f"models:/{learned.model_id}")
    x = np.linspace(0, 6, 5, dtype="float32").reshape(-1, 1)
    predicted = mlflow.pyfunc.load_model(f"models:/{learned.model_id}").predict(x)
    if isinstance(predicted, np.ndarray) and predicted.shape == ():  # pyfunc wraps the dict
        predicted = predicted.item()
    np.testing.assert_allclose(predicted["real"], keras_model.predict(x, verbose=0)["real"])


REFINED = [
    "+sweep=alpha", "+debug=fast", "approach=lambda", "model.head=gain", "seed=0",
    "task.folds=1", "alpha.real=0.4,0.8", "alpha.imag=1.6,2.2", "sweep.refine=2",
    "sweep.name=refined",
]  # fmt: skip


def test_refinement_learns_from_the_best_grid_cells_warm_started(tmp_path):
    result = run_experiment(tmp_path, *REFINED)
    assert result.returncode == 0, result.stderr[-3000:]
    parent, children = sweep_runs(tmp_path)
    of_kind = {k: [c for c in children if c.data.tags["alphalab.kind"] == k] for k in
               ("run", "refine", "refit", "continue")}  # fmt: skip
    grid, refined = of_kind["run"], of_kind["refine"]
    assert [len(v) for v in of_kind.values()] == [4, 2, 2, 2] and len(children) == 10
    best_two = sorted(grid, key=lambda c: c.data.metrics["final_val_loss"])[:2]
    by_source = {c.data.tags["alphalab.warm_start"]: c for c in refined}
    assert set(by_source) == {c.info.run_id for c in best_two}
    for source in best_two:
        run = by_source[source.info.run_id]
        assert run.info.status == "FINISHED" and run.data.params["approach"] == "trainable"
        for key in ("alpha_real", "alpha_imag", "seed"):
            assert run.data.params[key] == source.data.params[key]
    # refits: the fixed arm's choice, and the refined arm's cell (fixed, then learned from it);
    # each trained on as long again from its refit, so that both have a refinement's budget
    refits = {c.info.run_id: c for c in of_kind["refit"]}
    assert {c.data.params["approach"] for c in refits.values()} == {"lambda"}
    for more in of_kind["continue"]:
        source = refits[more.data.tags["alphalab.warm_start"]]
        assert more.data.tags["alphalab.arm"] == source.data.tags["alphalab.arm"]
        want = "trainable" if more.data.tags["alphalab.arm"] == "refined" else "lambda"
        assert more.data.params["approach"] == want
        assert more.data.params["train.validation_split"] == "0"
    budget = {c.data.metrics["epochs_run"] for c in children}
    assert budget == {3}  # each trained 3 epochs, after a warm start of 3 where it has one
    assert "6 epochs" in parent.data.tags["mlflow.note.content"]
    arms = [r["arm"] for r in read_comparison(tmp_path, parent)]
    assert sorted(arms) == ["fixed"] * 6 + ["refined"] * 4
    assert "best_refined_val_loss" in parent.data.metrics
    assert "from the best grid cells" in parent.data.tags["mlflow.note.content"]

    again = run_experiment(tmp_path, *REFINED)
    assert again.returncode == 0, again.stderr[-3000:]
    _, after = sweep_runs(tmp_path)
    assert len(after) == 10  # resumed: nothing trained twice, refinements and refits included
    # the refinements and refits a line each (the grid's finished jobs train no population)
    assert again.stdout.count("skipped (finished before)") == 6
