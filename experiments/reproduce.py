"""``python -m experiments.reproduce RUN_ID [--store URI]``: train a logged run again from the
config it recorded, as a new run in the same experiment, and say whether the metrics match.

Exit codes: 0 the metrics match, 1 they differ (or the new run failed), 2 bad input (unknown run,
a run that is not a training run, a store that does not answer).
"""

from __future__ import annotations

import argparse
import sys

from alphalab.config import ConfigError
from alphalab.entry.preflight import EXIT_RUN_FAILED, check_store_or_exit, fail


def main(argv: list[str] | None = None) -> int:
    """Rerun the run; print the new run and the comparison of metrics."""
    parser = argparse.ArgumentParser(prog="python -m experiments.reproduce", description=__doc__)
    parser.add_argument("run_id", metavar="RUN_ID", help="the MLflow run to train again")
    parser.add_argument(
        "--store", help="tracking URI (default: $MLFLOW_TRACKING_URI, else the project's store)"
    )
    args = parser.parse_args(argv)
    check_store_or_exit(args.store)
    from alphalab.entry.reproduce import reproduce
    from alphalab.tracking.store import resolve_uri

    try:
        reproduction = reproduce(resolve_uri(args.store), args.run_id)
    except ConfigError as exc:
        fail(str(exc))
    print(reproduction.report(), flush=True)
    return 0 if reproduction.matches else EXIT_RUN_FAILED


if __name__ == "__main__":
    sys.exit(main())
