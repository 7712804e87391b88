"""Compile a model (the loss on each part, the optimizer by name with alpha's own rate, the
learning-rate schedule), and reuse compiled models across the jobs of one process."""

from __future__ import annotations

import keras
from keras import ops

from alphalab.config.spec import FormulaSpec, ModelSpec, TrainSpec
from alphalab.layers import is_alpha
from alphalab.losses import RealPart
from alphalab.model.build import alpha_layers, build, is_stacked
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


# Tracing the train and test functions costs more than a whole small fit. Jobs of one process
# that differ only in where alpha starts (or in the seed) therefore share one compiled model,
# given the weights a fresh build would have before each fit.
_COMPILED: dict[tuple, keras.Model] = {}
_MAX_COMPILED = 64


def compiled_model(
    approach: str,
    formula: FormulaSpec,
    alpha: tuple[float, float],
    model_spec: ModelSpec,
    input_shape: tuple[int, ...],
    train: TrainSpec,
    has_imag: bool,
    total_steps: int,
) -> keras.Model:
    """A compiled model in the state a fresh build would have: built and compiled on first use,
    then reused.

    A model holding a learned alpha is shared across starting alphas and seeds: a fresh twin is
    built (so initial weights follow the seed exactly as they would) and its weights copied in.
    A Lambda model holds alpha as a constant in its graph, so it is shared only across seeds.
    """
    key = (
        approach,
        formula.name,
        repr(sorted(formula.kwargs.items())),
        model_spec.head,
        model_spec.output,
        model_spec.builder,
        repr(sorted(model_spec.kwargs.items())),
        input_shape,
        train,
        has_imag,
        total_steps,
        tuple(alpha) if approach == "lambda" else None,
    )
    twin, layer = build(approach, formula, alpha, model_spec, input_shape, has_imag)
    model = _COMPILED.get(key)
    if model is None:
        compile_for_training(twin, train, has_imag, total_steps)
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = twin
        return twin
    model.set_weights(twin.get_weights())
    for cached, fresh in zip(alpha_layers(model), alpha_layers(twin), strict=True):
        cached.alpha_real, cached.alpha_imag = fresh.alpha_real, fresh.alpha_imag  # its config
    for variable in model.optimizer.variables:
        if variable.name != "learning_rate":  # a constant rate is a variable too: keep it
            variable.assign(ops.zeros_like(variable))
    return model
