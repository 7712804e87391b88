"""``python -m experiments.benchmark [--repeats N] [--tiny] [--out FILE]``: measure what the
harness costs on this machine (start-up, overhead over bare Keras, parallel speed-up, logging)."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from alphalab.benchmark import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
