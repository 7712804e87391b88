"""A task's arrays, how they are split into training and validation rows, and standardised."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from alphalab.config.spec import Alpha


@dataclass(frozen=True)
class TaskData:
    """Inputs ``x`` (n, ...) and targets (n, 1); ``y_imag`` is None when only the real part is
    known."""

    x: np.ndarray
    y_real: np.ndarray
    y_imag: np.ndarray | None
    true_alpha: Alpha | None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample of ``x``: what a model's ``keras.Input`` takes."""
        return tuple(int(n) for n in self.x.shape[1:])

    @property
    def has_imag(self) -> bool:
        """Whether the imaginary part is known (and so trained and scored)."""
        return self.y_imag is not None

    def parts(self) -> dict[str, np.ndarray]:
        """The known targets by output name: ``real`` and, if known, ``imag``."""
        return {"real": self.y_real} | ({"imag": self.y_imag} if self.has_imag else {})

    def take(self, index: np.ndarray) -> TaskData:
        """The rows at ``index``."""
        y_imag = None if self.y_imag is None else self.y_imag[index]
        return replace(self, x=self.x[index], y_real=self.y_real[index], y_imag=y_imag)

    def split(self, validation_split: float, seed: int, how: str = "random"):
        """Hold out ``validation_split`` of the rows: after a shuffle from ``seed`` (random), or
        the final rows in order (last, for time series). Returns ``(train, validation)``."""
        n = len(self.x)
        n_val = min(n - 1, max(1, round(n * validation_split)))
        if how == "last":
            return self.take(np.arange(n - n_val)), self.take(np.arange(n - n_val, n))
        order = np.random.default_rng(seed).permutation(n)
        return self.take(np.sort(order[n_val:])), self.take(np.sort(order[:n_val]))

    def digest(self) -> str:
        """A short hash of the arrays: which data a run trained on."""
        h = hashlib.sha256()
        for array in (self.x, self.y_real, self.y_imag):
            if array is not None:
                h.update(str(array.shape).encode())
                h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class Scaling:
    """``(value - mean) / std`` for x and each target, fitted on the training rows."""

    x: tuple[np.ndarray, np.ndarray] | None
    y: dict[str, tuple[float, float]]

    def apply(self, data: TaskData) -> TaskData:
        """The same rows, standardised."""
        x = data.x if self.x is None else ((data.x - self.x[0]) / self.x[1]).astype("float32")
        parts = {
            name: ((values - self.y[name][0]) / self.y[name][1]).astype("float32")
            if name in self.y
            else values
            for name, values in data.parts().items()
        }
        return replace(data, x=x, y_real=parts["real"], y_imag=parts.get("imag"))

    def params(self) -> dict[str, str]:
        """The fitted statistics, recorded with the run."""
        out = {}
        if self.x is not None:
            out["standardized.x_mean"] = np.array2string(self.x[0], precision=6, separator=",")
            out["standardized.x_std"] = np.array2string(self.x[1], precision=6, separator=",")
        for name, (mean, std) in self.y.items():
            out[f"standardized.y_{name}_mean"] = f"{mean:.6g}"
            out[f"standardized.y_{name}_std"] = f"{std:.6g}"
        return out


def _std(values: np.ndarray) -> np.ndarray:
    std = values.std(axis=0)
    return np.where(std > 0, std, 1.0)  # a constant column stays as it is


def fit_scaling(train: TaskData, what: str) -> Scaling | None:
    """Fit the standardisation ``what`` (none, x, y, both) on the training rows only."""
    if what == "none":
        return None
    x = None
    if what in ("x", "both"):
        x = (train.x.mean(axis=0).astype("float32"), _std(train.x).astype("float32"))
    y = {}
    if what in ("y", "both"):
        y = {
            name: (float(v.mean()), float(_std(v.reshape(-1)))) for name, v in train.parts().items()
        }
    return Scaling(x, y)


def prepare(data: TaskData, validation_split: float, seed: int, split: str, standardize: str):
    """Split, then standardise both parts with statistics of the training rows.
    Returns ``(train, validation, scaling)``; ``scaling`` is None without standardisation."""
    train, validation = data.split(validation_split, seed, split)
    scaling = fit_scaling(train, standardize)
    if scaling is None:
        return train, validation, None
    return scaling.apply(train), scaling.apply(validation), scaling
