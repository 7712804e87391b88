"""A user's Hydra callback (``hydra.callbacks``) that writes down every job it is told about."""

from __future__ import annotations

import json
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback


class JobsSeen(Callback):
    """Appends one JSON line per ``on_job_start`` / ``on_job_end`` to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, **line: Any) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def on_job_start(self, config, *, task_function, **kwargs: Any) -> None:
        self._write(
            event="start",
            num=config.hydra.job.num,
            alpha=[config.alpha.real, config.alpha.imag],
            output_dir=HydraConfig.get().runtime.output_dir,
            callable=callable(task_function),
        )

    def on_job_end(self, config, job_return, **kwargs: Any) -> None:
        self._write(
            event="end",
            num=config.hydra.job.num,
            status=job_return.status.name,
            value=float(job_return.return_value),
            overrides=list(job_return.overrides),
            cfg_alpha=[job_return.cfg.alpha.real, job_return.cfg.alpha.imag],
            hydra_num=job_return.hydra_cfg.hydra.job.num,
            output_dir=HydraConfig.get().runtime.output_dir,
        )
