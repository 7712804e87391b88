"""Hydra's own launcher contract, written by Hydra's authors and shipped in hydra-core
(``hydra.test_utils.launcher_common_tests``), run against ``hydra/launcher=population``: any
task function, not only alphalab's, runs through it exactly as through the basic launcher."""

import pytest
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite
from hydra.version import VersionBase, __compat_version__
from pytest import mark


@pytest.fixture(autouse=True)
def hydras_own_version_base():
    """Hydra's suites run at Hydra's compatibility defaults (a job changes into its folder);
    the version base is one per process, and alphalab's own tests compose at 1.3's."""
    versions = VersionBase.instance()
    before = versions.getbase()
    versions.setbase(__compat_version__)
    yield
    versions.version_base = before


@mark.parametrize("launcher_name, overrides", [("population", [])])
class TestPopulationLauncher(LauncherTestSuite):
    """Hydra's launcher tests: job returns, working dirs, overrides, sweeps of 0, 1, 2 jobs."""


@mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({"defaults": [{"override hydra/launcher": "population"}]}, ["-m"])],
)
class TestPopulationLauncherIntegration(IntegrationTestSuite):
    """Hydra's integration tests: a real app in a subprocess, its output and job folders."""
