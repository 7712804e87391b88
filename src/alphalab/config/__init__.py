"""Stage 0: the composed Hydra config becomes typed specs (``parse``), or one line of error.

No TensorFlow, Keras or MLflow is imported here: bad input is rejected in well under a second.
"""


class ConfigError(ValueError):
    """Bad user input. ``str(error)`` is one line naming the key or file and the problem."""
