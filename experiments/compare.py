"""``python -m experiments.compare [NAME_OR_RUN_ID] [--format table|csv|markdown]``: the
comparison of a past sweep or search, read back from the MLflow store (mlflow only, no
TensorFlow); ``--list``: every sweep and search in the store."""

from __future__ import annotations

import argparse
import sys

from alphalab.entry.defaults import default_experiment
from alphalab.entry.preflight import check_store_or_exit
from alphalab.results.compare import find_parent, load_comparison
from alphalab.tracking.precheck import redact
from alphalab.tracking.store import Tracker, resolve_uri

FORMATS = ("table", "csv", "markdown")


def main(argv: list[str] | None = None) -> int:
    """Print the comparison; exit 2 with one line when the store, name or experiment is unknown."""
    parser = argparse.ArgumentParser(
        prog="python -m experiments.compare",
        description="Print the comparison of a past sweep or search (fixed vs learned alpha).",
    )
    parser.add_argument(
        "name", nargs="?", help="sweep/search name or parent run id (default: latest)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument(
        "--list", action="store_true", help="list every sweep and search, oldest first"
    )
    parser.add_argument(
        "--store", help="tracking URI (default: $MLFLOW_TRACKING_URI, else the project's store)"
    )
    parser.add_argument(
        "--experiment", default=default_experiment(), help="MLflow experiment (%(default)s)"
    )
    args = parser.parse_args(argv)
    check_store_or_exit(args.store)
    uri = resolve_uri(args.store)
    try:
        tracker = Tracker(uri, args.experiment, create=False)
        if args.list:
            return print_list(uri, args.experiment, args.format)
        parent = find_parent(tracker, args.name)
    except LookupError as exc:
        print(f"alphalab: error: {exc} ({redact(uri)})", file=sys.stderr)
        return 2
    comparison = load_comparison(tracker, parent)
    if args.format == "csv":
        sys.stdout.write(comparison.csv())
    elif args.format == "markdown":
        sys.stdout.write(comparison.markdown())
    else:
        print(comparison.console())
        print(f"MLflow: parent run {parent.info.run_id} ({parent.info.status}) in {redact(uri)}")
    return 0


def print_list(uri: str, experiment: str, form: str) -> int:
    """One line per sweep or search: name, kind, start, status, jobs, outcome."""
    from alphalab.api.run import list_sweeps

    frame = list_sweeps(uri, experiment).drop(columns="headline")
    frame["started"] = frame["started"].dt.strftime("%Y-%m-%d %H:%M")
    if form == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif form == "markdown":
        cells = [list(frame.columns), ["---"] * len(frame.columns)]
        cells += frame.fillna("").astype(str).values.tolist()
        sys.stdout.write("".join(f"| {' | '.join(row)} |\n" for row in cells))
    elif frame.empty:
        print(f"no sweep or search yet in experiment '{experiment}' ({redact(uri)})")
    else:
        print(frame.fillna("—").to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
