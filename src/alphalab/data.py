"""Task data: synthetic tasks generated from a formula with a known alpha, or the user's file.

Reading and checking files needs numpy only, so bad files are rejected before tensorflow loads.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphalab.config import ConfigError
from alphalab.config.spec import Alpha, TaskSpec


@dataclass(frozen=True)
class TaskData:
    """Inputs ``x`` (n, d) and targets (n, 1); ``y_imag`` is None when only the real part is
    known."""

    x: np.ndarray
    y_real: np.ndarray
    y_imag: np.ndarray | None
    true_alpha: Alpha | None

    @property
    def n_features(self) -> int:
        """Columns of ``x``."""
        return int(self.x.shape[1])

    @property
    def has_imag(self) -> bool:
        """Whether the imaginary part is known (and so trained and scored)."""
        return self.y_imag is not None

    def take(self, index: np.ndarray) -> TaskData:
        """The rows at ``index``."""
        return TaskData(
            x=self.x[index],
            y_real=self.y_real[index],
            y_imag=None if self.y_imag is None else self.y_imag[index],
            true_alpha=self.true_alpha,
        )

    def split(self, validation_split: float, seed: int) -> tuple[TaskData, TaskData]:
        """Shuffle with ``seed``, then hold out ``validation_split`` of the rows."""
        n = len(self.x)
        n_val = min(n - 1, max(1, round(n * validation_split)))
        order = np.random.default_rng(seed).permutation(n)
        return self.take(np.sort(order[n_val:])), self.take(np.sort(order[:n_val]))


_CACHE: dict[tuple[str, int], TaskData] = {}


def load_task(task: TaskSpec, seed: int) -> TaskData:
    """The task's data for ``seed``; generated or read once per process and reused."""
    key = (repr(task), seed)
    if key not in _CACHE:
        _CACHE[key] = read_file(task) if task.kind == "file" else generate(task, seed)
    return _CACHE[key]


def generate(task: TaskSpec, seed: int) -> TaskData:
    """Draw x, apply the task's formula at its true alpha, add Gaussian noise; all from ``seed``."""
    from keras import ops

    from alphalab import formulas

    assert task.formula is not None and task.true_alpha is not None
    rng = np.random.default_rng(seed)
    shape = (task.n_samples, task.x_columns)
    if task.x_distribution == "uniform":
        x = rng.uniform(task.x_low, task.x_high, size=shape)
    else:
        center, scale = (task.x_low + task.x_high) / 2, (task.x_high - task.x_low) / 4
        x = rng.normal(center, scale, size=shape)
    x = x.astype("float32")
    fn = formulas.resolve(task.formula.name)
    real, imag = fn(x, *task.true_alpha, **task.formula.kwargs)
    real = np.asarray(ops.convert_to_numpy(real), dtype="float32").reshape(task.n_samples, -1)
    imag = np.asarray(ops.convert_to_numpy(imag), dtype="float32").reshape(task.n_samples, -1)
    real += (task.noise * rng.standard_normal(real.shape)).astype("float32")
    imag += (task.noise * rng.standard_normal(imag.shape)).astype("float32")
    return TaskData(x=x, y_real=real, y_imag=imag, true_alpha=task.true_alpha)


_X_COLUMN = re.compile(r"^x(\d+|_.+)?$")


def read_file(task: TaskSpec) -> TaskData:
    """Read the user's CSV or NPZ; raise ConfigError naming the file and what is wrong."""
    assert task.path is not None
    path = task.path
    columns = _read_npz(path) if path.suffix.lower() == ".npz" else _read_csv(path)
    return _to_task_data(path, columns, task.true_alpha)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            columns = {}
            for name in names:
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
    if "x" not in columns:
        raise ConfigError(f"{path}: no array 'x' (found: {', '.join(names) or 'none'})")
    x = np.asarray(columns["x"])
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ConfigError(f"{path}: array 'x' must have shape (n,) or (n, d), got {x.shape}")
    out = {"x": x}
    for name in ("y_real", "y_imag"):
        if name in columns:
            y = np.asarray(columns[name])
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1:
                raise ConfigError(f"{path}: array '{name}' must have shape (n,), got {y.shape}")
            out[name] = y
    return out


def _read_csv(path: Path) -> dict[str, np.ndarray]:
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
    wanted = x_names + [name for name in ("y_real", "y_imag") if name in header]
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


def _to_task_data(path: Path, columns: dict[str, np.ndarray], true_alpha: Alpha | None) -> TaskData:
    if "y_real" not in columns:
        found = ", ".join(columns)
        raise ConfigError(f"{path}: no 'y_real' column or array (found: {found})")
    n = len(columns["x"])
    if n < 2:
        raise ConfigError(f"{path}: needs at least 2 rows, found {n}")
    for name, column in columns.items():
        if len(column) != n:
            raise ConfigError(f"{path}: '{name}' has {len(column)} rows, 'x' has {n}")
        try:
            numeric = np.asarray(column, dtype="float64")
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: '{name}' is not numeric") from None
        bad = ~np.isfinite(numeric)
        if bad.any():
            first = int(np.argwhere(bad)[0][0])
            raise ConfigError(
                f"{path}: '{name}' has {int(bad.sum())} NaN or infinite value(s) "
                f"(first at data row {first + 1})"
            )

    def column(name: str) -> np.ndarray:
        return np.asarray(columns[name], dtype="float32").reshape(n, -1)

    return TaskData(
        x=np.asarray(columns["x"], dtype="float32").reshape(n, -1),
        y_real=column("y_real"),
        y_imag=column("y_imag") if "y_imag" in columns else None,
        true_alpha=true_alpha,
    )
