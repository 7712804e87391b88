"""Stage 0: the composed Hydra config becomes typed specs (``parse``), or one line of error.

No TensorFlow, Keras or MLflow is imported here: bad input is rejected in well under a second.
"""


class ConfigError(ValueError):
    """Bad user input. ``str(error)`` is one line naming the key or file and the problem."""


def first_line(exc: BaseException) -> str:
    """An exception's message, first line only (or its type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    return f"{type(exc).__name__}: {first_line(exc)}" if str(exc).strip() else type(exc).__name__
