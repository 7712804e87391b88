"""What ``hydra/launcher=population`` does with a multirun's jobs: their configs become specs
(one Hydra composition per distinct set of group choices, plain values set on copies: composing
every job costs a tenth of a second each), jobs that differ only in approach and alpha train as
one population, and any other job runs as Hydra's basic launcher runs it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from alphalab.config import ConfigError
from alphalab.config.names import Engine
from alphalab.config.parse import resolved, run_spec
from alphalab.config.parse_engine import engine_spec
from alphalab.config.spec import Alpha, EngineSpec, RunSpec
from alphalab.engine.context import SweepContext
from alphalab.entry.job_callbacks import MemberCallbacks
from alphalab.entry.job_folders import JobFolders

PLAIN = ("alpha.real", "alpha.imag", "seed")  # set on a copy of the composed config


class Jobs:
    """The multirun's jobs as specs, composed as cheaply as the overrides allow."""

    def __init__(self, launcher, job_overrides):
        from hydra.core.override_parser.overrides_parser import OverridesParser

        self.launcher, self.overrides = launcher, [list(o) for o in job_overrides]
        self.parser = OverridesParser.create()
        self.values: dict[str, Any] = {}
        self.specs: list[RunSpec | None] = [None] * len(self.overrides)
        self.configs: dict[int, DictConfig] = {}
        self.errors: dict[int, tuple[str, dict]] = {}
        groups: dict[tuple, list[int]] = {}
        for index, overrides in enumerate(self.overrides):
            rest = tuple(o for o in overrides if o.split("=")[0] not in PLAIN)
            groups.setdefault(rest, []).append(index)
        self.first_of = [0] * len(self.overrides)  # each job's group, by its first job
        self.groups = {indices[0]: indices for indices in groups.values()}
        for first, indices in self.groups.items():
            for index in indices:
                self.first_of[index] = first
            self._compose_group(indices)

    def group_of(self, first: int) -> list[int]:
        """The jobs whose overrides differ from job ``first``'s only in plain values."""
        return self.groups[first]

    def compose(self, index: int) -> DictConfig:
        """Job ``index``'s config exactly as Hydra composes it (composed once)."""
        if index not in self.configs:
            loader = self.launcher.hydra_context.config_loader
            config = loader.load_sweep_config(self.launcher.config, self.overrides[index])
            with open_dict(config):
                config.hydra.job.id = config.hydra.job.num = index
            self.configs[index] = config
        return self.configs[index]

    def _spec(self, index: int, config: DictConfig) -> None:
        try:
            self.specs[index] = run_spec(config)
        except ConfigError as exc:
            self.errors[index] = (str(exc), resolved(config))

    def plain(self, index: int) -> dict[str, Any]:
        """Job ``index``'s plain values (``PLAIN``) as its overrides set them."""
        found = {}
        for override in self.overrides[index]:
            key = override.split("=")[0]
            if key in PLAIN:
                if override not in self.values:
                    self.values[override] = self.parser.parse_override(override).value()
                found[key] = self.values[override]
        return found

    def _derive(self, base: RunSpec, index: int) -> RunSpec:
        plain = self.plain(index)
        alpha = Alpha(
            plain.get("alpha.real", base.alpha.real), plain.get("alpha.imag", base.alpha.imag)
        )
        spec = base.with_alpha(base.approach, alpha)
        return spec.with_seed(plain["seed"]) if "seed" in plain else spec

    def _compose_group(self, indices: list[int]) -> None:
        """Compose the first job; derive the others, unless its config interpolates and a
        second composition shows that some value depends on the plain ones (then compose
        each)."""
        first = indices[0]
        self._spec(first, self.compose(first))
        base = self.specs[first]
        if base is None or len(indices) == 1:
            for index in indices[1:]:
                self._spec(index, self.compose(index))
            return
        if not _interpolates(self.configs[first]):  # no value can depend on the plain ones
            for index in indices[1:]:
                self.specs[index] = self._derive(base, index)
            return
        probe = indices[1]
        self._spec(probe, self.compose(probe))
        derived = self._derive(base, probe)
        if self.specs[probe] != derived or self.specs[probe].config != derived.config:
            for index in indices[2:]:
                self._spec(index, self.compose(index))
            return
        for index in indices[2:]:
            self.specs[index] = self._derive(base, index)


