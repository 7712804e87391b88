"""Compile a model: the loss on each part, the optimizer by name with alpha's own rate, the
learning-rate schedule."""

from __future__ import annotations

import keras

from alphalab.config.spec import TrainSpec
from alphalab.layers import is_alpha
from alphalab.losses import RealPart
from alphalab.model.build import is_stacked
from alphalab.optimizers import with_alpha_rate


def optimizer(
    name: str,
    learning_rate: float,
    schedule: str = "constant",
    total_steps: int = 1,
    alpha_learning_rate: float | None = None,
):
    """The optimizer ``name`` (any of ``config.names.OPTIMIZERS``, as Keras spells them);
    ``schedule="cosine"`` decays the rate to 0 over ``total_steps`` so that learned alphas
    settle; the variables marked as alpha move at ``alpha_learning_rate`` instead."""
    rate = learning_rate
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, max(total_steps, 1))
    base = type(keras.optimizers.get(name))
    if alpha_learning_rate is None or alpha_learning_rate == learning_rate:
        return base(learning_rate=rate)
    factor = alpha_learning_rate / learning_rate
    return with_alpha_rate(base)(learning_rate=rate, alpha_rate_factor=factor)


def losses(model: keras.Model, loss: str, has_imag: bool):
    """The loss ``loss`` on each part the data has targets for."""
    if is_stacked(model):
        return loss if has_imag else RealPart(loss)
    return {part: loss for part in model.output if part == "real" or has_imag}


def training_optimizer(
    model: keras.Model,
    optimizer_name: str,
    learning_rate: float,
    schedule: str,
    total_steps: int,
    alpha_learning_rate: float | None,
):
    """The optimizer ``model`` trains with; alpha is kept out of weight decay (AdamW would pull
    it towards 0)."""
    chosen = optimizer(optimizer_name, learning_rate, schedule, total_steps, alpha_learning_rate)
    alpha = [v for v in model.trainable_variables if is_alpha(v)]
    if alpha and getattr(chosen, "weight_decay", None):
        chosen.exclude_from_weight_decay(var_list=alpha)
    return chosen


def compile_model(
    model: keras.Model,
    optimizer_name: str,
    learning_rate: float,
    has_imag: bool = True,
    steps_per_execution: int = 1,
    schedule: str = "constant",
    total_steps: int = 1,
    loss: str = "mse",
    alpha_learning_rate: float | None = None,
) -> keras.Model:
    """Compile with ``loss`` on each part (the real part only without ``y_imag``)."""
    chosen = training_optimizer(
        model, optimizer_name, learning_rate, schedule, total_steps, alpha_learning_rate
    )
    model.compile(
        optimizer=chosen,
        loss=losses(model, loss, has_imag),
        steps_per_execution=steps_per_execution,
        jit_compile=False,
    )
    return model


def compile_for_training(
    model: keras.Model, train: TrainSpec, has_imag: bool, total_steps: int
) -> keras.Model:
    """Compile as a job's ``train`` settings say."""
    return compile_model(
        model,
        train.optimizer,
        train.learning_rate,
        has_imag,
        train.steps_per_execution,
        train.schedule,
        total_steps,
        train.loss,
        train.alpha_learning_rate,
    )
