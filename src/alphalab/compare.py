"""``python -m experiments.compare``: the comparison of any past sweep or search, from the store.

Needs mlflow only (no tensorflow): it reads the runs the sweep or search left behind.
"""

from __future__ import annotations

import argparse
import sys

from alphalab import tracking
from alphalab.report import load_comparison
from alphalab.tracking import Tracker

FORMATS = ("table", "csv", "markdown")


class NotFound(LookupError):
    """No such experiment, sweep or search; the message says where it looked."""


def parents(tracker: Tracker, extra: str = "") -> list:
    """Sweep and search parent runs, oldest first (MLflow's filter has no IN for tags)."""
    found = []
    for kind in ("sweep", "search"):
        query = f"tags.`{tracking.TAG_KIND}` = '{kind}'" + (f" and {extra}" if extra else "")
        found += tracker.search(query)
    return sorted(found, key=lambda run: run.info.start_time or 0)


def find_parent(tracker: Tracker, name_or_id: str | None):
    """The sweep or search called ``name_or_id`` (a name or a run id); the latest by default."""
    if name_or_id is None:
        found = parents(tracker)
        if not found:
            raise NotFound(f"no sweep or search yet in experiment '{tracker.experiment_name}'")
        return found[-1]
    found = parents(tracker, f"tags.`{tracking.TAG_SWEEP_NAME}` = '{name_or_id}'")
    found = found or [run for run in parents(tracker) if run.info.run_id == name_or_id]
    if found:
        return found[-1]
    raise NotFound(
        f"no sweep or search named '{name_or_id}' in experiment '{tracker.experiment_name}'"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.compare",
        description="Print the comparison of a past sweep or search (fixed vs learned alpha).",
    )
    parser.add_argument(
        "name", nargs="?", help="sweep/search name or parent run id (default: latest)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument(
        "--store", help="tracking URI (default: $MLFLOW_TRACKING_URI, else the project's store)"
    )
    parser.add_argument(
        "--experiment", default="alphalab", help="MLflow experiment (default: alphalab)"
    )
    args = parser.parse_args(argv)
    uri = tracking.resolve_uri(args.store)
    db = tracking.sqlite_path(uri)
    try:
        if db is not None and not db.exists():
            raise NotFound(f"no MLflow store at {db}")
        tracker = Tracker(uri, args.experiment, create=False)
        parent = find_parent(tracker, args.name)
    except (NotFound, LookupError) as exc:
        print(f"alphalab: error: {exc} ({uri})", file=sys.stderr)
        return 2
    comparison = load_comparison(tracker, parent)
    if args.format == "csv":
        sys.stdout.write(comparison.csv())
    elif args.format == "markdown":
        sys.stdout.write(comparison.markdown())
    else:
        print(comparison.console())
        print(f"MLflow: parent run {parent.info.run_id} ({parent.info.status}) in {uri}")
    return 0
