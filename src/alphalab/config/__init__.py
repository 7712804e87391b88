"""Stage 0: the composed Hydra config becomes typed specs (``parse``), or one line of error.

No TensorFlow, Keras or MLflow is imported here: bad input is rejected in well under a second.
"""

import re


class ConfigError(ValueError):
    """Bad user input. ``str(error)`` is one line naming the key or file and the problem."""


# Keras wraps a layer's error: "Exception encountered when calling X.call().", a blank line, then
# the error itself in bold (ANSI escapes), then the arguments.
_KERAS_WRAPPER = "Exception encountered when calling"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(exc: BaseException) -> str:
    """An exception's message, first line only (or its type when it has none); for an error
    Keras wrapped, the line that says what went wrong."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith(_KERAS_WRAPPER):
        return f"{lines[1]} (in {lines[0][len(_KERAS_WRAPPER) :].strip().rstrip('.')})"
    return lines[0] if lines else type(exc).__name__


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    return f"{type(exc).__name__}: {first_line(exc)}" if str(exc).strip() else type(exc).__name__
