"""Hydra's own launcher contract, written by Hydra's authors and shipped in hydra-core
(``hydra.test_utils.launcher_common_tests``), run against ``hydra/launcher=population``: any
task function, not only alphalab's, runs through it exactly as through the basic launcher."""

from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite
from pytest import mark


@mark.parametrize("launcher_name, overrides", [("population", [])])
class TestPopulationLauncher(LauncherTestSuite):
    """Hydra's launcher tests: job returns, working dirs, overrides, sweeps of 0, 1, 2 jobs."""


@mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({"defaults": [{"override hydra/launcher": "population"}]}, ["-m"])],
)
class TestPopulationLauncherIntegration(IntegrationTestSuite):
    """Hydra's integration tests: a real app in a subprocess, its output and job folders."""
