"""The benchmark's measurements; every one runs real commands in fresh processes, into stores
in a temporary folder (``python -m experiments.benchmark`` prints and records them)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alphalab.config.paths import project_root

# Runs experiments.run in-process and reports which heavy modules it imported.
_IMPORT_PROBE = """
import runpy, sys, json
sys.argv = ["experiments.run", *json.loads(sys.argv[1])]
code = 0
try:
    runpy.run_module("experiments.run", run_name="__main__")
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("tensorflow", "keras", "mlflow") if m in sys.modules)
print("ALPHALAB_IMPORTED=" + json.dumps(heavy), file=sys.stderr)
"""


def _env() -> dict[str, str]:
    """The environment of a measured command: the project's store unless told otherwise."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _timed(cmd: list[str], check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command; its wall time and result."""
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=project_root(), env=_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
    return seconds, result


def imported_modules(args: list[str]) -> list[str]:
    """The heavy modules that ``python -m experiments.run ARGS`` imports."""
    cmd = [sys.executable, "-c", _IMPORT_PROBE, json.dumps(args)]
    result = subprocess.run(cmd, cwd=project_root(), env=_env(), capture_output=True, text=True)
    line = next(x for x in result.stderr.splitlines() if x.startswith("ALPHALAB_IMPORTED="))
    return json.loads(line.split("=", 1)[1])


STARTUP_COMMANDS = {
    "run --help": ["--help"],
    "run --cfg job": ["--cfg", "job"],
    "bad config rejected": ["alpha.real=abc"],
}


def startup_command() -> str:
    """How the start-up commands are run: as README types them where uv is installed."""
    return "uv run python" if shutil.which("uv") else "python"


def measure_startup(repeats: int) -> dict:
    """Wall time of the config-only commands exactly as README types them (``uv run python -m
    experiments.run ...``, where uv is installed), and the heavy modules each imports."""
    uv = shutil.which("uv")
    prefix = [uv, "run", "--frozen", "python"] if uv else [sys.executable]
    out = {}
    for label, args in STARTUP_COMMANDS.items():
        cmd = [*prefix, "-m", "experiments.run", *args]
        times = [_timed(cmd, check=False)[0] for _ in range(repeats)]
        out[label] = {
            "median_s": statistics.median(times),
            "runs_s": times,
            "imports": imported_modules(args),
        }
    return out


def _timed_rss(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command; its wall time, its own peak resident memory (GB) and its output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=project_root(), env=_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.read().decode()[-2000:]}")
        return seconds, usage.ru_maxrss / 1e6, out.read().decode()  # ru_maxrss: KB on Linux


# one fit per job (one seed, one split), as the big-grid, pruning, engine and wide-sweep figures
# have always been measured; the default sweep's 3 seeds x 5 folds are measured as they are
ONE_FIT = ["task.folds=1", "seed=0"]


def _sweep_command(folder: Path, extra: list[str]) -> list[str]:
    """``+sweep=alpha EXTRA`` into a store and sweep folder in ``folder``."""
    return [
        sys.executable,
        "-m",
        "experiments.run",
        "+sweep=alpha",
        *extra,
        f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
        f"hydra.sweep.dir={folder / 'hydra'}",
    ]


def _sweep(folder: Path, extra: list[str]) -> float:
    """Wall time of ``+sweep=alpha EXTRA`` into a store in ``folder``."""
    return _timed(_sweep_command(folder, extra))[0]


