"""Where alphalab's files are, and how a dotted path in the config becomes the user's function."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # src/alphalab, or site-packages/alphalab


def project_root() -> Path:
    """The alphalab checkout (the folder holding ``conf/``), else the current folder for an
    installed alphalab; ``ALPHALAB_ROOT`` overrides both. The default store lives under it."""
    if os.environ.get("ALPHALAB_ROOT"):
        return Path(os.environ["ALPHALAB_ROOT"]).resolve()
    checkout = _PACKAGE.parents[1]
    return checkout if (checkout / "conf").is_dir() else Path.cwd()


def conf_dir() -> Path:
    """The Hydra config folder: the checkout's ``conf/``, or the copy shipped in the wheel."""
    checkout = _PACKAGE.parents[1] / "conf"
    return checkout if checkout.is_dir() else _PACKAGE / "conf"


def examples_dir() -> Path:
    """The checkout's ``examples/`` (its configs join Hydra's search path); an installed
    alphalab has none, and searches its own config folder again instead."""
    examples = _PACKAGE.parents[1] / "examples"
    return examples if examples.is_dir() else conf_dir()


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
