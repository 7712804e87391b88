"""What ``alphalab.sweep`` accepts as ``data=``, ``formula=`` and ``model=``, as overrides."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alphalab.config import ConfigError
from alphalab.config.paths import import_callable
from alphalab.entry.sweep_callback import hydra_quoted as quoted

Data = Any  # arrays (a mapping or a tuple), a pandas DataFrame, or a path to a CSV or NPZ file


def data_overrides(data: Data, folder: Path) -> list[str]:
    """``task=file task.path=...`` for ``data``: a path as it is; arrays and DataFrames are
    written once to ``folder/data-<digest>.npz`` (the same data, the same file: a sweep run
    again with them resumes)."""
    if isinstance(data, str | os.PathLike):
        return ["task=file", f"task.path={quoted(str(Path(data).expanduser().resolve()))}"]
    arrays = as_arrays(data)
    digest = hashlib.sha256()
    for key in sorted(arrays):
        digest.update(key.encode() + str(arrays[key].shape).encode() + arrays[key].tobytes())
    path = folder / f"data-{digest.hexdigest()[:16]}.npz"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        partial.replace(path)  # never half a file under the real name
    return ["task=file", f"task.path={quoted(str(path))}"]


def as_arrays(data: Data) -> dict[str, np.ndarray]:
    """``data`` as NPZ-like arrays: ``x``, ``y_real`` and optionally ``y_imag``."""
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        columns = [str(c) for c in data.columns]
        xs = [c for c in columns if c == "x" or (c.startswith("x") and c[1:].isdigit())]
        if not xs or "y_real" not in columns:
            raise ConfigError(
                f"data: a DataFrame needs columns x (or x1, x2, ...) and y_real (and optionally "
                f"y_imag); it has {', '.join(columns)}"
            )
        x = data[xs].to_numpy("float32")
        arrays = {"x": x[:, 0] if xs == ["x"] else x, "y_real": data["y_real"].to_numpy("float32")}
        if "y_imag" in columns:
            arrays["y_imag"] = data["y_imag"].to_numpy("float32")
        return arrays
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"x", "y_real", "y_imag"})
        if unknown or "x" not in data or "y_real" not in data:
            raise ConfigError(
                "data: a mapping needs keys x and y_real (and optionally y_imag)"
                + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else "")
            )
        return {key: np.asarray(value) for key, value in data.items()}
    if isinstance(data, tuple | list) and len(data) in (2, 3):
        return dict(zip(("x", "y_real", "y_imag"), map(np.asarray, data), strict=False))
    raise ConfigError(
        f"data: expected a path, a pandas DataFrame, a mapping or a tuple (x, y_real[, y_imag]); "
        f"got {type(data).__name__}"
    )


def dotted_path(value: str | Callable, key: str) -> str:
    """A function as the dotted path that imports it again (a function defined at the top of a
    module or of a notebook, whose module is ``__main__``)."""
    if isinstance(value, str):
        return value
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    path = f"{module}.{name}"
    try:
        found = import_callable(path) if module and "<" not in name else None
    except ValueError:
        found = None
    if found is not value:
        raise ConfigError(
            f"{key}: {value!r} cannot be found again by name (a lambda or a nested function); "
            f"define it with def at the top of a module or notebook cell"
        )
    return path


def formula_overrides(formula: str | Callable) -> list[str]:
    """A built-in formula's name as it is; a function or dotted path as ``formula=custom``."""
    if isinstance(formula, str) and "." not in formula:
        return [f"formula={formula}"]
    return ["formula=custom", f"formula.name={dotted_path(formula, 'formula')}"]
