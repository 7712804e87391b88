"""``python -m experiments.ui``: the MLflow UI on alphalab's store, until Ctrl-C.

The store is ``--store``, else ``MLFLOW_TRACKING_URI``, else the project's
``sqlite:///<root>/mlruns/mlflow.db``. ``--port 0`` picks a free port.
"""

import argparse
import sys

from alphalab import ui


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.ui",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=ui.DEFAULT_HOST, help="interface to bind (%(default)s)")
    parser.add_argument("--port", type=int, default=ui.DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--store", default=None, help="MLflow tracking URI (default: see above)")
    parser.add_argument(
        "--experiment", default=ui.DEFAULT_EXPERIMENT, help="experiment to open (%(default)s)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return ui.serve(args.store, args.host, args.port, args.experiment)


if __name__ == "__main__":
    sys.exit(main())
