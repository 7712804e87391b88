"""The launcher's schema in Hydra's ConfigStore: ``hydra/launcher: population``."""

from dataclasses import dataclass, field
from typing import Any, Optional  # OmegaConf reads Optional[X], not X | None

from hydra.core.config_store import ConfigStore


@dataclass
class RayConf:
    """``hydra.launcher.ray``: where the Ray tasks run."""

    # None: a local Ray instance, started and stopped by the launcher
    address: Optional[str] = None  # noqa: UP045
    init: dict[str, Any] = field(default_factory=dict)  # ray.init keywords (num_cpus, _temp_dir)
    task: dict[str, Any] = field(default_factory=dict)  # each task's options (num_cpus: 1)


@dataclass
class PopulationLauncherConf:
    """Every job's config says how it trains; these say where its populations train."""

    _target_: str = "hydra_plugins.alphalab_population.launcher.PopulationLauncher"
    engine: str = "local"  # local, ray, submitit_local or submitit_slurm
    # at most this many runs per Ray task or submitit job (None: a population is one)
    max_members: Optional[int] = None  # noqa: UP045
    ray: RayConf = field(default_factory=RayConf)
    # submitit's executor.update_parameters(...), e.g. timeout_min, slurm_partition, cpus_per_task
    submitit: dict[str, Any] = field(default_factory=dict)


ConfigStore.instance().store(
    group="hydra/launcher", name="population", node=PopulationLauncherConf, provider="alphalab"
)