def _jobs(extra: list[str]) -> list[list[str]]:
    """The override list of every job of ``+sweep=alpha EXTRA``, as Hydra will expand them."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from alphalab.config.reader import register_resolvers
    from alphalab.entry.sweep_callback import sweep_overrides

    register_resolvers()
    fixed = [o for o in extra if "," not in o]
    with initialize_config_dir(config_dir=str(project_root() / "conf"), version_base=None):
        cfg = compose("config", overrides=["+sweep=alpha", *fixed], return_hydra_config=True)
    OmegaConf.update(cfg, "hydra.overrides.task", ["+sweep=alpha", *extra])
    return sweep_overrides(cfg)


def measure_sweeps(repeats: int, extra: list[str], parallel: bool) -> dict:
    """The sweep through the population launcher (the default), job by job through the basic
    launcher, as a bare Keras loop, and on 2 joblib workers; interleaved, each on its own store."""
    jobs = _jobs(extra)
    population, harness, bare, joblib, fits, imports = [], [], [], [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="alphalab-bench-") as tmp:
            population.append(_sweep(Path(tmp) / "population", extra))
            floor = [sys.executable, "-c", "import tensorflow, keras, mlflow, hydra"]
            imports.append(_timed(floor)[0])
            harness.append(_sweep(Path(tmp) / "basic", [*extra, "hydra/launcher=basic"]))
            cmd = [sys.executable, "-m", "experiments.dev.measure", "bare", json.dumps(jobs)]
            bare.append(_timed(cmd)[0])
            cmd = [sys.executable, "-m", "experiments.dev.measure", "fits", json.dumps(jobs)]
            fits.append(json.loads(_timed(cmd)[1].stdout.splitlines()[-1]))
            if parallel:
                more = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
                joblib.append(_sweep(Path(tmp) / "joblib", [*extra, *more]))
    out = {
        "jobs": len(jobs),
        "population_s": population,
        "harness_s": harness,
        "bare_s": bare,
        "population_median_s": statistics.median(population),
        "harness_median_s": statistics.median(harness),
        "bare_median_s": statistics.median(bare),
        "fits": fits,
    }
    out["overhead_ratio"] = out["harness_median_s"] / out["bare_median_s"]
    out["population_speedup"] = out["harness_median_s"] / out["population_median_s"]
    for key in ("single_fit_s", "population_fit_s"):
        out[f"{key[:-2]}_median_s"] = statistics.median(f[key] for f in fits)
    out["population_fit_ratio"] = out["population_fit_median_s"] / out["single_fit_median_s"]
    # the floor: one process importing what the job needs, plus the population's fit
    out["imports_s"] = imports
    out["floor_median_s"] = statistics.median(imports) + out["population_fit_median_s"]
    out["floor_ratio"] = out["population_median_s"] / out["floor_median_s"]
    if parallel:
        out["joblib_s"] = joblib
        out["joblib_median_s"] = statistics.median(joblib)
        out["parallel_speedup"] = out["harness_median_s"] / out["joblib_median_s"]
    return out


def _grid(points: int) -> list[str]:
    return [
        "alpha.real=" + ",".join(f"{0.05 + 1.55 * i / (points - 1):.4f}" for i in range(points)),
        "alpha.imag=" + ",".join(f"{0.5 + 3.0 * i / (points - 1):.4f}" for i in range(points)),
    ]


def _big_sweep(points: int, extra: list[str]) -> dict:
    """One points x points sweep with both approaches: wall time, peak memory, how many
    children FINISHED (and how many were pruned), the store's bytes per member, the best fixed
    cell and the best learned alpha."""
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="alphalab-bench-big-") as tmp:
        folder = Path(tmp)
        command = _sweep_command(folder, [*_grid(points), *ONE_FIT, *extra])
        seconds, peak_gb, _ = _timed_rss(command)
        on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        with sqlite3.connect(folder / "mlflow.db") as connection:
            child = (
                "FROM runs JOIN tags USING (run_uuid) WHERE tags.key = 'alphalab.kind' "
                "AND tags.value = 'run' AND runs.status = 'FINISHED'"
            )
            finished = connection.execute(f"SELECT count(*) {child}").fetchone()[0]
            pruned = connection.execute(
                "SELECT count(*) FROM tags WHERE key = 'alphalab.pruned'"
            ).fetchone()[0]
            best = dict(
                connection.execute(
                    "SELECT latest_metrics.key, latest_metrics.value FROM latest_metrics "
                    "JOIN tags USING (run_uuid) WHERE "
                    "tags.key = 'alphalab.kind' AND tags.value = 'sweep' AND latest_metrics.key "
                    "LIKE 'best_%_alpha_%'"
                ).fetchall()
            )
        db = (folder / "mlflow.db").stat().st_size
    members = 2 * points * points
    return {
        "jobs": members,
        "seconds": seconds,
        "peak_gb": peak_gb,
        "finished_children": finished,
        "pruned": pruned,
        "kb_per_member": on_disk / members / 1000,
        "db_kb_per_member": db / members / 1000,
        "best": best,
    }


def measure_big_grid(points: int, repeats: int) -> dict:
    """A points x points grid with both approaches through the population launcher, end to end
    (medians of ``repeats``), its peak memory and what it leaves in the store."""
    runs = [_big_sweep(points, []) for _ in range(repeats)]
    return {
        "jobs": runs[0]["jobs"],
        "runs_s": [r["seconds"] for r in runs],
        "median_s": statistics.median(r["seconds"] for r in runs),
        "peak_gb": max(r["peak_gb"] for r in runs),
        "finished_children": [r["finished_children"] for r in runs],
        "kb_per_member": runs[0]["kb_per_member"],
        "db_kb_per_member": runs[0]["db_kb_per_member"],
    }


def ray_engine(temp: str) -> list[str]:
    """Populations as Ray tasks on a 2-CPU local instance the launcher starts and stops."""
    return [
        "hydra.launcher.engine=ray",
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
        f"+hydra.launcher.ray.init._temp_dir={temp}",
    ]


def _finished_children(folder: Path) -> int:
    import sqlite3

    with sqlite3.connect(folder / "mlflow.db") as connection:
        return connection.execute(
            "SELECT count(DISTINCT tags.value) FROM runs JOIN tags USING (run_uuid) "
            "WHERE tags.key = 'alphalab.job_key' AND runs.status = 'FINISHED' AND run_uuid IN "
            "(SELECT run_uuid FROM tags WHERE key = 'alphalab.kind' AND value = 'run')"
        ).fetchone()[0]


def measure_engines(repeats: int, points: int, seeds: int) -> dict:
    """Where populations train, side by side (interleaved, each on its own SQLite store): the
    default sweep locally and through ``engine=submitit_local`` (medians of ``repeats``); a
    ``seeds``-seed points x points sweep with both approaches locally and as Ray tasks."""
    local, submitit = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="alphalab-bench-engine-") as tmp:
            local.append(_sweep(Path(tmp) / "local", []))
            engine = ["hydra.launcher.engine=submitit_local"]
            submitit.append(_sweep(Path(tmp) / "submitit", engine))
    big = [*_grid(points), "task.folds=1", "seed=" + ",".join(str(s) for s in range(seeds))]
    runs: dict[str, list] = {"local": [], "ray": []}
    for _ in range(min(repeats, 2)):
        for label in runs:
            with tempfile.TemporaryDirectory(prefix="alphalab-bench-ray-", dir="/tmp") as tmp:
                engine = ray_engine(str(Path(tmp) / "ray")) if label == "ray" else []
                seconds = _sweep(Path(tmp), [*big, *engine])
                runs[label].append((seconds, _finished_children(Path(tmp))))
    out = {
        "default_local_s": local,
        "default_submitit_local_s": submitit,
        "submitit_ratio": statistics.median(submitit) / statistics.median(local),
        "big_jobs": 2 * points * points * seeds,
        "big_local_s": [r[0] for r in runs["local"]],
        "big_ray_s": [r[0] for r in runs["ray"]],
        "big_finished": {label: [r[1] for r in value] for label, value in runs.items()},
    }
    out["ray_ratio"] = statistics.median(out["big_ray_s"]) / statistics.median(out["big_local_s"])
    return out


def measure_pruning(points: int, epochs: int) -> dict:
    """The same big grid at ``epochs`` epochs with and without ``sweep.prune``: times and the
    answers (best fixed cell, best learned alpha)."""
    long = [f"train.epochs={epochs}"]
    whole = _big_sweep(points, long)
    pruned = _big_sweep(points, [*long, "sweep.prune=true"])
    return {
        "jobs": whole["jobs"],
        "epochs": epochs,
        "whole": whole,
        "pruned": pruned,
        "speedup": whole["seconds"] / pruned["seconds"],
    }


def _search(folder: Path, extra: list[str]) -> tuple[float, float]:
    """Wall time of ``+search=... EXTRA`` into a store in ``folder``, and its best trial's
    validation loss (read from the store with sqlite3: no MLflow import in the benchmark)."""
    import sqlite3

    cmd = [
        sys.executable,
        "-m",
        "experiments.run",
        *extra,
        f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
        f"hydra.run.dir={folder / 'hydra'}",
    ]
    seconds = _timed(cmd)[0]
    with sqlite3.connect(folder / "mlflow.db") as connection:
        query = (
            "SELECT latest_metrics.value FROM latest_metrics JOIN tags USING (run_uuid) WHERE "
            "latest_metrics.key = 'best_trial_val_loss' AND tags.key = 'alphalab.kind' AND "
            "tags.value = 'search'"
        )
        (best,) = connection.execute(query).fetchone()
    return seconds, best


def measure_searches(
    seeds: list[int], trials: int = 20, wide: int = 64, extra: list[str] | None = None
) -> dict:
    """``+search=bayesian`` (``trials`` trials) with populations of 8 against one trial per
    fit, interleaved over ``seeds`` (wall time, best validation loss); and a random search of
    ``wide`` trials against a sweep of as many jobs."""
    out: dict = {"trials": trials, "seeds": seeds, "bayesian": {}}
    extra = list(extra or [])
    base = ["+search=bayesian", f"search.max_trials={trials}", *extra]
    for population in ("8", "1"):
        out["bayesian"][population] = {"runs_s": [], "best_val_loss": []}
    for seed in seeds:
        for population in ("8", "1"):
            with tempfile.TemporaryDirectory(prefix="alphalab-bench-search-") as tmp:
                args = [*base, f"search.population={population}", f"seed={seed}"]
                seconds, best = _search(Path(tmp), args)
            out["bayesian"][population]["runs_s"].append(seconds)
            out["bayesian"][population]["best_val_loss"].append(best)
    for item in out["bayesian"].values():
        item["median_s"] = statistics.median(item["runs_s"])
        item["mean_best"] = statistics.fmean(item["best_val_loss"])
        item["spread"] = statistics.stdev(item["best_val_loss"]) if len(seeds) > 1 else 0.0
    out["search_speedup"] = out["bayesian"]["1"]["median_s"] / out["bayesian"]["8"]["median_s"]
    # a sweep of as many jobs: a 4 x (wide / 8) grid with both approaches
    reals, imags = 4, max(wide // 8, 1)
    grid = [
        "alpha.real=" + ",".join(f"{0.2 + 0.4 * i:.1f}" for i in range(reals)),
        "alpha.imag=" + ",".join(f"{1.0 + 2.0 * i / max(imags - 1, 1):.3f}" for i in range(imags)),
    ]
    random_s, sweep_s = [], []
    for _ in seeds:
        with tempfile.TemporaryDirectory(prefix="alphalab-bench-wide-") as tmp:
            random_s.append(
                _search(Path(tmp) / "s", ["+search=random", f"search.max_trials={wide}"])[0]
            )
            sweep_s.append(_sweep(Path(tmp) / "w", [*grid, *ONE_FIT, *extra]))
    out["wide"] = {
        "trials": wide,
        "sweep_jobs": 2 * reals * imags,
        "random_s": random_s,
        "sweep_s": sweep_s,
        "random_median_s": statistics.median(random_s),
        "sweep_median_s": statistics.median(sweep_s),
    }
    out["wide"]["ratio"] = out["wide"]["random_median_s"] / out["wide"]["sweep_median_s"]
    return out


def _specs(jobs: list[list[str]]) -> list:
    """The checked RunSpec of each job (a list of overrides), composed as Hydra would."""
    from hydra import compose, initialize_config_dir

    from alphalab.config.parse import run_spec
    from alphalab.config.reader import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(project_root() / "conf"), version_base=None):
        return [run_spec(compose("config", overrides=job)) for job in jobs]


def _fresh_fit(spec, epochs: int | None = None):
    """Build, compile and fit a new model for ``spec`` in plain Keras, with the job's data
    pipeline and seeds, minus MLflow, Hydra and alphalab's population engine; returns the model,
    its data and the fit's seconds."""
    import keras

    from alphalab.engine import fit
    from alphalab.model.build import build, is_stacked
    from alphalab.model.compile import compile_for_training

    keras.utils.set_random_seed(spec.seed)
    data = fit.prepare_data(spec)
    train, val = data.train, data.validation
    model, _ = build(spec.approach, spec.formula, spec.alpha, spec.model, train.input_shape)
    steps = spec.train.total_steps(len(train.x))
    compile_for_training(model, spec.train, train.has_imag, steps)
    epochs = epochs or spec.train.epochs
    start = time.perf_counter()
    with fit.nothing_to_train_is_fine():
        fit.fit_on(
            model.fit, train, val, spec.train.batch_size, epochs, spec.seed, is_stacked(model)
        )
    return model, train, val, time.perf_counter() - start


