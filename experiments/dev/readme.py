"""``python -m experiments.dev.readme``: regenerate the docs' results from real runs.

Runs the default sweep (``+sweep=alpha``) into a fresh temporary store, copies its
``landscape.png`` and ``verdict.png`` (with ``--example`` also the sunspots example's, as
``sunspots-landscape.png`` and ``sunspots-verdict.png``) and screenshots of it in the MLflow UI
into ``experiments/figures/`` (README.md shows the landscape from there) and ``docs/figures/``
(the site's pages: the verdict page shows all four figures), and rewrites the
sections between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in the docs pages that hold
them: ``sweep`` (the console output) in ``docs/getting-started/quickstart.md``, ``sunspots``
(with ``--example``) in ``docs/how-to/sunspots.md`` and ``perf`` (the benchmark table, from
``--benchmark FILE``, default ``mlruns/benchmark.json`` when it exists) in
``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "experiments" / "figures"
DOCS_FIGURES = ROOT / "docs" / "figures"
DOCS = ROOT / "docs"
# which page holds each regenerated section
PAGES = {
    "sweep": DOCS / "getting-started" / "quickstart.md",
    "sunspots": DOCS / "how-to" / "sunspots.md",
    "perf": DOCS / "performance.md",
}


def replace_section(text: str, name: str, body: str, where: str = "the page") -> str:
    """Replace what lies between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in ``text``."""
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"alphalab: error: {where} has no <!-- {name}:start/end --> section")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def update_page(name: str, body: str) -> None:
    """Rewrite section ``name`` of the docs page that holds it."""
    page = PAGES[name]
    where = str(page.relative_to(ROOT))
    page.write_text(replace_section(page.read_text(), name, body, where))
    print(f"updated {where} ({name})")


def publish_figures(*names: str) -> None:
    """Copy figures written to ``experiments/figures/`` into ``docs/figures/`` for the site."""
    DOCS_FIGURES.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(FIGURES / name, DOCS_FIGURES / name)


def run_sweep(folder: Path, sweep: str = "+sweep=alpha") -> tuple[str, float, str]:
    """A sweep as a user runs it; returns its console output, wall time, store."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    cmd = [
        sys.executable,
        "-m",
        "experiments.run",
        sweep,
        f"tracking.uri={uri}",
        f"hydra.sweep.dir={folder / 'hydra'}",
    ]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"alphalab: error: the sweep failed:\n{result.stderr[-3000:]}")
    return result.stdout, seconds, uri


def console_excerpt(stdout: str, seconds: float, sweep: str = "+sweep=alpha") -> str:
    """The sweep's console output as the docs show it: start, a few progress lines, the end."""
    lines = [line for line in stdout.splitlines() if not line.startswith("MLflow: parent run")]
    progress = [i for i, line in enumerate(lines) if line.startswith("[")]
    start = lines.index(next(line for line in lines if line.startswith("=====")))
    head = lines[: progress[0]]
    # the live lines of the first population only (the others print the same lines again)
    live = [i for i, line in enumerate(head) if line.startswith("alphalab: population ")]
    first = [i for i in live if head[i].startswith("alphalab: population 1 ")]
    if len(first) < len(live):
        cut = set(live) - set(first)
        head = [line for i, line in enumerate(head) if i not in cut] + ["..."]
    shown = head + lines[progress[0] : progress[0] + 3] + ["..."]
    shown += [lines[progress[-1]]] + lines[start:]
    shown = [line for line in shown if line.strip() or line == ""]
    while shown and not shown[-1].strip():
        shown.pop()
    text = "\n".join(line.replace(str(ROOT), "<project>") for line in shown)
    command = f"$ python -m experiments.run {sweep}"
    return f"```text\n{command}\n{text}\n```\n\nWall time: {seconds:.0f} s."


def parent_figures(uri: str, prefix: str = "") -> list[str]:
    """Copy the sweep's ``landscape.png`` and ``verdict.png`` from the store into
    ``experiments/figures/`` (named ``PREFIX<name>``); returns the names written."""
    from alphalab.entry.defaults import default_experiment
    from alphalab.results.compare import find_parent
    from alphalab.tracking import names
    from alphalab.tracking.store import Tracker

    tracker = Tracker(uri, default_experiment(), create=False)
    parent = find_parent(tracker, None)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in (names.LANDSCAPE, names.VERDICT_PLOT):
            local = tracker.client.download_artifacts(parent.info.run_id, name, tmp)
            shutil.copyfile(local, FIGURES / f"{prefix}{name}")
            written.append(f"{prefix}{name}")
    return written


def perf_section(path: Path) -> str:
    """The performance page's table from the benchmark's JSON."""
    result = json.loads(path.read_text())
    m = result["machine"]
    return (
        f"Measured with `python -m experiments.benchmark` on {m['cpus']} cores "
        f"({m['processor']}, {m['platform']}, Python {m['python']}); medians of the runs in "
        f"`{path.name}`:\n\n{result['table']}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Regenerate the docs' sections (and figures) from real runs."""
    parser = argparse.ArgumentParser(prog="python -m experiments.dev.readme", description=__doc__)
    parser.add_argument("--benchmark", type=Path, default=ROOT / "mlruns" / "benchmark.json")
    parser.add_argument("--skip-sweep", action="store_true", help="only the performance table")
    parser.add_argument("--example", action="store_true", help="also +sunspots=sweep")
    args = parser.parse_args(argv)
    FIGURES.mkdir(parents=True, exist_ok=True)
    if args.example:
        with tempfile.TemporaryDirectory(prefix="alphalab-readme-") as tmp:
            stdout, seconds, uri = run_sweep(Path(tmp), "+sunspots=sweep")
            figures = parent_figures(uri, "sunspots-")
        publish_figures(*figures)
        update_page("sunspots", console_excerpt(stdout, seconds, "+sunspots=sweep"))
        print(f"sunspots example: {seconds:.0f} s")
    if not args.skip_sweep:
        with tempfile.TemporaryDirectory(prefix="alphalab-readme-") as tmp:
            stdout, seconds, uri = run_sweep(Path(tmp))
            figures = parent_figures(uri)
            shot = [
                sys.executable,
                "-m",
                "experiments.dev.screenshot",
                "--store",
                uri,
                "--out",
                str(FIGURES / "mlflow-ui.png"),
                "--out-runs",
                str(FIGURES / "mlflow-runs.png"),
            ]
            subprocess.run(shot, cwd=ROOT, check=True)
        publish_figures(*figures, "mlflow-ui.png", "mlflow-runs.png")
        update_page("sweep", console_excerpt(stdout, seconds))
        print(f"default sweep: {seconds:.0f} s")
    if args.benchmark.exists():
        update_page("perf", perf_section(args.benchmark))
    return 0


if __name__ == "__main__":
    sys.exit(main())
