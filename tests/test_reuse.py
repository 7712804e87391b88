"""Populations of one process share compiled models; a reused model must give a fresh model's
numbers, and a population of several (vectorised) reuses its model across seeds."""

import pytest

from alphalab.config.parse import run_spec
from alphalab.engine.population import compiled as models
from alphalab.engine.record import Job
from alphalab.engine.runs import run_job, run_jobs
from tests.conftest import client, compose

TIMING = {"train_seconds"}


def metrics(store: str, run_id: str) -> dict:
    data = client(store).get_run(run_id).data.metrics
    return {k: v for k, v in data.items() if k not in TIMING}


def history(store: str, run_id: str, key: str) -> list[float]:
    values = client(store).get_metric_history(run_id, key)
    return [m.value for m in sorted(values, key=lambda m: m.step)]


@pytest.mark.parametrize(
    ("approach", "first", "between"),
    [
        ("trainable", ["alpha.real=0.3", "alpha.imag=1.2"], ["alpha.real=1.1", "alpha.imag=2.6"]),
        ("lambda", ["alpha.real=0.3", "seed=1"], ["alpha.real=0.3", "seed=2"]),
        ("trainable", ["model.head=gain", "alpha.real=0.3"], ["model.head=gain", "seed=4"]),
    ],
)
def test_a_reused_model_reproduces_a_fresh_one(store, approach, first, between):
    common = ["+debug=fast", f"approach={approach}", f"tracking.uri={store}"]
    fresh = run_job(run_spec(compose([*common, *first])))
    other = run_job(run_spec(compose([*common, *between])))
    again = run_job(run_spec(compose([*common, *first])))
    assert len(models._COMPILED.get()) == 1  # all three jobs shared one compiled model
    assert fresh.run_id != again.run_id
    assert metrics(store, again.run_id) == metrics(store, fresh.run_id)
    assert metrics(store, other.run_id) != metrics(store, fresh.run_id)
    for key in ("loss", "val_loss"):
        assert history(store, again.run_id, key) == history(store, fresh.run_id, key)


def test_a_reused_model_saves_its_own_starting_alpha(store, tmp_path):
    import keras

    import alphalab.layers  # noqa: F401 - registers ComplexAlpha for loading

    common = ["+debug=fast", "approach=trainable", f"tracking.uri={store}"]
    run_job(run_spec(compose([*common, "alpha.real=0.3", "alpha.imag=1.2"])))
    second = run_job(run_spec(compose([*common, "alpha.real=1.1", "alpha.imag=2.6"])))
    local = client(store).download_artifacts(second.run_id, "model.keras", str(tmp_path))
    layer = keras.saving.load_model(local, safe_mode=True).get_layer("alpha")
    assert (layer.alpha_real, layer.alpha_imag) == (1.1, 2.6)


def test_a_vectorised_population_is_reused_across_seeds_and_alphas(store):
    common = ["+debug=fast", "model.head=gain", f"tracking.uri={store}"]

    def population(seed: int, reals: tuple[float, float]):
        jobs = [
            Job(run_spec(compose([*common, f"approach={a}", f"alpha.real={r}", f"seed={seed}"])))
            for a in ("lambda", "trainable")
            for r in reals
        ]
        return run_jobs(jobs)

    fresh = population(0, (0.3, 0.9))
    other = population(1, (0.5, 1.1))
    again = population(0, (0.3, 0.9))
    assert len(models._COMPILED.get()) == 1  # one population model for all three
    for a, b in zip(fresh, again, strict=True):
        assert metrics(store, a.run_id) == metrics(store, b.run_id)
    assert metrics(store, other[0].run_id) != metrics(store, fresh[0].run_id)
