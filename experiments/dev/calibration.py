"""The verdict's error rate on real sweeps (not shipped): a null task whose two arms have equal
expected test loss, swept many times, and how often the verdict names a winner; and the default
task, where the learned alpha is far better, on every seed.

The null task is the built-in ``scaled`` task on 200 rows (y = (a_r sin x, a_i cos x) + noise),
swept over a 4x4 grid with one cell at an offset d from the true alpha in both parts. The learned
arm is off the truth by its estimation error, the fixed arm by d: ``calibrate`` measures the
learned refits' error over many seeds (E[sin^2] and E[cos^2] over x ~ U(-3, 3) weigh the two
parts) and places d so that both excess losses are equal.

    uv run python -m experiments.dev.calibration calibrate --seeds 40
    uv run python -m experiments.dev.calibration null --sweeps 20 --seeds-per-sweep 1
    uv run python -m experiments.dev.calibration default --sweeps 10 --seeds-per-sweep 1
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from alphalab.config.paths import project_root

TRUTH = (1.5, -0.5)  # conf/task/scaled.yaml
SIN2 = 0.5 - math.sin(6) / 12  # E[sin(x)^2] for x ~ U(-3, 3)
COS2 = 0.5 + math.sin(6) / 12
NULL = ["task=scaled", "task.n_samples=200"]


def grid(d: float) -> list[str]:
    """A 4x4 grid with the cell (1.5, -0.5) at offset ``d`` below the true alpha in both parts."""
    reals = ",".join(f"{TRUTH[0] - d + k * 0.5:.6g}" for k in (-2, -1, 0, 1))
    imags = ",".join(f"{TRUTH[1] - d + k * 0.5:.6g}" for k in (-2, -1, 0, 1))
    return [f"alpha.real={reals}", f"alpha.imag={imags}"]


def sweep(folder: Path, overrides: list[str]) -> dict:
    """One ``+sweep=alpha`` into ``folder``; its parent's verdict, metrics and wall time."""
    cmd = [
        sys.executable, "-m", "experiments.run", "+sweep=alpha", *overrides,
        f"tracking.uri=sqlite:///{folder / 'mlflow.db'}", f"hydra.sweep.dir={folder / 'hydra'}",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=project_root(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    parent = client.search_runs(experiments, "tags.`alphalab.kind` = 'sweep'")[0]
    refits = client.search_runs(experiments, "tags.`alphalab.kind` = 'refit'")
    return {
        "verdict": parent.data.tags["alphalab.verdict"],
        "headline": done.stdout.split("\n\n")[-2].splitlines()[0] if done.stdout else "",
        "metrics": dict(parent.data.metrics),
        "seconds": seconds,
        "refits": [
            {
                "arm": r.data.tags["alphalab.arm"],
                "seed": int(r.data.params["seed"]),
                "learned": (
                    r.data.metrics["learned_alpha_real"],
                    r.data.metrics["learned_alpha_imag"],
                ),
                "test_loss": r.data.metrics["final_test_loss"],
            }
            for r in refits
        ],
    }


def calibrate(seeds: int) -> float:
    """The offset d that gives the fixed arm the learned refits' expected excess loss."""
    with tempfile.TemporaryDirectory() as tmp:
        found = sweep(
            Path(tmp),
            [*NULL, *grid(0.0), "task.folds=1", f"seed={','.join(map(str, range(seeds)))}"],
        )
    errors = [
        (r["learned"][0] - TRUTH[0], r["learned"][1] - TRUTH[1])
        for r in found["refits"]
        if r["arm"] == "learned"
    ]
    excess = float(np.mean([SIN2 * a * a + COS2 * b * b for a, b in errors]))
    d = math.sqrt(excess / (SIN2 + COS2))
    print(json.dumps({"refits": len(errors), "learned_excess": excess, "d": d}))
    return d


def repeat(kind: str, sweeps: int, per: int, d: float, extra: list[str]) -> None:
    """``sweeps`` sweeps of ``per`` seeds each (fresh seeds every sweep): how many named which."""
    base = [*NULL, *grid(d)] if kind == "null" else []
    counts: dict[str, int] = {}
    for k in range(sweeps):
        seeds = ",".join(str(1000 + k * per + j) for j in range(per))
        with tempfile.TemporaryDirectory() as tmp:
            found = sweep(Path(tmp), [*base, f"seed={seeds}", *extra])
        counts[found["verdict"]] = counts.get(found["verdict"], 0) + 1
        m = found["metrics"]
        print(
            json.dumps(
                {
                    "sweep": k,
                    "seeds": seeds,
                    "verdict": found["verdict"],
                    "learned_vs_fixed": m.get("learned_vs_fixed"),
                    "low": m.get("learned_vs_fixed_low"),
                    "high": m.get("learned_vs_fixed_high"),
                    "seconds": round(found["seconds"], 1),
                }
            ),  # fmt: skip
            flush=True,
        )
    print(json.dumps({"kind": kind, "sweeps": sweeps, "seeds_per_sweep": per, "counts": counts}))


def main() -> None:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("calibrate", "null", "default"))
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument("--seeds-per-sweep", type=int, default=1)
    parser.add_argument("--d", type=float, default=None)
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    if args.what == "calibrate":
        calibrate(args.seeds)
        return
    d = args.d if args.d is not None else 0.0
    repeat(args.what, args.sweeps, args.seeds_per_sweep, d, args.extra)


if __name__ == "__main__":
    main()
