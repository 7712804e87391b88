"""What a population member costs in the store (issues 18 and 27): after a real small sweep at the
default 30 epochs, each grid job leaves config.yaml and weights.json (no model.keras: its model is
built on request, with the same weights) and its curves at ``tracking.curves``' epochs; each
arm's refit leaves its model.keras too, deflated, which reloads with ``safe_mode=True`` and
predicts and holds its optimizer state exactly as the same file stored the way Keras writes it.
A member costs at most 32 KB of the store (rows and artifacts), measured as what a 4 x 4 grid
adds over a 2 x 2 grid (8,192 members then cost at most 262 MB)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from alphalab.config.spec import TrackingSpec
from alphalab.results.compare import load_run_model
from alphalab.tracking.curves import kept_step
from alphalab.tracking.store import tracker_for
from tests.conftest import all_runs, client, grid_of, run_experiment, runs_in, split, store_uri

pytestmark = pytest.mark.slow

GRID_FILES = ("config.yaml", "weights.json")
MODEL_BOUND = 3_000  # bytes of a refit's model.keras; measured <= 1,953 (16,803 stored)
MEMBER_BOUND = 1_500  # bytes of a grid job's two files; measured <= 1,000
STORE_BOUND = 32_000  # bytes of the store per member, rows and artifacts
EPOCHS = 30
COMMON = ["+sweep=alpha", "+debug=fast", f"train.epochs={EPOCHS}"]


def _sweep(folder: Path, reals: str, imags: str) -> Path:
    result = run_experiment(folder, *COMMON, f"alpha.real={reals}", f"alpha.imag={imags}")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory) -> Path:
    return _sweep(tmp_path_factory.mktemp("bytes"), "0.4,0.7", "1.8,2.3")


@pytest.fixture(scope="module")
def small_sweep(small_folder):
    _, children = split(runs_in(small_folder))
    assert len(grid_of(children)) == 8 and len(children) == 8 + 2  # and each arm's refit
    return children


def _folder(run) -> Path:
    return Path(urlparse(run.info.artifact_uri).path)


def _kind(run) -> str:
    return run.data.tags["alphalab.kind"]


def _store_bytes(folder: Path) -> int:
    files = [folder / "mlflow.db", *(p for p in (folder / "artifacts").rglob("*") if p.is_file())]
    return sum(p.stat().st_size for p in files)


def test_a_member_costs_at_most_32_kb_of_the_store(small_folder, tmp_path):
    larger = _sweep(tmp_path, "0.3,0.5,0.7,0.9", "1.6,1.9,2.2,2.5")
    members = len(grid_of(split(all_runs(store_uri(larger)))[1])) - 8
    assert members == 24
    per_member = (_store_bytes(larger) - _store_bytes(small_folder)) / members
    assert per_member <= STORE_BOUND, f"{per_member:.0f} bytes per member"


def test_grid_jobs_keep_two_small_files_and_refits_their_model(small_sweep):
    for run in small_sweep:
        names = {p.name for p in _folder(run).iterdir()}
        if _kind(run) == "refit":
            assert {*GRID_FILES, "model.keras"} <= names
            assert (_folder(run) / "model.keras").stat().st_size <= MODEL_BOUND
            with zipfile.ZipFile(_folder(run) / "model.keras") as archive:
                entries = archive.infolist()
            assert {e.filename for e in entries} == {
                "metadata.json",
                "config.json",
                "model.weights.h5",
            }
            assert {e.compress_type for e in entries} == {zipfile.ZIP_DEFLATED}
            continue
        assert names == set(GRID_FILES), names
        assert sum((_folder(run) / name).stat().st_size for name in names) <= MEMBER_BOUND
        weights = json.loads((_folder(run) / "weights.json").read_text())
        assert isinstance(weights, dict)  # every weight by name (alpha's kernel when it learns)
        if run.data.params["approach"] == "trainable":
            (kernel,) = weights.values()
            learned = [run.data.metrics[f"learned_alpha_{part}"] for part in ("real", "imag")]
            assert kernel == pytest.approx(learned)


def test_grid_jobs_curves_are_kept_at_half_octaves_and_refits_every_epoch(
    small_folder, small_sweep
):
    c = client(store_uri(small_folder))
    for run in small_sweep:
        steps = sorted(m.step for m in c.get_metric_history(run.info.run_id, "loss"))
        if _kind(run) == "refit":
            assert steps == list(range(EPOCHS))
        else:
            assert steps == [s for s in range(EPOCHS) if kept_step(s, EPOCHS - 1)]
            assert steps[0] == 0 and steps[-1] == EPOCHS - 1 and len(steps) == 11


def test_a_grid_job_loads_on_request_with_its_weights(small_folder, small_sweep, tmp_path):
    tracker = tracker_for(TrackingSpec(store_uri(small_folder), "alphalab", None))
    x = np.linspace(0.0, 6.0, 16, dtype="float32").reshape(-1, 1)
    for approach in ("trainable", "lambda"):
        run = next(
            r for r in small_sweep if r.data.params["approach"] == approach and _kind(r) == "run"
        )
        model = load_run_model(tracker, run.info.run_id, str(tmp_path / approach))
        by_path = {w.path: np.asarray(w) for w in model.weights}
        for name, value in json.loads((_folder(run) / "weights.json").read_text()).items():
            np.testing.assert_array_equal(by_path[name], np.asarray(value, dtype="float32"))
        real, imag = (float(run.data.params[f"alpha_{part}"]) for part in ("real", "imag"))
        if approach == "lambda":  # alpha is in the model's config: its output says which
            config = json.dumps(model.get_config())
            assert str(real) in config and str(imag) in config
        assert len(keras_flat(model.predict(x, verbose=0))) == 2  # the real and imaginary parts


def keras_flat(outputs) -> list:
    import keras

    return keras.tree.flatten(outputs)


def _stored_copy(path: Path, out: Path) -> Path:
    """The same archive with its entries stored, the way keras.saving writes a file."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as copy:
        for entry in source.infolist():
            copy.writestr(entry.filename, source.read(entry.filename))
    return out


def test_a_deflated_model_reloads_in_safe_mode_and_matches_it_stored(small_sweep, tmp_path):
    import keras

    import alphalab.layers  # noqa: F401 - registers alphalab's Keras objects for loading

    x = np.linspace(0.0, 6.0, 64, dtype="float32").reshape(-1, 1)
    refits = [r for r in small_sweep if _kind(r) == "refit"]
    assert {r.data.params["approach"] for r in refits} == {"trainable", "lambda"}
    for run in refits:
        approach = run.data.params["approach"]
        path = _folder(run) / "model.keras"
        model = keras.saving.load_model(path, safe_mode=True)
        stored = keras.saving.load_model(
            _stored_copy(path, tmp_path / f"{approach}.keras"), safe_mode=True
        )
        ours = keras.tree.flatten(model.predict(x, verbose=0))
        theirs = keras.tree.flatten(stored.predict(x, verbose=0))
        assert len(ours) == len(theirs) == 2  # the real and imaginary parts
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        ours = [np.asarray(v) for v in model.optimizer.variables]
        theirs = [np.asarray(v) for v in stored.optimizer.variables]
        slots = approach == "trainable"  # Adam's moments of alpha's kernel, or none
        assert len(ours) == len(theirs) >= (3 if slots else 1)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
        assert int(model.optimizer.iterations.numpy()) > 0  # the state after the fit
        names = {w.path: np.asarray(w) for w in model.weights}
        for name, value in json.loads((path.parent / "weights.json").read_text()).items():
            np.testing.assert_allclose(names[name], value)
