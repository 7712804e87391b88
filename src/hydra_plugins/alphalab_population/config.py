"""The launcher's schema in Hydra's ConfigStore: ``hydra/launcher: population``."""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class PopulationLauncherConf:
    """No settings of its own: every job's config says how it trains."""

    _target_: str = "hydra_plugins.alphalab_population.launcher.PopulationLauncher"


ConfigStore.instance().store(
    group="hydra/launcher", name="population", node=PopulationLauncherConf, provider="alphalab"
)
