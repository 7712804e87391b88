"""keras-tuner searches as real subprocesses: every trial an MLflow child, resumable, loud."""

import csv
import io
from pathlib import Path

import pytest

from tests.conftest import all_runs, client, error_lines, run_experiment, store_uri

pytestmark = pytest.mark.slow

FAST = ["+debug=fast"]


def by_kind(runs):
    kinds: dict = {}
    for run in runs:
        kinds.setdefault(run.data.tags.get("alphalab.kind"), []).append(run)
    return kinds


@pytest.fixture(scope="module")
def random_search(tmp_path_factory):
    """A random search of 2 trials, then the same search continued with max_trials=4."""
    folder = tmp_path_factory.mktemp("random")
    args = [*FAST, "+search=random", "search.name=rs"]
    first = run_experiment(folder, *args, "search.max_trials=2")
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = by_kind(all_runs(store_uri(folder)))
    second = run_experiment(folder, *args, "search.max_trials=4")
    assert second.returncode == 0, second.stderr[-3000:]
    return folder, after_first, by_kind(all_runs(store_uri(folder))), second


def test_continuing_a_search_logs_only_the_new_trials(random_search):
    _, first, second, result = random_search
    assert len(first["trial"]) == 2
    assert len(second["trial"]) == 4  # not 2 + 4
    assert len({r.data.tags["alphalab.trial_id"] for r in second["trial"]}) == 4
    assert len(second["search"]) == 1 and len(second["reference"]) == 1
    assert "2 new trial(s) this session" in result.stdout


def test_every_trial_is_a_finished_child_with_the_promised_records(random_search):
    folder, _, runs, _ = random_search
    (parent,) = runs["search"]
    assert parent.info.status == "FINISHED"
    c = client(store_uri(folder))
    for trial in runs["trial"]:
        assert trial.info.status == "FINISHED"
        assert trial.data.tags["mlflow.parentRunId"] == parent.info.run_id
        # keras-tuner itself counted the trial as completed: nothing was swallowed
        assert trial.data.tags["keras_tuner.status"] == "COMPLETED"
        p, m = trial.data.params, trial.data.metrics
        assert p["approach"] == "lambda" and p["trial_id"] == trial.data.tags["alphalab.trial_id"]
        assert 0.0 <= float(p["alpha_real"]) <= 1.5 and 0.5 <= float(p["alpha_imag"]) <= 3.5
        assert (m["learned_alpha_real"], m["learned_alpha_imag"]) == (
            float(p["alpha_real"]),
            float(p["alpha_imag"]),
        )
        for key in ("final_val_loss", "tuner_score", "alpha_error", "train_seconds"):
            assert key in m, key
        assert len(c.get_metric_history(trial.info.run_id, "val_loss")) == 3  # one per epoch
        names = {a.path for a in c.list_artifacts(trial.info.run_id)}
        assert {"config.yaml", "weights.json", "model.keras"} <= names


def test_parent_holds_the_best_trial_and_the_comparison(random_search):
    folder, _, runs, result = random_search
    (parent,) = runs["search"]
    trials = runs["trial"]
    best = min(trials, key=lambda r: r.data.metrics["final_val_loss"])
    m = parent.data.metrics
    assert m["best_trial_val_loss"] == best.data.metrics["final_val_loss"]
    assert m["best_trial_alpha_real"] == float(best.data.params["alpha_real"])
    assert m["best_trial_alpha_imag"] == float(best.data.params["alpha_imag"])
    (reference,) = runs["reference"]
    assert reference.data.params["approach"] == "trainable"
    assert m["best_trainable_val_loss"] == reference.data.metrics["final_val_loss"]
    assert 1 <= m["trials_to_within_1pct"] <= 4
    c = client(store_uri(folder))
    local = Path(c.download_artifacts(parent.info.run_id, "comparison.csv", str(folder)))
    rows = list(csv.DictReader(io.StringIO(local.read_text())))
    assert len(rows) == 5 and {r["approach"] for r in rows} == {"lambda", "trainable"}
    png = Path(c.download_artifacts(parent.info.run_id, "trials.png", str(folder)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = result.stdout
    assert "Best alpha found by the search" in out and "within 1% of the final best" in out
    assert "Learned alpha (one trainable run" in out and "Cost: search 4 trials" in out


def test_bayesian_search_finds_the_true_alpha(tmp_path):
    # Stated tolerance: with 20 trials over [0, 1.5] x [0.5, 3.5] the best alpha found lies
    # within 0.1 of the true 0.5+2i (|difference| as a complex number).
    args = ["+search=bayesian", "search.max_trials=20", "search.reference=false", "train.epochs=2"]
    result = run_experiment(tmp_path, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = by_kind(all_runs(store_uri(tmp_path)))
    assert len(runs["trial"]) == 20
    assert {t.data.tags["keras_tuner.status"] for t in runs["trial"]} == {"COMPLETED"}
    (parent,) = runs["search"]
    m = parent.data.metrics
    found = complex(m["best_trial_alpha_real"], m["best_trial_alpha_imag"])
    assert abs(found - (0.5 + 2.0j)) < 0.1, found


def test_a_missing_tuner_dependency_fails_loudly(tmp_path):
    fake = tmp_path / "fake" / "tensorboard"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('tensorboard is hidden by this test')\n")
    import os

    path = os.pathsep.join([str(tmp_path / "fake"), os.environ.get("PYTHONPATH", "")])
    result = run_experiment(
        tmp_path, *FAST, "+search=random", "search.max_trials=3", env={"PYTHONPATH": path}
    )
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "tensorboard" in line and "missing" in line
    runs = by_kind(all_runs(store_uri(tmp_path)))
    (trial,) = runs["trial"]  # stopped at the first trial, not retried three times
    assert trial.info.status == "FAILED" and "tensorboard" in trial.data.tags["alphalab.error"]
    assert runs["search"][0].info.status == "FAILED"
