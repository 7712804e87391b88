"""The user's commands: ``python -m experiments.<name>`` (run, compare, ui, reproduce, benchmark).

Every command first makes sure the environment's bytecode is compiled (once; see ``_bytecode``)
and quietens TensorFlow's C++ start-up lines; a user's own settings of these variables win.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # its notice prints before logging is set up
# MLflow prints two "View run ... at http://..." lines per run ended on a tracking server.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

from experiments._bytecode import ensure_bytecode  # noqa: E402

ensure_bytecode()

# A tracking server that stops answering: about 60 s of retries (MLflow's default is about 4
# minutes per call), one line instead of a warning per retry, then one line and exit 1.
from alphalab.tracking.unreachable import bounded_retries  # noqa: E402

bounded_retries()
