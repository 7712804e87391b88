"""Names the configuration may use, importable without tensorflow (config-only paths stay fast)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

APPROACHES = ("lambda", "trainable")
HEADS = ("none", "gain")
OUTPUTS = ("pair", "stacked")
BASIS_FUNCTIONS = ("sin", "cos", "tanh", "exp", "identity", "square")

# Built-in formula name -> number of x columns it expects (None: any, applied elementwise).
FORMULAS: dict[str, int | None] = {
    "scaled": 1,
    "complex_gain": 2,
    "oscillation": 1,
}


def import_callable(dotted_path: str) -> Callable:
    """Import ``package.module.function``; raise ValueError saying what did not resolve."""
    module_name, _, attr = dotted_path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"'{dotted_path}' is not a dotted path (expected package.module.function)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module '{module_name}' ({exc})") from None
    fn = getattr(module, attr, None)
    if fn is None:
        raise ValueError(f"module '{module_name}' has no attribute '{attr}'")
    if not callable(fn):
        raise ValueError(f"'{dotted_path}' is not callable")
    return fn
