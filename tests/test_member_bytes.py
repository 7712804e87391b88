"""What a population member costs in the store's artifacts (issue 18): after a real small sweep,
each child's three files together stay under a bound measured on the default architecture
(config.yaml ~0.9 KB, weights.json under 60 B, model.keras ~1.9 KB deflated, was ~16.8 KB
stored), and the smaller model.keras still reloads with ``safe_mode=True`` and predicts and
holds its optimizer state exactly as the same file stored the way Keras writes it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from tests.conftest import grid_of, run_experiment, runs_in, split

pytestmark = pytest.mark.slow

FILES = ("config.yaml", "weights.json", "model.keras")
MODEL_BOUND = 3_000  # bytes; measured <= 1,953 (16,803 with stored entries)
MEMBER_BOUND = 4_500  # bytes of the three files; measured <= 2,921 (17,790 before)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bytes")
    args = ["+sweep=alpha", "+debug=fast", "alpha.real=0.4,0.7", "alpha.imag=1.8,2.3"]
    result = run_experiment(folder, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    _, children = split(runs_in(folder))
    assert len(grid_of(children)) == 8 and len(children) == 8 + 2  # and each arm's refit
    return children


def _folder(run) -> Path:
    return Path(urlparse(run.info.artifact_uri).path)


def test_every_members_artifacts_are_under_the_bound(small_sweep):
    for run in small_sweep:
        sizes = {name: (_folder(run) / name).stat().st_size for name in FILES}
        assert sizes["model.keras"] <= MODEL_BOUND, sizes
        assert sum(sizes.values()) <= MEMBER_BOUND, sizes
        with zipfile.ZipFile(_folder(run) / "model.keras") as archive:
            entries = archive.infolist()
        assert {e.filename for e in entries} == {"metadata.json", "config.json", "model.weights.h5"}
        assert {e.compress_type for e in entries} == {zipfile.ZIP_DEFLATED}
        weights = json.loads((_folder(run) / "weights.json").read_text())
        assert isinstance(weights, dict)  # every weight by name (alpha's kernel when it learns)
        if run.data.params["approach"] == "trainable":
            (kernel,) = weights.values()
            learned = [run.data.metrics[f"learned_alpha_{part}"] for part in ("real", "imag")]
            assert kernel == pytest.approx(learned)


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
    for approach in ("trainable", "lambda"):
        run = next(r for r in small_sweep if r.data.params["approach"] == approach)
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
