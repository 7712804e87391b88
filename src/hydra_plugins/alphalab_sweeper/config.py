"""The sweeper's schema in Hydra's ConfigStore: ``hydra/sweeper: alphalab``."""

from dataclasses import dataclass

from hydra._internal.core_plugins.basic_sweeper import BasicSweeperConf
from hydra.core.config_store import ConfigStore


@dataclass
class AlphalabSweeperConf(BasicSweeperConf):
    """The basic sweeper's settings, with alphalab's sweeper as the target."""

    _target_: str = "hydra_plugins.alphalab_sweeper.sweeper.AlphalabSweeper"


ConfigStore.instance().store(
    group="hydra/sweeper", name="alphalab", node=AlphalabSweeperConf, provider="alphalab"
)
