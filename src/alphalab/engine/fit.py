"""A run's data as the model sees it, and the pipelines that feed a fit."""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from alphalab.config.spec import RunSpec
from alphalab.data.sources import load_task
from alphalab.data.task_data import Scaling, TaskData, prepare


@dataclass
class PreparedData:
    """A run's data as the model sees it: split, standardised, and the baseline to beat."""

    raw: TaskData
    train: TaskData
    validation: TaskData
    test: TaskData | None  # rows no selection sees (None: no test split)
    scaling: Scaling | None
    baseline: float  # the validation loss of predicting the training mean (nan: no such rows)
    test_baseline: float  # the same on the test rows (nan without them)

    def params(self) -> dict[str, str]:
        """What the run records about its data (the standardisation, the data's digest)."""
        return {**(self.scaling.params() if self.scaling else {}), "data.digest": self.raw.digest()}


def prepare_data(spec: RunSpec) -> PreparedData:
    """Load the task's data, split and standardise it as ``spec`` says, and measure the
    baseline with the run's own loss."""
    raw = load_task(spec.task, spec.seed)
    task, train = spec.task, spec.train
    train_part, validation, test, scaling = prepare(
        raw,
        train.validation_split,
        spec.seed,
        task.split,
        task.standardize,
        task.test_split,
        task.folds,
        task.fold or 0,
    )
    stacked = spec.output == "stacked"
    baseline = math.nan  # a refit has no validation rows
    if len(validation.x):
        baseline = baseline_loss(train_part, validation, train.loss, stacked)
    test_baseline = (
        math.nan if test is None else baseline_loss(train_part, test, train.loss, stacked)
    )
    return PreparedData(raw, train_part, validation, test, scaling, baseline, test_baseline)


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
    every core, which stops parallel workers from scaling (docs/performance.md).
    """
    ds = tf.data.Dataset.from_tensor_slices((data.x, targets(data, stacked))).cache()
    if shuffle_seed is not None:
        ds = ds.shuffle(len(data.x), seed=shuffle_seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    return ds.batch(batch_size).with_options(options)


def pipelines(
    train: TaskData,
    validation: TaskData,
    batch_size: int,
    seed: int,
    stacked: bool,
    with_validation_batches: bool = False,
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The training batches (shuffled from ``seed``: the same object fitted again goes on with
    the next epoch's order) and the validation batches; ``with_validation_batches``: every
    training batch comes paired with a validation batch (in one order shuffled from ``seed``,
    cycled), for a tuned alpha."""
    batches = dataset(train, batch_size, stacked, shuffle_seed=seed)
    if with_validation_batches:  # one seeded order, cycled: no shuffle state between fits
        order = np.random.default_rng(seed + 1).permutation(len(validation.x))
        cycled = dataset(validation.take(order), batch_size, stacked).repeat()
        batches = tf.data.Dataset.zip((batches, cycled))
    return batches, dataset(validation, batch_size, stacked)


def fit_on(
    fit_method,
    train: TaskData,
    validation: TaskData,
    batch_size: int,
    epochs: int,
    seed: int,
    stacked: bool,
    with_validation_batches: bool = False,
    **extra,
):
    """Call ``fit_method`` (a model's ``fit``) on the cached ``pipelines`` of ``train`` and
    ``validation``."""
    batches, validation_batches = pipelines(
        train, validation, batch_size, seed, stacked, with_validation_batches
    )
    return fit_method(
        batches,
        validation_data=validation_batches,
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
