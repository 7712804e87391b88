"""The benchmark runs, and config-only commands never import tensorflow, keras or mlflow.

Speed targets are the benchmark's business (``python -m experiments.benchmark``), not a test's:
timings on a shared 2-core machine vary too much to assert on.
"""

import json

import pytest

from experiments.dev.measure import STARTUP_COMMANDS, imported_modules
from tests.conftest import cli


@pytest.mark.parametrize("label", sorted(STARTUP_COMMANDS))
def test_config_only_commands_import_no_heavy_library(label):
    assert imported_modules(STARTUP_COMMANDS[label]) == []


@pytest.mark.slow
def test_the_probe_does_see_heavy_imports(tmp_path):
    # the same probe on a command that trains must report all three
    args = [
        "+debug=fast",
        "train.epochs=1",
        f"tracking.uri=sqlite:///{tmp_path / 'm.db'}",
        f"hydra.run.dir={tmp_path / 'h'}",
    ]
    assert imported_modules(args) == ["keras", "mlflow", "tensorflow"]


@pytest.mark.slow
def test_benchmark_runs_on_a_tiny_setting(tmp_path):
    out = tmp_path / "bench.json"
    # joblib's workers and the Ray and submitit engines are the slowest parts and have their own
    # tests (test_sweep.py, test_engines.py)
    args = ["--tiny", "--no-parallel", "--no-engines", "--out", str(out)]
    result = cli("experiments.benchmark", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["setting"] == "tiny" and data["machine"]["cpus"] >= 1
    assert set(data["startup"]) == set(STARTUP_COMMANDS)
    sweeps = data["sweeps"]
    assert sweeps["jobs"] == 4
    assert sweeps["harness_median_s"] > 0 and sweeps["bare_median_s"] > 0
    assert sweeps["overhead_ratio"] == sweeps["harness_median_s"] / sweeps["bare_median_s"]
    speedup = sweeps["harness_median_s"] / sweeps["population_median_s"]
    assert sweeps["population_speedup"] == speedup
    assert sweeps["population_fit_median_s"] > 0 and sweeps["single_fit_median_s"] > 0
    assert "parallel_speedup" not in sweeps and "engines" not in data
    big = data["big_grid"]
    assert big["jobs"] == 8 and big["finished_children"] == [8]
    assert 0.2 < big["peak_gb"] < 24 and big["kb_per_member"] > big["db_kb_per_member"] > 0
    assert sweeps["floor_ratio"] == sweeps["population_median_s"] / sweeps["floor_median_s"]
    pruning = data["pruning"]
    assert pruning["whole"]["pruned"] == 0 and pruning["pruned"]["pruned"] > 0
    assert pruning["pruned"]["finished_children"] == pruning["jobs"] == 8
    assert "sweep.prune" in result.stdout and "its floor" in result.stdout
    assert 0 < data["logging"]["alphalab_share"] < data["logging"]["sync_share"]
    searches = data["searches"]
    for population in ("8", "1"):
        assert len(searches["bayesian"][population]["best_val_loss"]) == 1
    assert searches["search_speedup"] > 0 and searches["wide"]["sweep_jobs"] == 8
    assert "search speed-up" in result.stdout
    assert "harness / bare" in result.stdout and "population launcher" in result.stdout
