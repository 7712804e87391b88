"""Populations off this process: each shard of a population (at most ``max_members`` runs) is one
Ray task or one submitit job (a SLURM job, an array task, or a local process), which pays its
imports once, trains its shard as one Keras graph and records it exactly as the local engine does.

Ray and submitit are the engines: this module only hands them shards and takes back results. A
shard's worker writes its runs to the sweep's store itself (a tracking server, PostgreSQL, or a
SQLite file the worker can reach); the launching process reads them back for the summary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from alphalab.config.names import Engine
from alphalab.config.spec import EngineSpec
from alphalab.engine.context import ENV, SweepContext
from alphalab.engine.provenance import COMMAND_ENV
from alphalab.engine.record import Job
from alphalab.tracking.kept import adopt, kept_runs
from alphalab.tracking.store import resolve_uri

# What a worker's process needs of the launching one's environment.
HANDED = (ENV, COMMAND_ENV, "MLFLOW_TRACKING_URI")


class EngineFailed(RuntimeError):
    """A shard's worker died or its job did not finish: the sweep stops, to be resumed."""


def shards(runs: Sequence, max_members: int | None) -> list[list]:
    """``runs`` cut into shards of at most ``max_members``, in order."""
    size = max_members or len(runs) or 1
    return [list(runs[start : start + size]) for start in range(0, len(runs), size)]


def portable(job: Job) -> Job:
    """``job`` with its store as this machine resolves it (a relative SQLite path, or none set,
    means this process's folder and project, not the worker's)."""
    tracking = job.spec.tracking
    spec = replace(job.spec, tracking=replace(tracking, uri=resolve_uri(tracking.uri)))
    return replace(job, spec=spec)


def handed_env(threads: int | None) -> dict[str, str]:
    """The environment a shard's worker takes from this process."""
    env = {key: os.environ[key] for key in HANDED if key in os.environ}
    if threads:  # the worker's share of a node's cores, unless the user set TensorFlow's own
        for key in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            env[key] = os.environ.get(key, str(threads))
    return env


def train_here(work: list[list[Job]], context: SweepContext | None) -> Iterator[list]:
    """Train and record the shards of ``work`` in this process, one after another, with live
    progress; each shard's results as it ends."""
    from alphalab.engine.progress import SweepProgress
    from alphalab.engine.runs import run_jobs

    progress = SweepProgress(context.total, context.done_at_start) if context else None
    try:
        for shard in work:
            yield run_jobs(shard, context, progress=progress)
    finally:
        if progress is not None:
            progress.close()


def run_shard(jobs: list[Job], env: dict[str, str]) -> tuple[list, dict]:
    """In the worker: train and record one shard (a population) of the sweep; its results, and
    its runs as the sweep's summary reads them (so that it need not read them back)."""
    os.environ.update(env)
    context = SweepContext.from_env()
    (results,) = train_here([jobs], context)
    kept = kept_runs(context.parent_id) if context else {}
    return results, {r.run_id: kept[r.run_id] for r in results if r.run_id in kept}


def run_remote(
    spec: EngineSpec, work: list[list[Job]], sweep_dir: str, ray: RayStart | None = None
) -> list[list]:
    """Train every shard of ``work`` on ``spec.engine`` (Ray: the instance ``ray`` joined or
    started); each shard's results, in order (and its runs kept for the summary, as if written
    here). Raises EngineFailed, in one line, when a worker died or a job did not finish."""
    work = [[portable(job) for job in shard] for shard in work]
    if spec.engine == Engine.RAY:
        returned = _on_ray(ray or RayStart(spec), work)
    else:
        returned = _on_submitit(spec, work, sweep_dir)
    context = SweepContext.from_env()
    for _, kept in returned:
        if context is not None:
            adopt(context.parent_id, kept)
    return [results for results, _ in returned]


def _warm() -> None:
    """In a Ray worker, before its first shard: pay the imports."""
    import alphalab.engine.runs  # noqa: F401 - imports tensorflow, keras and mlflow


class _NoSigtermWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


