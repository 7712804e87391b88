"""A Hydra multirun inside this process, exactly as ``python -m experiments.run`` runs one.

Hydra has no public call that runs a multirun from Python (``hydra.compose`` composes only: no
sweeper, launcher or callbacks). Its own test utilities
(``hydra.test_utils.test_utils.SweepTaskFunction``) drive ``hydra._internal.hydra.Hydra`` as
below; that private use lives here alone, and ``tests/test_api.py`` says in one line when it
moves.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from alphalab.config.paths import conf_dir
from alphalab.config.reader import register_resolvers

JOB_NAME = "run"  # what Hydra calls the jobs of ``python -m experiments.run``


def multirun(overrides: list[str], task_function: Callable[[Any], Any]) -> None:
    """Compose ``conf/config.yaml`` with ``overrides`` in MULTIRUN mode and run it: the sweeper,
    the launcher and the callbacks as on the command line. Whatever it changes in the process
    (Hydra's singletons, the environment its jobs set) is put back afterwards."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    register_resolvers()
    environment = dict(os.environ)
    GlobalHydra.instance().clear()
    try:
        hydra = Hydra.create_main_hydra2(JOB_NAME, create_config_search_path(str(conf_dir())))
        hydra.multirun(
            config_name="config",
            task_function=task_function,
            overrides=overrides,
            with_log_configuration=True,
        )
    finally:
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None  # a later run in this process is not a multirun's job
        os.environ.clear()
        os.environ.update(environment)