def bare_loop(jobs: list[list[str]]) -> None:
    """The same fits as the sweep, in plain Keras: no Hydra run, no MLflow, one process.

    Each job's config is composed first (outside the fits), then every model is built, compiled
    and fitted exactly as the harness does it, with the same data pipeline and seeds.
    """
    for spec in _specs(jobs):
        _fresh_fit(spec)


def measure_logging(epochs: int = 30, repeats: int = 30) -> dict:
    """MLflow cost per epoch: logging each epoch synchronously, and as alphalab does it, for
    the default single run (``python -m experiments.run``)."""
    from alphalab.engine import fit
    from alphalab.model.build import is_stacked
    from alphalab.tracking.store import Tracker

    (spec,) = _specs([[]])
    # the first fit traces the model; the second is the steady state that is timed
    model, train, val, _ = _fresh_fit(spec, epochs=2)
    start = time.perf_counter()
    fit.fit_on(model.fit, train, val, spec.train.batch_size, epochs, spec.seed, is_stacked(model))
    epoch_s = (time.perf_counter() - start) / epochs
    keys = ["loss", "val_loss", "alpha_real", "alpha_imag"]  # what a trainable run records
    with tempfile.TemporaryDirectory(prefix="alphalab-bench-log-") as tmp:
        tracker = Tracker(f"sqlite:///{Path(tmp) / 'mlflow.db'}", "bench")
        run_id = tracker.create_run("per-epoch", {})
        per_epoch = []
        for step in range(repeats):
            start = time.perf_counter()
            tracker.log_metrics(run_id, [(k, 0.5, step) for k in keys])
            per_epoch.append(time.perf_counter() - start)
        batched = []
        for i in range(5):
            run_id = tracker.create_run(f"batched-{i}", {})
            start = time.perf_counter()
            tracker.log_metrics(run_id, [(k, 0.5, s) for s in range(epochs) for k in keys])
            batched.append((time.perf_counter() - start) / epochs)
    sync_s, batched_s = statistics.median(per_epoch), statistics.median(batched)
    return {
        "epoch_s": epoch_s,
        "metrics_per_epoch": len(keys),
        "sync_log_per_epoch_s": sync_s,
        "sync_share": sync_s / epoch_s,
        "alphalab_log_per_epoch_s": batched_s,
        "alphalab_share": batched_s / epoch_s,
    }


def fit_times(jobs: list[list[str]]) -> dict:
    """One job's fit against the whole population's, each built, compiled and fitted fresh
    (tracing included), in this process: what a population costs next to a single run."""
    import keras

    from alphalab.engine.fit import prepare_data
    from alphalab.engine.population import compiled
    from alphalab.engine.population.run import Member, Population

    specs = _specs(jobs)
    first = sorted(specs, key=lambda s: s.approach != "trainable")[0]
    times = {}
    for label, members in (("single_fit_s", [first]), ("population_fit_s", specs)):
        compiled._COMPILED.get().clear()  # traced fresh, as a new process would
        keras.utils.set_random_seed(first.seed)
        data = prepare_data(first)
        start = time.perf_counter()
        Population([Member(spec) for spec in members], data).fit()
        times[label] = time.perf_counter() - start
    return times


if __name__ == "__main__":  # a measurement in a process of its own
    if sys.argv[1] == "bare":
        bare_loop(json.loads(sys.argv[2]))
    else:
        print(json.dumps(fit_times(json.loads(sys.argv[2]))))
