"""The Hydra task function of ``python -m experiments.run``: the composed config becomes specs,
the specs go to the engine (one run, one job of a sweep, or a search)."""

from __future__ import annotations

import math

from omegaconf import DictConfig

from alphalab.config import ConfigError
from alphalab.config.names import Status
from alphalab.config.parse import resolved, run_spec
from alphalab.config.parse_search import search_spec
from alphalab.engine.context import SweepContext
from alphalab.entry.preflight import EXIT_RUN_FAILED, fail


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def main(cfg: DictConfig) -> float:
    """Run what ``cfg`` says; return the validation loss a sweeper would minimise."""
    context = SweepContext.from_env() if _in_multirun() else None
    try:
        spec = run_spec(cfg)
        if cfg.get("search") is not None:
            from alphalab.engine.search import SearchFailed, run_search

            try:
                return run_search(spec, search_spec(cfg))
            except SearchFailed as exc:
                fail(str(exc), EXIT_RUN_FAILED)
        from alphalab.engine.record import Job
        from alphalab.engine.runs import job_value, run_jobs

        results = run_jobs([Job(fold) for fold in spec.folds], context)  # one run per fold
    except ConfigError as exc:
        if context is None:
            fail(str(exc))
        from alphalab.engine.sweep import report_rejected

        report_rejected(context, resolved(cfg), str(exc))
        return math.inf
    if context is not None:
        from alphalab.engine.sweep import report_members

        report_members(context, results)  # a job alone: one line each, as a population's
    else:
        for result in results:
            print(result.describe(), flush=True)
        failed = [r for r in results if r.status != Status.FINISHED]
        if failed:
            first = failed[0]
            fail(f"run '{first.name}' {first.status}: {first.error}", EXIT_RUN_FAILED)
    return job_value(results)
