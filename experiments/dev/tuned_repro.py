"""Is a tuned fit reproducible? The same tuned spec trained N times, in one process (the compiled
model reused across populations) or each in a fresh process, optionally with the other cores
kept busy; counts the runs whose per-epoch losses, alpha or final weights differ bit for bit
from the first run's.

    uv run python -m experiments.dev.tuned_repro --runs 40 --mode fresh --load 1 train.epochs=30
    uv run python -m experiments.dev.tuned_repro --runs 40 --mode reuse --load 1 train.epochs=30

A developer's tool (not shipped). Trailing arguments are Hydra overrides on top of the contract
test's tuned spec (``+debug=fast model.head=gain alpha.real=0.7 alpha.imag=1.8 approach=tuned``).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

SPEC = ["+debug=fast", "model.head=gain", "alpha.real=0.7", "alpha.imag=1.8", "approach=tuned"]


def _busy() -> None:
    while True:
        pass


def spec_of(overrides: list[str]):
    """The tuned spec with ``overrides`` on top (tracking into a throwaway folder)."""
    from alphalab.config.parse import run_spec
    from tests.conftest import compose

    store = f"sqlite:///{tempfile.mkdtemp(prefix='tuned-repro-')}/mlflow.db"
    return run_spec(compose([*SPEC, f"tracking.uri={store}", *overrides]))


def train_once(spec) -> dict:
    """One fit as ``run_jobs`` does it, minus the bookkeeping: histories, alpha, weights."""
    import keras
    import numpy as np

    from alphalab.engine.fit import prepare_data
    from alphalab.engine.population.run import Member, Population

    keras.utils.set_random_seed(spec.seed)
    data = prepare_data(spec)
    population = Population([Member(spec)], data)
    start = time.perf_counter()
    outcome = population.fit().outcomes[0]
    seconds = time.perf_counter() - start
    weights = {
        k: np.asarray(v, dtype="float32").tobytes().hex() for k, v in outcome.weights.items()
    }
    history = {k: [float(v).hex() for v in vs] for k, vs in outcome.history.items()}
    return {"history": history, "weights": weights, "seconds": seconds}


def first_difference(a: dict, b: dict) -> str:
    """Where ``b`` first differs from ``a``: the first epoch at which a history differs, or
    the weight."""
    epochs = len(a["history"]["loss"])
    for epoch in range(epochs):
        for key in a["history"]:
            x, y = a["history"][key][epoch], b["history"][key][epoch]
            if x != y:
                return f"{key}@epoch{epoch + 1} {float.fromhex(x)!r} vs {float.fromhex(y)!r}"
    for key in a["weights"]:
        if a["weights"][key] != b["weights"][key]:
            return f"weight {key}"
    return ""


def digest(result: dict) -> str:
    """The run's numbers in a few hex digits (timing left out)."""
    numbers = {"history": result["history"], "weights": result["weights"]}
    return hashlib.sha256(json.dumps(numbers, sort_keys=True).encode()).hexdigest()[:12]


def main() -> None:
    """Train, compare, count."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--mode", choices=["reuse", "fresh", "one"], default="reuse")
    parser.add_argument("--load", type=int, default=0, help="busy-loop processes meanwhile")
    args, overrides = parser.parse_known_args()
    if args.mode == "one":  # a child of --mode fresh: one fit, its result as JSON on stdout
        print(json.dumps(train_once(spec_of(overrides))))
        return
    busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for process in busy:
        process.start()
    try:
        results = []
        if args.mode == "reuse":
            spec = spec_of(overrides)
            results = [train_once(spec) for _ in range(args.runs)]
        else:
            command = [sys.executable, "-m", "experiments.dev.tuned_repro", "--mode", "one"]
            for _ in range(args.runs):
                out = subprocess.run(
                    [*command, *overrides], capture_output=True, text=True, check=True
                ).stdout
                results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in busy:
            process.terminate()
    first = results[0]
    differ = 0
    for i, result in enumerate(results):
        where = first_difference(first, result)
        differ += bool(where)
        print(f"run {i:3d} {digest(result)} {result['seconds']:.3f}s {where}", flush=True)
    seconds = sorted(r["seconds"] for r in results)
    digests = collections.Counter(map(digest, results))
    common, count = digests.most_common(1)[0]
    print(
        f"{differ} of {len(results)} differ from the first, {len(results) - count} from the most "
        f"common ({common}; {len(digests)} distinct) (mode {args.mode}, load {args.load}, "
        f"{' '.join(overrides)}); fit median {seconds[len(seconds) // 2]:.3f}s"
    )


if __name__ == "__main__":
    main()
