"""``python -m experiments.compare [NAME_OR_RUN_ID] [--format table|csv|markdown]``: the
comparison of a past sweep or search, read back from the MLflow store."""

import sys

from alphalab.compare import main

if __name__ == "__main__":
    sys.exit(main())