def _interpolates(config: DictConfig) -> bool:
    """Whether any value outside Hydra's own section is an interpolation."""
    from omegaconf import DictConfig as Dict
    from omegaconf import ListConfig, OmegaConf

    def walk(node, skip: str | None = None) -> bool:
        keys = node.keys() if isinstance(node, Dict) else range(len(node))
        for key in keys:
            if key == skip:
                continue
            if OmegaConf.is_interpolation(node, key):
                return True
            child = node._get_node(key)
            if isinstance(child, (Dict, ListConfig)) and walk(child):
                return True
        return False

    return walk(config, skip="hydra")


def _job_return(jobs: Jobs, folders: JobFolders, index: int, loss: float):
    """Job ``index``'s JobReturn as ``run_job`` fills it, but for its configs (``cfg`` and
    ``hydra_cfg`` stay None unless a per-job callback needs them: they are in its folder's
    ``.hydra``)."""
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn()
    ret.overrides, ret.status, ret.return_value = jobs.overrides[index], JobStatus.COMPLETED, loss
    ret.working_dir, ret.task_name = folders.working_dir(index), folders.task_name(index)
    return ret


def _train(engine: EngineSpec, work: list, context: SweepContext | None, sweep_dir: str, ray):
    """Each shard's results: here, one shard after another as each ends (with live progress),
    or all at once from Ray's (``ray``: the instance being started) or submitit's workers."""
    from alphalab.engine.record import Job
    from alphalab.engine.remote import EngineFailed, run_remote, train_here
    from alphalab.engine.sweep import stop

    shards = [[Job(fold) for _, fold in shard] for shard in work]
    if engine.engine == Engine.LOCAL:
        yield from train_here(shards, context)
        return
    try:
        yield from run_remote(engine, shards, sweep_dir, ray)
    except EngineFailed as exc:
        stop(str(exc))


def launch(launcher, job_overrides, initial_job_idx: int) -> list:
    """Run every job: populations where jobs allow it, the rest one by one."""
    from hydra.core.utils import run_job, setup_globals

    from alphalab.engine.population.run import population_key
    from alphalab.engine.remote import shards
    from alphalab.engine.runs import job_value
    from alphalab.engine.sweep import report_population, report_rejected

    setup_globals()
    engine = engine_spec(launcher.config)
    ray = None
    if engine.engine == Engine.RAY:  # Ray starts while the jobs are composed
        from alphalab.engine.remote import RayStart

        ray = RayStart(engine)
    sweep_dir = str(launcher.config.hydra.sweep.dir)
    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    context = SweepContext.from_env()
    jobs = Jobs(launcher, job_overrides)
    folders = JobFolders(jobs)
    callbacks = MemberCallbacks(launcher, jobs, folders)
    returns: list[Any] = [None] * len(jobs.overrides)
    for index, (error, config) in jobs.errors.items():
        folders.prepare([index])
        callbacks.start([index])
        report_rejected(context, config, error)
        folders.log(index, f"alphalab: config rejected: {error}")
        returns[index] = _job_return(jobs, folders, index, math.inf)
        callbacks.end(index, returns[index])
    populations: dict[str, list[int]] = {}
    for index, spec in enumerate(jobs.specs):
        if spec is not None:
            populations.setdefault(population_key(spec), []).append(index)
    work: list[list[tuple[int, Any]]] = []  # shards of (job, one of its folds)
    for indices in populations.values():
        if len(indices) == 1 and engine.engine == Engine.LOCAL:  # as the basic launcher runs it
            (index,) = indices
            returns[index] = run_job(
                hydra_context=launcher.hydra_context,
                task_function=launcher.task_function,
                config=jobs.compose(index),
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
            continue
        folders.prepare(indices)
        callbacks.start(indices)
        runs = [(i, fold) for i in indices for fold in jobs.specs[i].folds]
        work.extend(shards(runs, engine.max_members))
    mine: dict[int, list] = {}
    for shard, results in zip(work, _train(engine, work, context, sweep_dir, ray), strict=True):
        report_population(context, results)
        for (index, _), result in zip(shard, results, strict=True):
            mine.setdefault(index, []).append(result)
    for index, results in mine.items():
        folders.log(index, "\n".join(result.describe() for result in results))
        returns[index] = _job_return(jobs, folders, index, job_value(results))
        callbacks.end(index, returns[index])
    folders.close()
    return returns