class RayStart:
    """A Ray instance joined (``spec.ray_address``) or started locally in the background, its
    workers importing what a shard needs, while the launcher composes and prepares its jobs.

    The thread that starts a local instance lives until ``stop``: Ray's processes are tied to
    the thread that started them (they die with it)."""

    def __init__(self, spec: EngineSpec) -> None:
        self.spec, self.started, self.error = spec, False, None
        self.options = {"num_cpus": 1, **spec.ray_task, "max_retries": 0}  # a death is reported
        self._up, self._done = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._start, daemon=True, name="ray-start")
        self._thread.start()

    def _start(self) -> None:
        # Started under `uv run`, Ray would package this folder and build a fresh environment
        # for every worker (about a minute here); a local instance's workers use this one.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        try:
            import ray

            # Off the main thread Ray warns that it sets no SIGTERM handler: this process stops
            # the instance itself (and its processes die with this thread).
            logging.getLogger("ray._private.worker").addFilter(_NoSigtermWarning())
            if not ray.is_initialized():
                options = {"address": self.spec.ray_address} if self.spec.ray_address else {}
                ray.init(**options, **self.spec.ray_init, log_to_driver=True)
                self.started = True
            cpus = ray.cluster_resources().get("CPU", 1)
            slots = max(1, min(int(cpus // max(self.options["num_cpus"], 1e-9)), 16))
            warm = ray.remote(_warm).options(num_cpus=self.options["num_cpus"])
            self.warming = [warm.remote() for _ in range(slots)]
        except BaseException as exc:  # noqa: BLE001 - raised in the launcher's thread
            self.error = exc
        finally:
            self._up.set()
        self._done.wait()

    def ready(self):
        """The ``ray`` module once the instance is up; what starting it raised, raised here."""
        self._up.wait()
        if self.error is not None:
            raise self.error
        import ray

        return ray

    def stop(self) -> None:
        """Stop the local instance this started (a cluster joined by address stays up)."""
        self._up.wait()
        try:
            if self.started:
                import ray

                ray.shutdown()
        finally:
            self._done.set()
            self._thread.join()


def _on_ray(start: RayStart, work: list[list[Job]]) -> list[list]:
    try:
        ray = start.ready()
        from ray.exceptions import RayError

        task = ray.remote(run_shard).options(**start.options)
        env = handed_env(int(start.options["num_cpus"]) or None)
        refs = [task.remote(shard, env) for shard in work]
        return _gather(refs, ray.get, RayError, "Ray task", work, _cancel_ray)
    finally:
        start.stop()


def _on_submitit(spec: EngineSpec, work: list[list[Job]], sweep_dir: str) -> list[list]:
    import submitit
    from submitit.core.utils import FailedJobError, UncompletedJobError

    cluster = "slurm" if spec.engine == Engine.SUBMITIT_SLURM else "local"
    folder = Path(sweep_dir, ".submitit", "%j")
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    parameters = spec.submitit
    executor.update_parameters(**parameters)
    threads = int(parameters.get("cpus_per_task") or parameters.get("slurm_cpus_per_task") or 0)
    env = handed_env(threads or None)
    jobs = executor.map_array(run_shard, work, [env] * len(work))
    errors = (FailedJobError, UncompletedJobError)
    return _gather(jobs, lambda job: job.result(), errors, "submitit job", work, _cancel_job)


def _cancel_ray(ref) -> None:
    import ray

    ray.cancel(ref, force=True)


def _cancel_job(job) -> None:
    job.cancel(check=False)


def _gather(handles: list, result, errors: tuple, what: str, work: list, cancel) -> list[list]:
    """Each shard's results; the first that failed as one EngineFailed line, the shards still
    training cancelled (their runs are closed KILLED when the sweep resumes)."""
    results = []
    for number, (handle, shard) in enumerate(zip(handles, work, strict=True)):
        try:
            results.append(result(handle))
        except errors as exc:
            for other in handles[number + 1 :]:
                with contextlib.suppress(Exception):
                    cancel(other)
            first = next((line for line in str(exc).splitlines() if line.strip()), "")
            raise EngineFailed(
                f"{what} {number + 1} of {len(work)} ({len(shard)} runs) did not finish: "
                f"{type(exc).__name__}: {first.strip()[:300]}"
            ) from None
    return results
