"""Bookkeeping that scales: what a population writes per member, made once per population and
filled in, is what writing each member alone would give."""

from __future__ import annotations

import pytest
import yaml

from alphalab.config.parse import run_spec
from alphalab.engine.record import config_yaml
from tests.conftest import compose


def test_config_yaml_filled_in_is_the_yaml_of_each_config():
    base = run_spec(compose(["approach=lambda", "task.folds=3"]))
    cases = [
        ("lambda", (0.5, 2.0), 0),
        ("trainable", (1e-7, 3), 7),
        ("tuned", (-0.25, 1.5e10), 12345),
        ("trainable", (1, 2), 0),
    ]
    for approach, alpha, seed in cases:
        for spec in base.with_alpha(approach, alpha).with_seed(seed).folds:
            text = config_yaml(spec)
            assert text == yaml.dump(spec.config, Dumper=yaml.SafeDumper, sort_keys=False)
            assert yaml.safe_load(text) == spec.config
    assert base.config["alpha"] != {"real": 1e-7, "imag": 3}  # deriving left the base alone


def test_a_run_file_written_over_the_template_holds_what_h5py_would_write(tmp_path):
    import io
    import zipfile

    import h5py
    import numpy as np

    from alphalab.engine.population.export import RunFiles

    spec = run_spec(compose(["approach=trainable", "model.head=gain"]))
    template = RunFiles((1,), True).template(spec, 100)
    assert template.places is not None  # Keras writes contiguous datasets: bytes can be placed
    rng = np.random.default_rng(0)
    values = [rng.normal(size=shape).astype(dtype) for _, dtype, shape in template.places]
    template.write(tmp_path / "placed.keras", spec.alpha, values)
    places, template.places = template.places, None
    try:
        template.write(tmp_path / "h5py.keras", spec.alpha, values)
    finally:
        template.places = places

    def datasets(path):
        with zipfile.ZipFile(path) as archive:
            content = archive.read("model.weights.h5")
        found = {}
        with h5py.File(io.BytesIO(content), "r") as h5:
            h5.visititems(
                lambda name, item: (
                    found.__setitem__(name, np.asarray(item))
                    if isinstance(item, h5py.Dataset)
                    else None
                )
            )
        return found

    placed, written = datasets(tmp_path / "placed.keras"), datasets(tmp_path / "h5py.keras")
    assert placed.keys() == written.keys() and len(placed) == len(values)
    for name in placed:
        np.testing.assert_array_equal(placed[name], written[name])
    assert sorted(float(v.ravel()[0]) for v in placed.values() if v.size) == sorted(
        float(v.ravel()[0]) for v in values if v.size
    )


@pytest.mark.slow
def test_a_large_populations_files_are_written_by_a_process_beside_the_store(tmp_path):
    """From FORK_AT runs a forked process writes the artifacts while the metrics go in: every
    run's files land whole."""
    import itertools
    import json

    from alphalab.engine.record import Job
    from alphalab.engine.runs import run_jobs
    from alphalab.tracking.files import FORK_AT
    from alphalab.tracking.parent import ParentRun
    from alphalab.tracking.store import tracker_for
    from tests.conftest import store_uri

    base = run_spec(compose(["+debug=fast", f"tracking.uri={store_uri(tmp_path)}"]))
    grid = [0.1 * k for k in range(1, 13)]
    jobs = [
        Job(base.with_alpha(approach, alpha))
        for approach in ("lambda", "trainable")
        for alpha in itertools.product(grid, grid)
    ]
    assert len(jobs) >= FORK_AT
    tracker = tracker_for(base.tracking)
    parent = ParentRun.open(tracker, "many", "sweep", {})
    results = run_jobs(jobs, parent_id=parent.run_id)
    parent.close("FINISHED")
    assert {r.status for r in results} == {"FINISHED"}
    for result in results[:: len(results) // 7]:
        folder = next(tmp_path.glob(f"**/{result.run_id}/artifacts"))
        # a grid job's two files (its model is built on request from them)
        assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "weights.json"]
        assert isinstance(json.loads((folder / "weights.json").read_text()), dict)
        assert "approach:" in (folder / "config.yaml").read_text()


def test_the_forked_writer_reports_which_runs_files_failed(tmp_path):
    from types import SimpleNamespace

    from alphalab.tracking.files import FORK_AT, write_files_beside

    children = [SimpleNamespace(files=k, status="RUNNING", error=None) for k in range(FORK_AT)]

    def write(child):
        if child.files % 100 == 7:
            return f"its artifacts could not be written: {child.files}"
        (tmp_path / str(child.files)).write_text("x")
        return None

    written = write_files_beside(children, write, lambda child: tmp_path)
    assert written.pid is not None  # a process of its own
    written.wait()
    failed = [c.files for c in children if c.status == "FAILED"]
    assert failed == [7, 107, 207]
    assert children[107].error.endswith("107")
    assert len(list(tmp_path.iterdir())) == FORK_AT - 3
