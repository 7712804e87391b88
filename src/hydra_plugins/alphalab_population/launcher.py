"""Hydra's side of the population launcher; the work is ``alphalab.entry.population``."""

from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class PopulationLauncher(Launcher):
    """Trains the jobs that differ only in approach and alpha as one Keras model; runs any
    other job as Hydra's basic launcher does."""

    def __init__(self, **settings) -> None:
        """``settings``: ``hydra.launcher``'s own (engine, max_members, ray, submitit), read
        from the config by ``alphalab.config.parse_engine`` when the jobs launch."""
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        """Keep what ``launch`` needs."""
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Run the batch; one JobReturn per job, in order. A multirun that is not an alphalab
        sweep (no sweep opened by alphalab's callback: another app's task function) runs
        exactly as Hydra's basic launcher runs it."""
        from alphalab.engine.context import SweepContext

        if SweepContext.from_env() is None:
            from hydra._internal.core_plugins.basic_launcher import BasicLauncher

            basic = BasicLauncher()
            basic.setup(
                hydra_context=self.hydra_context,
                task_function=self.task_function,
                config=self.config,
            )
            return basic.launch(job_overrides, initial_job_idx)
        from alphalab.entry.population import launch

        return launch(self, job_overrides, initial_job_idx)
