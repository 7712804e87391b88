"""``python -m experiments.benchmark``: what the harness costs on this machine, in medians.

a. start-up of config-only commands (and that they import no tensorflow, keras or mlflow);
b. the default sweep through the harness versus the same fits in a bare Keras loop;
c. the same sweep on 2 joblib workers versus the default launcher;
d. MLflow logging per epoch as a share of an epoch.

Every measurement runs real commands in fresh processes, into stores in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alphalab.config import project_root

TARGETS = {"startup_s": 1.0, "overhead_ratio": 1.10, "parallel_speedup": 1.6}
HEAVY = ("tensorflow", "keras", "mlflow")
TINY = ["+debug=fast", "alpha.real=0.5", "alpha.imag=1.5,2.5"]

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
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _timed(cmd: list[str], check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
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


def measure_startup(repeats: int) -> dict:
    out = {}
    for label, args in STARTUP_COMMANDS.items():
        cmd = [sys.executable, "-m", "experiments.run", *args]
        times = [_timed(cmd, check=False)[0] for _ in range(repeats)]
        out[label] = {
            "median_s": statistics.median(times),
            "runs_s": times,
            "imports": imported_modules(args),
        }
    return out


def _sweep(folder: Path, extra: list[str]) -> float:
    cmd = [
        sys.executable,
        "-m",
        "experiments.run",
        "+sweep=alpha",
        *extra,
        f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
        f"hydra.sweep.dir={folder / 'hydra'}",
    ]
    return _timed(cmd)[0]


def _jobs(extra: list[str]) -> list[list[str]]:
    """The override list of every job of ``+sweep=alpha EXTRA``, as Hydra will expand them."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from alphalab.config import register_resolvers
    from alphalab.sweep import sweep_overrides

    register_resolvers()
    fixed = [o for o in extra if "," not in o]
    with initialize_config_dir(config_dir=str(project_root() / "conf"), version_base=None):
        cfg = compose("config", overrides=["+sweep=alpha", *fixed], return_hydra_config=True)
    OmegaConf.update(cfg, "hydra.overrides.task", ["+sweep=alpha", *extra])
    return sweep_overrides(cfg)


def measure_sweeps(repeats: int, extra: list[str], parallel: bool) -> dict:
    jobs = _jobs(extra)
    harness, bare, joblib = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="alphalab-bench-") as tmp:
            harness.append(_sweep(Path(tmp) / "basic", extra))
            cmd = [sys.executable, "-m", "experiments.benchmark", "--bare-loop", json.dumps(jobs)]
            bare.append(_timed(cmd)[0])
            if parallel:
                more = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
                joblib.append(_sweep(Path(tmp) / "joblib", [*extra, *more]))
    out = {
        "jobs": len(jobs),
        "harness_s": harness,
        "bare_s": bare,
        "harness_median_s": statistics.median(harness),
        "bare_median_s": statistics.median(bare),
    }
    out["overhead_ratio"] = out["harness_median_s"] / out["bare_median_s"]
    if parallel:
        out["joblib_s"] = joblib
        out["joblib_median_s"] = statistics.median(joblib)
        out["parallel_speedup"] = out["harness_median_s"] / out["joblib_median_s"]
    return out


def _specs(jobs: list[list[str]]) -> list:
    """The checked RunSpec of each job (a list of overrides), composed as Hydra would."""
    from hydra import compose, initialize_config_dir

    from alphalab.config import register_resolvers, run_spec

    register_resolvers()
    with initialize_config_dir(config_dir=str(project_root() / "conf"), version_base=None):
        return [run_spec(compose("config", overrides=job)) for job in jobs]


