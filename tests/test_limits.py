"""What the store and the file system can take, checked before anything starts: MLflow's limits
on names and params (alphalab.config.limits) and every output folder (alphalab.config.folders),
each past its limit one line naming the key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from alphalab.config import ConfigError
from alphalab.config.limits import FALLBACK, RUN_NAME_CHARS, mlflow_limits
from tests.conftest import CONF_DIR, ROOT


def test_the_limits_are_mlflow_s_own():
    from mlflow.store.tracking.dbmodels.models import SqlRun
    from mlflow.utils import validation

    assert mlflow_limits() == {name: getattr(validation, name) for name in FALLBACK}
    assert SqlRun.name.type.length == RUN_NAME_CHARS


def test_reading_the_limits_does_not_import_mlflow():
    code = (
        "import sys; from alphalab.config.limits import mlflow_limits; "
        "print(mlflow_limits()['MAX_PARAM_VAL_LENGTH']); assert 'mlflow' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout) == mlflow_limits()["MAX_PARAM_VAL_LENGTH"]


def decided(argv: list[str]) -> str | None:
    """preflight's one line for ``argv``, or None when it accepts it."""
    from alphalab.entry.preflight import preflight

    try:
        preflight(CONF_DIR, "config", argv)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return str(exc)
    return None


def test_names_and_params_past_mlflow_s_limits_are_one_line():
    limits = mlflow_limits()
    name, value = limits["MAX_EXPERIMENT_NAME_LENGTH"], limits["MAX_PARAM_VAL_LENGTH"]
    assert decided([f"experiment_name={'e' * name}"]) is None
    assert decided([f"experiment_name={'e' * (name + 1)}"]) == (
        f"experiment_name: {name + 1} characters, over MLflow's limit of {name} for an "
        "experiment name"
    )
    sweep = ["+sweep=alpha", "+debug=fast"]
    assert decided([*sweep, f"sweep.name={'s' * RUN_NAME_CHARS}"]) is None
    line = decided([*sweep, f"sweep.name={'s' * (RUN_NAME_CHARS + 1)}"])
    assert line.startswith(f"sweep.name: 251 characters, over MLflow's limit of {RUN_NAME_CHARS}")
    line = decided(["+search=random", f"search.name={'s' * 300}"])
    assert line.startswith("search.name: 300 characters") and "a run name" in line
    search = ["+search=random"]  # the tuner's arguments: the user's own keys and values
    assert decided([*search, f"+search.tuner.units={'v' * value}"]) is None
    line = decided([*search, f"+search.tuner.units={'v' * (value + 1)}"])
    assert line == (
        f"search.tuner.units: {value + 1} characters, over MLflow's limit of {value} for a "
        "param value"
    )
    key = "k" * 241  # search.tuner.<241>: 254 characters, past the 250 of a param key
    line = decided([*search, f"+search.tuner.{key}=1"])
    assert line.startswith(f"search.tuner.{key}: a key of 254 characters, over MLflow's limit")


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "a_file").write_text("")
    cases = [
        (["hydra.run.dir=/proc/alphalab/run"], "hydra.run.dir", "/proc"),
        (["-m", "seed=0,1", "hydra.sweep.dir=/proc/alphalab"], "hydra.sweep.dir", "/proc"),
        ([f"hydra.run.dir={tmp_path}/a_file/run"], "hydra.run.dir", "a_file is not a folder"),
        (["tracking.artifact_location=file:///proc/alphalab"], "tracking.artifact_location", ""),
        (["+search=random", "search.directory=/proc/alphalab"], "search.directory", ""),
        ([f"hydra.run.dir={tmp_path}/{'n' * 300}"], "hydra.run.dir", "longer than 255 bytes"),
    ]
    for argv, key, words in cases:
        line = decided(argv)
        assert line is not None and line.startswith(f"{key}: cannot write the folder "), argv
        assert words in line, line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_without_permission_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    line = decided([f"hydra.run.dir={locked}/run"])
    assert line == (
        f"hydra.run.dir: cannot write the folder {locked}/run: no permission to write in {locked}"
    )


def test_checking_a_folder_creates_nothing(tmp_path):
    before = sorted(tmp_path.rglob("*"))
    argv = [
        f"hydra.run.dir={tmp_path}/runs/one",
        f"tracking.artifact_location={tmp_path}/artifacts",
        "hydra.sweep.dir=/proc/unused",  # a single run does not write a sweep folder
    ]
    assert decided(argv) is None
    assert decided(["tracking.artifact_location=s3://bucket/x"]) is None  # not a local folder
    assert sorted(tmp_path.rglob("*")) == before
