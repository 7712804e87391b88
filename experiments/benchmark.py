"""``python -m experiments.benchmark``: what the harness costs on this machine, in medians.

a. start-up of config-only commands (and that they import no tensorflow, keras or mlflow);
b. the default sweep through the population launcher (its default) against the basic launcher,
   each on its own store, and the population's fit against one job's fit;
c. the basic launcher against the same fits in a bare Keras loop, and on 2 joblib workers;
d. a 64 x 64 grid with both approaches (8192 jobs) end to end, its peak memory and bytes per
   member; the same grid at 100 epochs with and without ``sweep.prune``;
e. MLflow logging per epoch as a share of an epoch;
f. ``+search=bayesian`` (20 trials) with populations of 8 against one trial per fit, over seeds
   0, 1, 2 (wall time and best validation loss), and a 64-trial random search against a 64-job
   sweep.

A developer's tool: it runs the commands of the checkout it lives in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from alphalab.config.paths import project_root
from experiments.dev.measure import (
    measure_big_grid,
    measure_engines,
    measure_logging,
    measure_pruning,
    measure_searches,
    measure_startup,
    measure_sweeps,
    startup_command,
)

TARGETS = {
    "startup_s": 1.0,
    "overhead_ratio": 1.10,
    "parallel_speedup": 1.6,
    "population_speedup": 4.0,
    "population_fit_ratio": 2.0,
    "big_grid_s": 40.0,
    "big_grid_gb": 1.0,
    "floor_ratio": 1.3,
    "prune_speedup": 3.0,
    "search_speedup": 3.0,
    "wide_search_ratio": 1.5,
    "ray_ratio": 1.5,
    "submitit_ratio": 2.0,
}
TINY = ["+debug=fast", "alpha.real=0.5", "alpha.imag=1.5,2.5"]


def _row(label: str, value: str, target: str = "", ok: bool | None = None) -> str:
    """One row of the markdown table."""
    verdict = "" if ok is None else ("yes" if ok else "NO")
    return f"| {label} | {value} | {target} | {verdict} |"


def table(result: dict) -> str:
    """The results as the markdown table of docs/performance.md."""
    lines = ["| measure | median | target | met |", "|---|---|---|---|"]
    command = result.get("startup_command", "python")
    for label, item in result["startup"].items():
        clean = not item["imports"]
        value = f"{item['median_s']:.2f} s" + ("" if clean else f" (imports {item['imports']})")
        ok = item["median_s"] <= TARGETS["startup_s"] and clean
        shown = f"{command} -m experiments.{label}" if label.startswith("run ") else label
        lines.append(_row(f"start-up: `{shown}`", value, "≤ 1.0 s, no tf/keras/mlflow", ok))
    s = result["sweeps"]
    n = s["jobs"]
    lines.append(
        _row(f"default sweep ({n} runs), population launcher", f"{s['population_median_s']:.1f} s")
    )
    lines.append(
        _row(
            f"default sweep / its floor ({s['floor_median_s']:.1f} s: importing tensorflow, "
            "keras, mlflow, hydra, plus the population's fit)",
            f"{s['floor_ratio']:.2f}",
            "≤ 1.3",
            s["floor_ratio"] <= TARGETS["floor_ratio"],
        )
    )
    speedup = s["population_speedup"]
    target = TARGETS["population_speedup"]
    lines.append(
        _row(
            "population speed-up over the basic launcher",
            f"{speedup:.2f}x",
            "≥ 4x",
            speedup >= target,
        )
    )
    fit = s["population_fit_ratio"]
    lines.append(
        _row(
            f"population's fit ({s['population_fit_median_s']:.2f} s) / one job's fit "
            f"({s['single_fit_median_s']:.2f} s), tracing included",
            f"{fit:.2f}",
            "≤ 2",
            fit <= TARGETS["population_fit_ratio"],
        )
    )
    if "big_grid" in result:
        big = result["big_grid"]
        done = min(big["finished_children"])
        lines.append(
            _row(
                f"{big['jobs']}-job sweep end to end ({done} children FINISHED)",
                f"{big['median_s']:.1f} s",
                f"≤ {TARGETS['big_grid_s']:.0f} s",
                big["median_s"] <= TARGETS["big_grid_s"] and done == big["jobs"],
            )
        )
        lines.append(
            _row(
                "its peak memory; bytes per member (SQLite rows + artifacts)",
                f"{big['peak_gb']:.2f} GB; {big['kb_per_member']:.1f} KB "
                f"({big['db_kb_per_member']:.1f} KB rows)",
                "≤ 1 GB",
                big["peak_gb"] <= TARGETS["big_grid_gb"],
            )
        )
    if "engines" in result:
        lines.extend(engine_rows(result["engines"]))
    if "pruning" in result:
        p = result["pruning"]
        whole, pruned = p["whole"], p["pruned"]
        a, b = whole["best"], pruned["best"]

        def alpha(best, arm):
            return complex(
                best.get(f"best_{arm}_alpha_real", 0), best.get(f"best_{arm}_alpha_imag", 0)
            )

        cell = "the same" if alpha(a, "fixed") == alpha(b, "fixed") else "NOT the same"
        moved = abs(alpha(a, "trainable") - alpha(b, "trainable"))
        lines.append(
            _row(
                f"{p['jobs']}-job sweep, {p['epochs']} epochs: sweep.prune ({pruned['pruned']} "
                f"pruned, {pruned['seconds']:.0f} s) vs not ({whole['seconds']:.0f} s)",
                f"{p['speedup']:.2f}x; best fixed cell {cell}, best learned alpha "
                f"{moved:.1g} apart",
                "≥ 3x",
                p["speedup"] >= TARGETS["prune_speedup"],
            )
        )
    lines.append(
        _row("same sweep, basic launcher (one fit per job)", f"{s['harness_median_s']:.1f} s")
    )
    lines.append(_row(f"same {n} fits, bare Keras loop", f"{s['bare_median_s']:.1f} s"))
    ratio = s["overhead_ratio"]
    lines.append(
        _row(
            "harness / bare (basic launcher)",
            f"{ratio:.3f}",
            "≤ 1.10",
            ratio <= TARGETS["overhead_ratio"],
        )
    )
    if "parallel_speedup" in s:
        lines.append(_row("same sweep, joblib with 2 workers", f"{s['joblib_median_s']:.1f} s"))
        speedup = s["parallel_speedup"]
        lines.append(
            _row(
                "parallel speed-up (joblib over basic)",
                f"{speedup:.2f}x",
                "≥ 1.6x",
                speedup >= TARGETS["parallel_speedup"],
            )
        )
    if "searches" in result:
        lines += search_rows(result["searches"])
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


def engine_rows(e: dict) -> list[str]:
    """Populations off this process: submitit's local executor, a local Ray instance."""
    local, submitit = (
        statistics.median(e["default_local_s"]),
        statistics.median(e["default_submitit_local_s"]),
    )
    big_local, big_ray = statistics.median(e["big_local_s"]), statistics.median(e["big_ray_s"])
    done = min(e["big_finished"]["ray"])
    return [
        _row(
            f"default sweep, engine=submitit_local ({submitit:.1f} s) / local ({local:.1f} s)",
            f"{e['submitit_ratio']:.2f}",
            f"≤ {TARGETS['submitit_ratio']:.0f}",
            e["submitit_ratio"] <= TARGETS["submitit_ratio"],
        ),
        _row(
            f"{e['big_jobs']}-job 4-seed sweep as Ray tasks on a local 2-CPU instance "
            f"({big_ray:.1f} s, {done} children FINISHED) / local ({big_local:.1f} s)",
            f"{e['ray_ratio']:.2f}",
            f"≤ {TARGETS['ray_ratio']}",
            e["ray_ratio"] <= TARGETS["ray_ratio"] and done == e["big_jobs"],
        ),
    ]


