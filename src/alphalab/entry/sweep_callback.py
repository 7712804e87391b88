"""The Hydra callback that makes any multirun one MLflow sweep (listed in ``conf/config.yaml``).

It reads what only Hydra knows (the jobs, the launcher, the sweep folder), builds the
``SweepSpec`` and hands the rest to ``alphalab.engine.sweep.SweepSession``.
"""

from __future__ import annotations

import atexit
import os
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from alphalab.config import ConfigError, one_line
from alphalab.config.names import Status
from alphalab.config.parse import sweep_spec
from alphalab.config.parse_engine import engine_spec
from alphalab.config.spec import flatten
from alphalab.engine.context import ENV
from alphalab.engine.provenance import COMMAND_ENV, command_line, provenance
from alphalab.engine.sweep import SweepSession
from alphalab.entry.preflight import fail
from alphalab.entry.recorded import recorded_spec
from alphalab.tracking.precheck import redact
from alphalab.tracking.store import resolve_uri


def sweep_overrides(config: DictConfig) -> list[list[str]]:
    """The override list of every job, exactly as Hydra's basic sweeper will expand them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()]
    arguments += list(config.hydra.overrides.task)
    parsed = OverridesParser.create().parse_overrides(arguments)
    return BasicSweeper.split_arguments(parsed, None)[0]


def swept_keys(jobs: list[list[str]]) -> dict[str, list[str]]:
    """Keys whose value differs between jobs, with their values in order of first appearance."""
    values: dict[str, list[str]] = {}
    for job in jobs:
        for override in job:
            key, _, value = override.partition("=")
            seen = values.setdefault(key.lstrip("+~"), [])
            if value not in seen:
                seen.append(value)
    return {key: vals for key, vals in values.items() if len(vals) > 1}


def sweep_kind(config: DictConfig) -> str:
    """What the sweep is, for its default name: ``alpha`` for +sweep=alpha, ``sunspots`` for
    +sunspots=sweep, else ``sweep``."""
    chosen = config.hydra.runtime.choices.get("sweep")
    if chosen:
        return chosen
    added = [o.split("=")[0][1:] for o in config.hydra.overrides.task if o.startswith("+")]
    return next((group for group in added if "." not in group), "sweep")


def parent_params(config: DictConfig, jobs: list[list[str]]) -> dict[str, Any]:
    """The parent run's params: the base config (``base.*``), the swept values, the job count."""
    plain = OmegaConf.to_container(config, resolve=False)
    plain.pop("hydra", None)
    params = {f"base.{key}": value for key, value in flatten(plain).items()}
    for key, values in swept_keys(jobs).items():
        params[f"swept.{key}"] = ",".join(values)
    params["jobs"] = len(jobs)
    return params


class SweepCallback(Callback):
    """Acts only in MULTIRUN mode: one parent run per multirun, a summary at its end."""

    def __init__(self) -> None:
        self.session: SweepSession | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Open the parent run before the first job."""
        try:
            spec = sweep_spec(config)
            if config.hydra.runtime.choices.get("hydra/launcher") == "population":
                engine_spec(config)  # checked before the parent run opens
        except ConfigError as exc:
            fail(str(exc))
        jobs = sweep_overrides(config)
        choices = config.hydra.runtime.choices
        name = spec.name or f"{sweep_kind(config)}-{datetime.now():%Y%m%d-%H%M%S}"
        configured = spec.tracking.uri  # unset: jobs use the store this machine resolves
        uri = resolve_uri(configured)  # as this machine resolves it, for every worker
        spec = replace(spec, tracking=replace(spec.tracking, uri=uri))
        folds = (
            1
            if OmegaConf.select(config, "task.fold") is not None
            else (OmegaConf.select(config, "task.folds") or 1)
        )  # every job trains once per fold
        self.session = SweepSession(spec, name, len(jobs) * int(folds))
        # Hydra turns an exception raised in a callback into a warning and runs the jobs without
        # a parent: a sweep that cannot open or close its parent run must stop, with one line.
        try:
            self.session.start(
                {**parent_params(config, jobs), **provenance()},
                launcher=choices.get("hydra/launcher"),
                workers=int(OmegaConf.select(config, "hydra.launcher.n_jobs") or 1),
                state_dir=str(Path(config.hydra.sweep.dir) / ".alphalab"),
            )
        except Exception as exc:
            if self.session.parent is not None:
                self.session.parent.close(Status.FAILED, one_line(exc))
            fail(f"sweep '{name}': cannot open its parent run in {redact(uri)}: {one_line(exc)}", 1)
        atexit.register(self.session.interrupted)
        hand_to_jobs(config, None if configured else uri)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Summarise the children onto the parent run and close it."""
        if self.session is not None:
            tracker = self.session.parent.tracker
            try:
                self.session.finish(lambda run_id: recorded_spec(tracker, run_id))
            except Exception as exc:  # finish() closed the parent FAILED
                fail(f"sweep '{self.session.name}': its summary failed: {one_line(exc)}", 1)


def hydra_quoted(value: str) -> str:
    """``value`` as a quoted string of Hydra's override grammar (it reads back unchanged)."""
    value = re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, value)
    return "'" + value.replace("'", "\\'").replace("${", "\\${") + "'"


def hand_to_jobs(config: DictConfig, uri: str | None) -> None:
    """Hand the sweep to its jobs wherever they run: as ``hydra.job.env_set`` overrides, which
    every launcher applies in the job's own process (a Ray cluster's workers or SLURM's nodes do
    not inherit this process's environment); jobs recompose from ``hydra.overrides.hydra``."""
    env = {ENV: os.environ[ENV], COMMAND_ENV: command_line()}
    if uri is not None:  # tracking.uri unset: the jobs use the store this machine resolved
        env["MLFLOW_TRACKING_URI"] = uri
    with open_dict(config):
        for key, value in env.items():
            config.hydra.overrides.hydra.append(f"++hydra.job.env_set.{key}={hydra_quoted(value)}")
