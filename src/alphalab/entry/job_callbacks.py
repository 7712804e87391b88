"""Hydra's per-job callbacks for population members: ``on_job_start`` before a member trains and
``on_job_end`` with its JobReturn after, each with the job's own config as
``hydra.core.utils.run_job`` passes it for the basic launcher's jobs (HydraConfig set to it,
``hydra.runtime.output_dir`` its job folder, ``hydra.job.env_set`` applied around the start).

Members of one population train together, so every member's start comes before the fit and every
member's end after it, as jobs of a parallel launcher interleave. A job's exact config costs a
Hydra composition (about 0.1 s), so configs are composed only when a configured callback
overrides ``on_job_start`` or ``on_job_end``; alphalab's own callback overrides neither.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any

from omegaconf import DictConfig, open_dict, read_write

HOOKS = ("on_job_start", "on_job_end")


def _overrides_a_hook(callback: Any) -> bool:
    from hydra.experimental.callback import Callback

    return any(getattr(type(callback), hook, None) is not getattr(Callback, hook) for hook in HOOKS)


@contextmanager
def _as_hydra_config(config: DictConfig):
    """``HydraConfig`` set to ``config`` for the call, then put back."""
    from hydra.core.hydra_config import HydraConfig

    before = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(config)
    try:
        yield
    finally:
        HydraConfig.instance().cfg = before


class MemberCallbacks:
    """The launcher's configured callbacks, called for members (``jobs``: the launcher's
    ``Jobs``; ``folders``: their ``JobFolders``)."""

    def __init__(self, launcher, jobs, folders) -> None:
        self.callbacks = launcher.hydra_context.callbacks
        self.task_function = launcher.task_function
        self.jobs, self.folders = jobs, folders
        self.active = any(_overrides_a_hook(c) for c in self.callbacks.callbacks)

    def _config(self, index: int) -> DictConfig:
        config = self.jobs.compose(index)
        folder = self.folders.folder(index)
        if folder is not None and config.hydra.runtime.get("output_dir") != folder:
            with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
                config.hydra.runtime.output_dir = folder
        return config

    def start(self, indices: list[int]) -> None:
        """``on_job_start`` for each of jobs ``indices``, before they train."""
        if not self.active:
            return
        from hydra.core.utils import env_override

        for index in indices:
            config = self._config(index)
            with _as_hydra_config(config), env_override(config.hydra.job.env_set):
                self.callbacks.on_job_start(config=config, task_function=self.task_function)

    def end(self, index: int, job_return) -> None:
        """``on_job_end`` for job ``index``, its JobReturn given the job's configs as
        ``run_job`` fills them (``cfg`` without Hydra's section, ``hydra_cfg`` only that)."""
        if not self.active:
            return
        from omegaconf import OmegaConf

        config = self._config(index)
        task = copy.deepcopy(config)
        with read_write(task), open_dict(task):
            del task["hydra"]
        job_return.cfg = task
        job_return.hydra_cfg = OmegaConf.masked_copy(config, "hydra")
        with _as_hydra_config(config):
            self.callbacks.on_job_end(config=config, job_return=job_return)
