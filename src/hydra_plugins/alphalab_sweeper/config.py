from dataclasses import dataclass

from hydra._internal.core_plugins.basic_sweeper import BasicSweeperConf
from hydra.core.config_store import ConfigStore


@dataclass
class AlphalabSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.alphalab_sweeper.sweeper.AlphalabSweeper"


ConfigStore.instance().store(
    group="hydra/sweeper", name="alphalab", node=AlphalabSweeperConf, provider="alphalab"
)
