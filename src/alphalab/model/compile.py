"""Compile a model (loss per part, optimizer by name, learning-rate schedule), and reuse compiled
models across the jobs of one process."""

from __future__ import annotations

import keras
from keras import ops

from alphalab.config.spec import FormulaSpec, TrainSpec
from alphalab.layers import ComplexAlpha
from alphalab.model.build import ALPHA_LAYER, HEAD_LAYER, build_model, is_stacked


@keras.saving.register_keras_serializable(package="alphalab")
def real_part_mse(y_true, y_pred):
    """MSE on the real part only: a stacked model trained on data without ``y_imag``."""
    return ops.mean(ops.square(y_true[..., 0] - y_pred[..., 0]), axis=-1)


def optimizer(name: str, learning_rate: float, schedule: str, total_steps: int):
    """The optimizer ``name`` (any of ``config.names.OPTIMIZERS``, as Keras spells them);
    ``schedule="cosine"`` decays the rate to 0 over ``total_steps`` so that learned alphas
    settle instead of jittering around the optimum."""
    rate = learning_rate
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, max(total_steps, 1))
    return type(keras.optimizers.get(name))(learning_rate=rate)


def compile_model(
    model: keras.Model,
    optimizer_name: str,
    learning_rate: float,
    has_imag: bool = True,
    steps_per_execution: int = 1,
    schedule: str = "constant",
    total_steps: int = 1,
) -> keras.Model:
    """Compile with MSE on each part (the real part only when the data has no imaginary part)."""
    if is_stacked(model):
        loss = "mse" if has_imag else real_part_mse
    else:
        loss = {"real": "mse", "imag": "mse"} if has_imag else {"real": "mse"}
    model.compile(
        optimizer=optimizer(optimizer_name, learning_rate, schedule, total_steps),
        loss=loss,
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
    )


# Tracing the train and test functions costs more than a whole small fit. Jobs of one process
# that differ only in where alpha starts (or in the seed) therefore share one compiled model,
# reset to its initial state before each fit.
_COMPILED: dict[tuple, keras.Model] = {}
_MAX_COMPILED = 64


def compiled_model(
    approach: str,
    formula: FormulaSpec,
    alpha: tuple[float, float],
    n_features: int,
    head: str,
    output: str,
    train: TrainSpec,
    has_imag: bool,
    total_steps: int,
) -> keras.Model:
    """A compiled model in its initial state: built and compiled on first use, then reused.

    A trainable model is shared across starting alphas (its kernel is reset to ``alpha``); a
    Lambda model holds alpha as a constant in its graph, so it is shared only across seeds.
    """
    key = (
        approach,
        formula.name,
        repr(sorted(formula.kwargs.items())),
        n_features,
        head,
        output,
        train,
        has_imag,
        total_steps,
        tuple(alpha) if approach == "lambda" else None,
    )
    model = _COMPILED.get(key)
    if model is None:
        model = build_model(approach, formula, alpha, n_features, head, output)
        compile_for_training(model, train, has_imag, total_steps)
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = model
        return model
    reset(model, alpha)
    return model


def reset(model: keras.Model, alpha: tuple[float, float]) -> None:
    """Put a compiled model back in the state a fresh build would have: alpha, a neutral head,
    an optimizer that has taken no step."""
    layer = model.get_layer(ALPHA_LAYER)
    if isinstance(layer, ComplexAlpha):
        layer.kernel.assign([alpha[0], alpha[1]])
    if any(layer.name == HEAD_LAYER for layer in model.layers):
        model.get_layer(HEAD_LAYER).kernel.assign([1.0, 0.0])
    for variable in model.optimizer.variables:
        if variable.name != "learning_rate":  # a constant rate is a variable too: keep it
            variable.assign(ops.zeros_like(variable))
