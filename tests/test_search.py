"""keras-tuner searches as real subprocesses: trials asked of the oracle a population at a time,
every trial an MLflow child exactly once, resumable, loud."""

import csv
import io
import json
import signal
from pathlib import Path

import pytest

from tests.conftest import all_runs, client, run_experiment, store_uri
from tests.test_population import interrupt_when_running, statuses

pytestmark = pytest.mark.slow

FAST = ["+debug=fast"]


def by_kind(runs):
    kinds: dict = {}
    for run in runs:
        kinds.setdefault(run.data.tags.get("alphalab.kind"), []).append(run)
    return kinds


def oracle_trials(folder: Path, name: str) -> dict[str, dict]:
    """keras-tuner's own record of each trial (its trial.json), by trial id."""
    found = {}
    for path in (folder / "keras-tuner" / name).glob("trial_*/trial.json"):
        trial = json.loads(path.read_text())
        found[trial["trial_id"]] = trial
    return found


@pytest.fixture(scope="module")
def random_search(tmp_path_factory):
    """A random search of 2 trials, then the same search continued with max_trials=5, three
    trials at a time."""
    folder = tmp_path_factory.mktemp("random")
    args = [*FAST, "+search=random", "search.name=rs", "search.population=3"]
    first = run_experiment(folder, *args, "search.max_trials=2")
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = by_kind(all_runs(store_uri(folder)))
    second = run_experiment(folder, *args, "search.max_trials=5")
    assert second.returncode == 0, second.stderr[-3000:]
    return folder, after_first, by_kind(all_runs(store_uri(folder))), second


def test_continuing_a_search_logs_only_the_new_trials(random_search):
    _, first, second, result = random_search
    assert len(first["trial"]) == 2
    assert len(second["trial"]) == 5  # not 2 + 5
    assert len({r.data.tags["alphalab.trial_id"] for r in second["trial"]}) == 5
    assert len(second["search"]) == 1 and len(second["reference"]) == 1
    assert "3 new trial(s) this session" in result.stdout
    # the three new trials were asked at once and trained as one population
    new = [
        r for r in second["trial"] if r.info.run_id not in {t.info.run_id for t in first["trial"]}
    ]
    assert {r.data.tags["alphalab.population"] for r in new} == {"3"}


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
        for key in ("final_val_loss", "tuner_score", "alpha_error", "train_seconds", "converged"):
            assert key in m, key
        assert len(c.get_metric_history(trial.info.run_id, "val_loss")) == 3  # one per epoch
        names = {a.path for a in c.list_artifacts(trial.info.run_id)}
        assert {"config.yaml", "weights.json", "model.keras"} <= names


