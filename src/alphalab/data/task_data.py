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

    def split(
        self,
        validation_split: float,
        seed: int,
        how: str = "random",
        test_split: float = 0.0,
        folds: int = 1,
        fold: int = 0,
    ) -> tuple[TaskData, TaskData, TaskData | None]:
        """``(train, validation, test)``: hold out ``test_split`` of the rows as test rows (None
        when 0), then split the rest: ``validation_split`` of it for validation, or (``folds``
        K > 1) fold ``fold`` of K (``validation_split`` 0 and one fold: no validation rows, as a
        refit trains). ``random`` draws every part from one shuffle from ``seed``
        (K-fold: contiguous slices of it); ``last`` keeps the order (time series): the test rows
        are the final rows, validation the rows before them, and K folds chain forward (fold k
        trains on the first k+1 of K+1 blocks and validates on the next), so validation rows
        never come before training rows."""
        n = len(self.x)
        n_test = 0 if test_split <= 0 else min(n - 2, max(1, round(n * test_split)))
        order = np.arange(n) if how == "last" else np.random.default_rng(seed).permutation(n)
        if how == "last":
            rest, test = order[: n - n_test], order[n - n_test :]
        else:
            test, rest = order[:n_test], order[n_test:]
        m = len(rest)
        if folds > 1:
            if how == "last":
                blocks = np.array_split(rest, folds + 1)
                train, validation = np.concatenate(blocks[: fold + 1]), blocks[fold + 1]
            else:
                blocks = np.array_split(rest, folds)
                validation = blocks[fold]
                train = np.concatenate([b for k, b in enumerate(blocks) if k != fold])
        else:  # validation_split 0: no validation rows, every other row trains (a refit)
            n_val = 0 if validation_split <= 0 else min(m - 1, max(1, round(m * validation_split)))
            if how == "last":
                train, validation = rest[: m - n_val], rest[m - n_val :]
            else:
                validation, train = rest[:n_val], rest[n_val:]
        held = self.take(np.sort(test)) if n_test else None
        return self.take(np.sort(train)), self.take(np.sort(validation)), held

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


def prepare(
    data: TaskData,
    validation_split: float,
    seed: int,
    split: str,
    standardize: str,
    test_split: float = 0.0,
    folds: int = 1,
    fold: int = 0,
):
    """Split (see ``TaskData.split``), then standardise every part with statistics of the
    training rows. Returns ``(train, validation, test, scaling)``; ``test`` is None without test
    rows, ``scaling`` None without standardisation."""
    train, validation, test = data.split(validation_split, seed, split, test_split, folds, fold)
    scaling = fit_scaling(train, standardize)
    if scaling is None:
        return train, validation, test, None
    held = None if test is None else scaling.apply(test)
    return scaling.apply(train), scaling.apply(validation), held, scaling
