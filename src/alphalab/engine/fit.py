"""Fit a compiled model on task data and keep what happened epoch by epoch."""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from alphalab.config.spec import RunSpec
from alphalab.data.sources import load_task
from alphalab.data.task_data import Scaling, TaskData, prepare
from alphalab.model.build import alpha_of, is_stacked


@dataclass
class FitOutcome:
    """Per-epoch history (Keras logs plus ``alpha_real``/``alpha_imag`` when learned)."""

    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None  # why training stopped early (NaN or inf), None when it did not

    def last(self, key: str) -> float:
        """The last epoch's value of ``key`` (nan if never recorded)."""
        values = self.history.get(key) or [math.nan]
        return values[-1]


@dataclass
class PreparedData:
    """A run's data as the model sees it: split, standardised, and the baseline to beat."""

    raw: TaskData
    train: TaskData
    validation: TaskData
    scaling: Scaling | None
    baseline: float  # the validation loss of predicting the training mean

    def params(self) -> dict[str, str]:
        """What the run records about its data (the standardisation, the data's digest)."""
        return {**(self.scaling.params() if self.scaling else {}), "data.digest": self.raw.digest()}


def prepare_data(spec: RunSpec) -> PreparedData:
    """Load the task's data, split and standardise it as ``spec`` says, and measure the
    baseline with the run's own loss."""
    raw = load_task(spec.task, spec.seed)
    task, train = spec.task, spec.train
    train_part, validation, scaling = prepare(
        raw, train.validation_split, spec.seed, task.split, task.standardize
    )
    baseline = baseline_loss(train_part, validation, train.loss, spec.output == "stacked")
    return PreparedData(raw, train_part, validation, scaling, baseline)


def baseline_loss(train: TaskData, validation: TaskData, loss: str, stacked: bool) -> float:
    """The validation loss of a model that always predicts the training mean of each part,
    scored exactly as the model is (summed over parts, or on the stacked output)."""
    losses = keras.losses.get(loss)
    predicted = {
        name: np.full_like(values, train.parts()[name].mean())
        for name, values in validation.parts().items()
    }
    if stacked:
        y_true = np.concatenate(list(validation.parts().values()), axis=-1)
        y_pred = np.concatenate(list(predicted.values()), axis=-1)
        return float(np.mean(keras.ops.convert_to_numpy(losses(y_true, y_pred))))
    return sum(
        float(np.mean(keras.ops.convert_to_numpy(losses(values, predicted[name]))))
        for name, values in validation.parts().items()
    )


def targets(data: TaskData, stacked: bool) -> dict[str, np.ndarray] | np.ndarray:
    """What the model is fitted to: ``{"real", "imag"}`` for a pair model, one array stacked."""
    if stacked:
        return np.concatenate(list(data.parts().values()), axis=-1)
    return data.parts()


def dataset(
    data: TaskData, batch_size: int, stacked: bool, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    """A cached in-memory tf.data pipeline, far cheaper per epoch than numpy arrays to ``fit``.

    It runs on one private thread with autotuning off: tf.data's shared, autotuned pool spins on
    every core, which stops parallel workers from scaling (README, Performance).
    """
    ds = tf.data.Dataset.from_tensor_slices((data.x, targets(data, stacked))).cache()
    if shuffle_seed is not None:
        ds = ds.shuffle(len(data.x), seed=shuffle_seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    return ds.batch(batch_size).with_options(options)


RECORDED = ("loss", "val_loss")


class EpochRecorder(keras.callbacks.Callback):
    """Keeps every epoch's logs and learned alpha; stops training when the loss is not finite."""

    def __init__(self, outcome: FitOutcome):
        """Record into ``outcome``."""
        super().__init__()
        self.outcome = outcome

    def on_epoch_end(self, epoch, logs=None):
        """Keep loss, val_loss and alpha; stop on the first value that is not finite."""
        # loss and val_loss only: Keras's per-output losses double what MLflow stores and shows
        values = {key: float(value) for key, value in (logs or {}).items() if key in RECORDED}
        alpha = alpha_of(self.model)
        if alpha is not None:
            values["alpha_real"], values["alpha_imag"] = alpha
        for key, value in values.items():
            self.outcome.history.setdefault(key, []).append(value)
        self.outcome.error = nonfinite(values, epoch)
        if self.outcome.error is not None:
            self.model.stop_training = True


def nonfinite(values: dict[str, float], epoch: int) -> str | None:
    """Why training stops at ``epoch``: the first of the loss, validation loss and learned alpha
    that is not finite; None while all are."""
    for key in ("loss", "val_loss", "alpha_real", "alpha_imag"):
        if key in values and not math.isfinite(values[key]):
            return f"{key} became {values[key]} at epoch {epoch}"
    return None


def fit_on(
    fit_method,
    train: TaskData,
    validation: TaskData,
    batch_size: int,
    epochs: int,
    seed: int,
    stacked: bool,
    **extra,
):
    """Call ``fit_method`` (a model's ``fit``, a tuner's ``search``) on the cached pipelines of
    ``train`` (shuffled from ``seed``) and ``validation``."""
    return fit_method(
        dataset(train, batch_size, stacked, shuffle_seed=seed),
        validation_data=dataset(validation, batch_size, stacked),
        epochs=epochs,
        shuffle=False,  # the dataset shuffles itself, from the seed
        verbose=0,
        **extra,
    )


@contextlib.contextmanager
def nothing_to_train_is_fine():
    """A Lambda model without a head has nothing to train, by design: its fit only measures."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have any trainable weights.*")
        yield


def fit(
    model: keras.Model,
    train: TaskData,
    validation: TaskData,
    epochs: int,
    batch_size: int,
    seed: int,
) -> FitOutcome:
    """Fit ``model`` on ``train`` (shuffled from ``seed``), validating on ``validation``."""
    stacked = is_stacked(model)
    outcome = FitOutcome()
    start = time.perf_counter()
    with nothing_to_train_is_fine():
        recorder = EpochRecorder(outcome)
        fit_on(
            model.fit, train, validation, batch_size, epochs, seed, stacked, callbacks=[recorder]
        )
    outcome.seconds = time.perf_counter() - start
    return outcome