def test_the_oracles_best_is_the_stores_best(random_search):
    folder, _, runs, _ = random_search
    oracle = oracle_trials(folder, "rs")
    assert set(oracle) == {r.data.tags["alphalab.trial_id"] for r in runs["trial"]}
    assert {t["status"] for t in oracle.values()} == {"COMPLETED"}
    for run in runs["trial"]:  # the best epoch reached the oracle: its score is that epoch's
        trial = oracle[run.data.tags["alphalab.trial_id"]]
        assert trial["score"] == pytest.approx(run.data.metrics["tuner_score"])
    best_by_oracle = min(oracle.values(), key=lambda t: t["score"])["trial_id"]
    best_in_store = min(runs["trial"], key=lambda r: r.data.metrics["final_val_loss"])
    assert best_by_oracle == best_in_store.data.tags["alphalab.trial_id"]


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
    assert 1 <= m["trials_to_within_1pct"] <= 5
    c = client(store_uri(folder))
    local = Path(c.download_artifacts(parent.info.run_id, "comparison.csv", str(folder)))
    rows = list(csv.DictReader(io.StringIO(local.read_text())))
    assert len(rows) == 6 and {r["approach"] for r in rows} == {"lambda", "trainable"}
    png = Path(c.download_artifacts(parent.info.run_id, "trials.png", str(folder)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = result.stdout
    assert "Best alpha found by the search" in out and "within 1% of the final best" in out
    assert "Learned alpha (one trainable run" in out and "Cost: search 5 trials" in out


def test_bayesian_search_finds_the_true_alpha(tmp_path):
    # Stated tolerance: with 20 trials (8 at a time) over [0, 1.5] x [0.5, 3.5] the best alpha
    # found lies within 0.1 of the true 0.5+2i (|difference| as a complex number).
    args = ["+search=bayesian", "search.max_trials=20", "search.reference=false", "train.epochs=2"]
    result = run_experiment(tmp_path, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = by_kind(all_runs(store_uri(tmp_path)))
    assert len(runs["trial"]) == 20
    assert {t.data.tags["keras_tuner.status"] for t in runs["trial"]} == {"COMPLETED"}
    assert {t.data.tags["alphalab.population"] for t in runs["trial"]} == {"8", "4"}
    (parent,) = runs["search"]
    m = parent.data.metrics
    found = complex(m["best_trial_alpha_real"], m["best_trial_alpha_imag"])
    assert abs(found - (0.5 + 2.0j)) < 0.1, found


def test_a_hyperband_search_trains_each_round_as_a_population(tmp_path):
    args = [*FAST, "+search=hyperband", "model.head=gain", "train.epochs=9", "search.name=hb"]
    result = run_experiment(tmp_path, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = by_kind(all_runs(store_uri(tmp_path)))
    oracle = oracle_trials(tmp_path, "hb")
    assert len(runs["trial"]) == len(oracle) > 5
    for run in runs["trial"]:
        values = oracle[run.data.tags["alphalab.trial_id"]]["hyperparameters"]["values"]
        budget = values["tuner/epochs"] - values["tuner/initial_epoch"]
        assert int(run.data.params["train.epochs"]) == run.data.metrics["epochs_run"] == budget
        # a promoted trial starts from the weights its earlier round ended with
        if "tuner/trial_id" in values:
            assert run.data.tags["alphalab.warm_start"] in {r.info.run_id for r in runs["trial"]}
    assert len({r.data.params["train.epochs"] for r in runs["trial"]}) > 1
    assert any("alphalab.warm_start" in r.data.tags for r in runs["trial"])


def test_a_diverging_trial_fails_alone_while_the_others_finish(tmp_path):
    # exp(-alpha_real * x) overflows float32 for alpha_real = -30 and x up to 6
    grid = ["search.space.alpha_real.min=-30", "search.space.alpha_real.max=0.5"]
    grid += ["search.space.alpha_real.step=30.5", "search.space.alpha_imag.min=1.5"]
    grid += ["search.space.alpha_imag.max=2.5", "search.space.alpha_imag.step=1"]
    result = run_experiment(tmp_path, *FAST, "+search=grid", "search.max_trials=4", *grid)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = by_kind(all_runs(store_uri(tmp_path)))["trial"]
    assert len(trials) == 4
    failed = [t for t in trials if t.info.status == "FAILED"]
    assert {float(t.data.params["alpha_real"]) for t in failed} == {-30.0}
    assert len(failed) == 2 and all("diverged" in t.data.tags["alphalab.error"] for t in failed)
    assert {t.data.tags["keras_tuner.status"] for t in failed} == {"FAILED"}
    finished = [t for t in trials if t.info.status == "FINISHED"]
    assert len(finished) == 2 and {t.data.tags["keras_tuner.status"] for t in finished} == {
        "COMPLETED"
    }


def test_a_search_killed_during_a_population_finishes_every_trial_exactly_once(tmp_path):
    args = ["+search=random", "+debug=fast", "train.epochs=300", "search.max_trials=6"]
    args += ["search.population=4", "search.name=killed", f"hydra.run.dir={tmp_path / 'run'}"]
    killed = interrupt_when_running(tmp_path, args, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert statuses(tmp_path / "mlflow.db").get("RUNNING", 0) >= 4
    again = run_experiment(tmp_path, *args[:-1])
    assert again.returncode == 0, again.stderr[-3000:]
    runs = by_kind(all_runs(store_uri(tmp_path)))
    finished = [t for t in runs["trial"] if t.info.status == "FINISHED"]
    ids = [t.data.tags["alphalab.trial_id"] for t in finished]
    assert len(ids) == 6 and len(set(ids)) == 6  # every trial FINISHED, exactly once
    assert {t.info.status for t in runs["trial"]} <= {"FINISHED", "KILLED"}
    assert [r.info.status for r in runs["reference"] if r.info.status == "FINISHED"] == ["FINISHED"]
    assert set(oracle_trials(tmp_path, "killed")) == set(ids)


def test_a_search_whose_fits_crash_stops_with_one_line(tmp_path):
    builder = "model.builder=tests.user_models.breaks_in_training"
    result = run_experiment(tmp_path, *FAST, "+search=random", "search.max_trials=6", builder)
    assert result.returncode == 1, result.stderr[-3000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("alphalab:")]
    assert "breaks in training" in line
    runs = by_kind(all_runs(store_uri(tmp_path)))
    # keras-tuner stops after 3 consecutive failed trials: one population of them, not forever
    assert len(runs["trial"]) <= 6 and {t.info.status for t in runs["trial"]} == {"FAILED"}
    assert all("breaks in training" in t.data.tags["alphalab.error"] for t in runs["trial"])
    assert runs["search"][0].info.status == "FAILED"