def search_rows(f: dict) -> list[str]:
    """The searches' rows of the table."""
    batched, single = f["bayesian"]["8"], f["bayesian"]["1"]
    n, seeds = f["trials"], ", ".join(map(str, f["seeds"]))
    speedup = f["search_speedup"]
    rows = [
        _row(f"`+search=bayesian` ({n} trials), 8 trials per fit", f"{batched['median_s']:.1f} s"),
        _row("same search, 1 trial per fit", f"{single['median_s']:.1f} s"),
        _row(
            "search speed-up, 8 trials per fit",
            f"{speedup:.2f}x",
            "≥ 3x",
            speedup >= TARGETS["search_speedup"],
        ),
    ]
    worse = batched["mean_best"] - single["mean_best"]
    spread = max(batched["spread"], single["spread"])
    rows.append(
        _row(
            f"best val_loss over seeds {seeds}: 8 per fit {batched['mean_best']:.4g} "
            f"(± {batched['spread']:.2g}), 1 per fit {single['mean_best']:.4g} "
            f"(± {single['spread']:.2g})",
            f"{worse:+.2g}",
            "≤ the seed spread",
            worse <= spread,
        )
    )
    w = f["wide"]
    rows.append(
        _row(
            f"`+search=random search.max_trials={w['trials']}` / a {w['sweep_jobs']}-job sweep "
            f"({w['random_median_s']:.1f} s / {w['sweep_median_s']:.1f} s)",
            f"{w['ratio']:.2f}",
            "≤ 1.5",
            w["ratio"] <= TARGETS["wide_search_ratio"],
        )
    )
    return rows