def _fresh_fit(spec, epochs: int | None = None):
    """Build, compile and fit a new model for ``spec``, exactly as a job does, minus MLflow,
    Hydra and alphalab's compiled-model reuse."""
    import keras

    from alphalab import data as task_data
    from alphalab import models, training

    keras.utils.set_random_seed(spec.seed)
    data = task_data.load_task(spec.task, spec.seed)
    train, val = data.split(spec.train.validation_split, spec.seed)
    model = models.build_model(
        spec.approach, spec.formula, spec.alpha, data.n_features, spec.head, spec.output
    )
    models.compile_model(
        model,
        spec.train.optimizer,
        spec.train.learning_rate,
        data.has_imag,
        spec.train.steps_per_execution,
        spec.train.schedule,
        spec.train.total_steps(len(train.x)),
    )
    epochs = epochs or spec.train.epochs
    outcome = training.fit(model, train, val, epochs, spec.train.batch_size, spec.seed)
    return model, train, val, outcome


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
    from alphalab import training
    from alphalab.tracking import Tracker

    (spec,) = _specs([[]])
    # the first fit traces the model; the second is the steady state that is timed
    model, train, val, _ = _fresh_fit(spec, epochs=2)
    outcome = training.fit(model, train, val, epochs, spec.train.batch_size, spec.seed)
    epoch_s = outcome.seconds / epochs
    keys = list(outcome.history)
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


def _row(label: str, value: str, target: str = "", ok: bool | None = None) -> str:
    verdict = "" if ok is None else ("yes" if ok else "NO")
    return f"| {label} | {value} | {target} | {verdict} |"


def table(result: dict) -> str:
    lines = ["| measure | median | target | met |", "|---|---|---|---|"]
    for label, item in result["startup"].items():
        clean = not item["imports"]
        value = f"{item['median_s']:.2f} s" + ("" if clean else f" (imports {item['imports']})")
        ok = item["median_s"] <= TARGETS["startup_s"] and clean
        lines.append(_row(f"start-up: `{label}`", value, "≤ 1.0 s, no tf/keras/mlflow", ok))
    s = result["sweeps"]
    n = s["jobs"]
    lines.append(
        _row(f"default sweep, harness ({n} runs, basic launcher)", f"{s['harness_median_s']:.1f} s")
    )
    lines.append(_row(f"same {n} fits, bare Keras loop", f"{s['bare_median_s']:.1f} s"))
    ratio = s["overhead_ratio"]
    lines.append(
        _row("harness / bare", f"{ratio:.3f}", "≤ 1.10", ratio <= TARGETS["overhead_ratio"])
    )
    if "parallel_speedup" in s:
        lines.append(_row("same sweep, joblib with 2 workers", f"{s['joblib_median_s']:.1f} s"))
        speedup = s["parallel_speedup"]
        lines.append(
            _row(
                "parallel speed-up",
                f"{speedup:.2f}x",
                "≥ 1.6x",
                speedup >= TARGETS["parallel_speedup"],
            )
        )
    g = result["logging"]
    lines.append(
        _row(
            f"MLflow log_batch each epoch ({g['metrics_per_epoch']} metrics, synchronous)",
            f"{g['sync_log_per_epoch_s'] * 1000:.1f} ms = {g['sync_share']:.0%} of a "
            f"{g['epoch_s'] * 1000:.1f} ms epoch",
        )
    )
    lines.append(
        _row(
            "alphalab's logging (one batch per run), per epoch",
            f"{g['alphalab_log_per_epoch_s'] * 1000:.2f} ms = "
            f"{g['alphalab_share']:.1%} of an epoch",
        )
    )
    return "\n".join(lines)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmark", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="runs per sweep measurement")
    parser.add_argument("--startup-repeats", type=int, default=7)
    parser.add_argument("--tiny", action="store_true", help="a 4-run sweep, 1 repeat (tests)")
    parser.add_argument("--no-parallel", action="store_true", help="skip the joblib measurement")
    parser.add_argument("--out", type=Path, default=project_root() / "mlruns" / "benchmark.json")
    parser.add_argument("--bare-loop", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_loop:
        bare_loop(json.loads(args.bare_loop))
        return 0
    extra = TINY if args.tiny else []
    repeats = 1 if args.tiny else args.repeats
    startup_repeats = 2 if args.tiny else args.startup_repeats
    print(f"alphalab benchmark on {machine()['cpus']} cores; this takes a while", flush=True)
    result = {
        "machine": machine(),
        "setting": "tiny" if args.tiny else "default sweep",
        "startup": measure_startup(startup_repeats),
    }
    result["sweeps"] = measure_sweeps(repeats, extra, parallel=not args.no_parallel)
    result["logging"] = measure_logging(epochs=3 if args.tiny else 30)
    result["table"] = table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(result["table"])
    print(f"\nwritten to {args.out}")
    return 0
