"""An installed alphalab (the built wheel, not the checkout) finds its configs and checks input.

The wheel is built with uv and installed into a fresh virtual environment that holds exactly the
locked dependencies (uv sync of the lock file into another folder, from uv's cache: no network),
then run from an empty folder, where no ``conf/`` and no checkout can help it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv is not on PATH (README's test command runs under uv)"
    return found


def run(*cmd: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The python of a fresh environment with the locked dependencies and the built wheel."""
    folder = tmp_path_factory.mktemp("wheel")
    built = run(uv(), "build", "--wheel", "--offline", "--out-dir", str(folder / "dist"), cwd=ROOT)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (folder / "dist").glob("alphalab-*.whl")
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(folder / "venv")}
    env.pop("VIRTUAL_ENV", None)
    synced = run(
        uv(),
        "sync",
        "--frozen",
        "--offline",
        "--no-install-project",
        "--no-dev",
        "--no-compile-bytecode",
        "--quiet",
        cwd=ROOT,
        env=env,
    )
    assert synced.returncode == 0, synced.stderr[-2000:]
    python = folder / "venv" / "bin" / "python"
    added = run(
        uv(),
        "pip",
        "install",
        "--offline",
        "--no-deps",
        "--python",
        str(python),
        str(wheel),
        cwd=folder,
    )
    assert added.returncode == 0, added.stderr[-2000:]
    return python


def in_empty_folder(python: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    empty = tmp_path / "empty"
    empty.mkdir()
    # Python writes its own bytecode here: the one-time compile of a whole fresh environment
    # (experiments._bytecode) is not what this test is about.
    drop = ("PYTHONPATH", "ALPHALAB_ROOT", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return run(str(python), "-m", "experiments.run", *args, cwd=empty, env=env)


def test_the_installed_wheel_composes_its_shipped_config(installed, tmp_path):
    result = in_empty_folder(installed, tmp_path, "--cfg", "job")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "approach:\n  name: trainable" in result.stdout
    assert "experiment_name: alphalab" in result.stdout
    located = run(str(installed), "-c", "import alphalab; print(alphalab.__file__)", cwd=tmp_path)
    assert "site-packages" in located.stdout and str(ROOT) not in located.stdout


def test_the_installed_wheel_rejects_a_bad_value_in_one_line(installed, tmp_path):
    result = in_empty_folder(installed, tmp_path, "alpha.real=abc")
    assert result.returncode == 2
    assert result.stderr.strip() == "alphalab: error: alpha.real: expected a number, got 'abc'"
    assert list((tmp_path / "empty").iterdir()) == []  # nothing written, no store created