def machine() -> dict:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmark", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="runs per sweep measurement")
    parser.add_argument("--startup-repeats", type=int, default=7)
    parser.add_argument("--tiny", action="store_true", help="a 4-run sweep, 1 repeat (tests)")
    parser.add_argument("--no-parallel", action="store_true", help="skip the joblib measurement")
    parser.add_argument(
        "--grid", type=int, default=64, help="the big sweep: GRID x GRID x 2 approaches (0: skip)"
    )
    parser.add_argument(
        "--prune-grid",
        type=int,
        default=64,
        help="GRID x GRID x 2 at 100 epochs, with and without sweep.prune (0: skip)",
    )
    parser.add_argument("--no-searches", action="store_true", help="skip the search measurement")
    parser.add_argument(
        "--no-engines", action="store_true", help="skip populations on Ray and submitit"
    )
    parser.add_argument("--out", type=Path, default=project_root() / "mlruns" / "benchmark.json")
    args = parser.parse_args(argv)
    extra = TINY if args.tiny else []
    repeats = 1 if args.tiny else args.repeats
    startup_repeats = 2 if args.tiny else args.startup_repeats
    print(f"alphalab benchmark on {machine()['cpus']} cores; this takes a while", flush=True)
    result = {
        "machine": machine(),
        "setting": "tiny" if args.tiny else "default sweep",
        "startup": measure_startup(startup_repeats),
        "startup_command": startup_command(),
    }
    result["sweeps"] = measure_sweeps(repeats, extra, parallel=not args.no_parallel)
    grid = 2 if args.tiny else args.grid
    if grid:
        result["big_grid"] = measure_big_grid(grid, 1 if args.tiny else min(args.repeats, 2))
    if args.prune_grid:
        epochs = 6 if args.tiny else 100
        result["pruning"] = measure_pruning(2 if args.tiny else args.prune_grid, epochs)
    if not args.no_searches:
        seeds = [0] if args.tiny else [0, 1, 2]
        trials, wide = (4, 8) if args.tiny else (20, 64)
        result["searches"] = measure_searches(
            seeds, trials, wide, ["+debug=fast"] if args.tiny else []
        )
    if not args.no_engines:
        points, seeds = (2, 1) if args.tiny else (32, 4)
        result["engines"] = measure_engines(repeats, points, seeds)
    result["logging"] = measure_logging(epochs=3 if args.tiny else 30)
    result["table"] = table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(result["table"])
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
