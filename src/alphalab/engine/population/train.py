"""Fit a population and keep each member's history as its single run would: ``loss``,
``val_loss`` and (learned members) ``alpha_real``/``alpha_imag`` per epoch; a member whose value
turns non-finite stops there with the single run's error, its weights taken at that epoch."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import ops

from alphalab.config.spec import RunSpec
from alphalab.engine.fit import PreparedData, fit_on, nonfinite, nothing_to_train_is_fine
from alphalab.model.build import ALPHA_LAYER, HEAD_LAYER, alpha_of
from alphalab.model.compile import training_optimizer
from alphalab.tracking import names


@dataclass
class MemberOutcome:
    """What one member's fit left: its history, why it stopped early (if it did), its weights
    under the names its single-run model has."""

    history: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    weights: dict[str, np.ndarray] | None = None


class Members:
    """Reads every member's learned alpha and weights out of the population's model."""

    def __init__(
        self,
        model: keras.Model,
        members: list[RunSpec],
        built: list | None,
        paths: dict[str, list[str]],
    ):
        """``built``: the copies (None when vectorised); ``paths``: per approach, the weight
        paths of its single-run model, in order."""
        self.model, self.members, self.built, self.paths = model, members, built, paths
        self.learned = [m.approach == "trainable" for m in members]

    def alphas(self) -> list[tuple[float, float] | None]:
        """Each member's alpha now (None for a fixed one)."""
        if self.built is None:
            rows = ops.convert_to_numpy(self.model.get_layer(ALPHA_LAYER).learned)
            return [tuple(rows[k]) if learned else None for k, learned in enumerate(self.learned)]
        return [
            alpha_of(copy) if learned else None
            for copy, learned in zip(self.built, self.learned, strict=True)
        ]

    def weights(self) -> list[dict[str, np.ndarray]]:
        """Each member's weights by the paths its single-run model gives them."""
        if self.built is not None:
            return [{w.path: ops.convert_to_numpy(w) for w in copy.weights} for copy in self.built]
        learned = ops.convert_to_numpy(self.model.get_layer(ALPHA_LAYER).learned)
        heads = [layer for layer in self.model.layers if layer.name == HEAD_LAYER]
        head = ops.convert_to_numpy(heads[0].kernel) if heads else None
        out = []
        for k, spec in enumerate(self.members):
            values = ([learned[k]] if self.learned[k] else []) + ([head[k]] if heads else [])
            out.append(dict(zip(self.paths[spec.approach], values, strict=True)))
        return out


class MemberRecorder(keras.callbacks.Callback):
    """Per-member epochs, as ``engine.fit.EpochRecorder`` keeps a single run's."""

    def __init__(self, members: Members):
        super().__init__()
        self.members = members
        self.outcomes = [MemberOutcome() for _ in members.members]

    def on_epoch_end(self, epoch, logs=None):
        """Record every live member's epoch; stop one whose value is not finite."""
        losses = np.asarray(logs["member_loss"], dtype="float32")
        val_losses = np.asarray(logs["val_member_loss"], dtype="float32")
        alphas, weights = self.members.alphas(), None
        for k, outcome in enumerate(self.outcomes):
            if outcome.error is not None:  # stopped at an earlier epoch
                continue
            values = {names.LOSS: float(losses[k]), names.VAL_LOSS: float(val_losses[k])}
            if alphas[k] is not None:
                values[names.ALPHA_REAL], values[names.ALPHA_IMAG] = map(float, alphas[k])
            for key, value in values.items():
                outcome.history.setdefault(key, []).append(value)
            outcome.error = nonfinite(values, epoch)
            if outcome.error is not None:
                weights = weights or self.members.weights()
                outcome.weights = weights[k]
        if all(outcome.error is not None for outcome in self.outcomes):
            self.model.stop_training = True


def compile_population(model: keras.Model, spec: RunSpec, total_steps: int) -> None:
    """Compile as each member's single run is compiled (loss aside: the model computes it)."""
    train = spec.train
    chosen = training_optimizer(
        model,
        train.optimizer,
        train.learning_rate,
        train.schedule,
        total_steps,
        train.alpha_learning_rate,
    )
    model.compile(
        optimizer=chosen, steps_per_execution=train.steps_per_execution, jit_compile=False
    )


def fit_population(
    model: keras.Model, members: Members, data: PreparedData, spec: RunSpec
) -> tuple[list[MemberOutcome], float]:
    """Fit on the members' common data, batches in their single runs' order; returns each
    member's outcome and the fit's seconds."""
    recorder = MemberRecorder(members)
    stacked = spec.output == "stacked"
    start = time.perf_counter()
    with nothing_to_train_is_fine():
        fit_on(
            model.fit,
            data.train,
            data.validation,
            spec.train.batch_size,
            spec.train.epochs,
            spec.seed,
            stacked,
            callbacks=[recorder],
        )
    seconds = time.perf_counter() - start
    weights = None
    for k, outcome in enumerate(recorder.outcomes):
        if outcome.weights is None:
            weights = weights or members.weights()
            outcome.weights = weights[k]
    return recorder.outcomes, seconds
