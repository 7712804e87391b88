"""The user's arrays, checked: an NPZ file, a CSV file or a loader's mapping becomes
``TaskData``, or a ConfigError naming the source and what is wrong."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from alphalab.config import ConfigError
from alphalab.config.spec import Alpha
from alphalab.data.task_data import TaskData

_X_COLUMN = re.compile(r"^x(\d+|_.+)?$")
TARGETS = ("y_real", "y_imag")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an NPZ file, read without pickle."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            columns = {}
            for name in archive.files:
                try:
                    columns[name] = archive[name]
                except ValueError:
                    raise ConfigError(
                        f"{path}: array '{name}' holds Python objects, which alphalab won't load "
                        "(allow_pickle=False); store numbers"
                    ) from None
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable archive: the same user error
        raise ConfigError(f"{path}: not a readable .npz file ({exc})") from None
    return columns


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """Columns ``x`` (or ``x1``, ``x2``, ...), ``y_real`` and ``y_imag`` of a CSV file."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    if not rows:
        raise ConfigError(f"{path}: the file is empty")
    header = [name.strip() for name in rows[0]]
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    x_names = [name for name in header if _X_COLUMN.match(name)]
    if not x_names:
        raise ConfigError(
            f"{path}: no 'x' column (expected x, or x1, x2, ...; found: {', '.join(header)})"
        )
    wanted = x_names + [name for name in TARGETS if name in header]
    values: dict[str, list[float]] = {name: [] for name in wanted}
    for line_number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ConfigError(
                f"{path}: line {line_number} has {len(row)} fields, the header has {len(header)}"
            )
        for name in wanted:
            cell = row[header.index(name)].strip()
            try:
                values[name].append(float(cell) if cell else math.nan)
            except ValueError:
                raise ConfigError(
                    f"{path}: line {line_number}, column '{name}': not a number: {cell!r}"
                ) from None
    out = {name: np.asarray(column, dtype="float64") for name, column in values.items()}
    out["x"] = np.stack([out.pop(name) for name in x_names], axis=1)
    return out


def to_task_data(source: str, arrays: Mapping, true_alpha: Alpha | None) -> TaskData:
    """Check the arrays (``x`` of any shape with one row per sample, ``y_real``, optional
    ``y_imag``: numeric, finite, as many rows as ``x``) and make them TaskData."""
    if not isinstance(arrays, Mapping):
        raise ConfigError(f"{source}: expected a mapping of arrays, got {type(arrays).__name__}")
    if "x" not in arrays:
        raise ConfigError(f"{source}: no array 'x' (found: {', '.join(arrays) or 'none'})")
    if "y_real" not in arrays:
        raise ConfigError(f"{source}: no 'y_real' column or array (found: {', '.join(arrays)})")
    checked = {}
    for name in ("x", *TARGETS):
        if name not in arrays:
            continue
        try:
            values = np.asarray(arrays[name], dtype="float64")
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: '{name}' is not numeric") from None
        if values.ndim == 0:
            raise ConfigError(f"{source}: '{name}' is a single number, not one value per row")
        if name != "x":
            if values.ndim == 2 and values.shape[1] == 1:
                values = values[:, 0]
            if values.ndim != 1:
                raise ConfigError(f"{source}: '{name}' must have shape (n,), got {values.shape}")
        checked[name] = values
    n = len(checked["x"])
    if n < 2:
        raise ConfigError(f"{source}: needs at least 2 rows, found {n}")
    for name, values in checked.items():
        if len(values) != n:
            raise ConfigError(f"{source}: '{name}' has {len(values)} rows, 'x' has {n}")
        bad = ~np.isfinite(values)
        if bad.any():
            first = int(np.argwhere(bad)[0][0])
            raise ConfigError(
                f"{source}: '{name}' has {int(bad.sum())} NaN or infinite value(s) "
                f"(first at data row {first + 1})"
            )
    x = checked["x"].astype("float32")
    return TaskData(
        x=x[:, None] if x.ndim == 1 else x,
        y_real=checked["y_real"].astype("float32").reshape(n, 1),
        y_imag=checked["y_imag"].astype("float32").reshape(n, 1) if "y_imag" in checked else None,
        true_alpha=true_alpha,
    )
