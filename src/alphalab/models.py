"""Build the model around the formula: alpha fixed in a Lambda, or learned in ComplexAlpha.

Everything but the alpha layer (inputs, head, outputs, loss, optimizer) is identical for both
approaches, so that alpha is the only difference between them.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from alphalab import formulas
from alphalab.config import ConfigError, FormulaSpec
from alphalab.layers import ComplexAlpha, ComplexGain, StackParts

ALPHA_LAYER = "alpha"
HEAD_LAYER = "head"

OPTIMIZERS: dict[str, type] = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}


@keras.saving.register_keras_serializable(package="alphalab")
def real_part_mse(y_true, y_pred):
    """MSE on the real part only: a stacked model trained on data without ``y_imag``."""
    return ops.mean(ops.square(y_true[..., 0] - y_pred[..., 0]), axis=-1)


def alpha_layer(
    approach: str, formula: Callable, formula_kwargs: dict, alpha: tuple[float, float]
) -> keras.layers.Layer:
    """The only place where the two approaches differ."""
    alpha_real, alpha_imag = alpha
    if approach == "trainable":
        return ComplexAlpha(
            formula, alpha_real, alpha_imag, formula_kwargs=formula_kwargs, name=ALPHA_LAYER
        )
    arguments = {"alpha_real": alpha_real, "alpha_imag": alpha_imag, **formula_kwargs}
    return keras.layers.Lambda(formula, arguments=arguments, name=ALPHA_LAYER)


def build_model(
    approach: str,
    formula: FormulaSpec,
    alpha: tuple[float, float],
    n_features: int,
    head: str = "none",
    output: str = "pair",
) -> keras.Model:
    """An uncompiled model: ``pair`` (functional, outputs ``real`` and ``imag``) or ``stacked``
    (Sequential, one output with a last axis of 2)."""
    fn = formulas.resolve(formula.name)
    layer = alpha_layer(approach, fn, formula.kwargs, alpha)
    tail = [ComplexGain(name=HEAD_LAYER)] if head == "gain" else []
    inputs = keras.Input((n_features,), name="x")
    try:
        if output == "stacked":
            model = keras.Sequential([inputs, layer, *tail, StackParts(name="stacked")])
            part_shapes = [model.output_shape]
        else:
            real, imag = layer(inputs)
            for extra in tail:
                real, imag = extra((real, imag))
            model = keras.Model(inputs, {"real": real, "imag": imag}, name="alphalab")
            part_shapes = [real.shape, imag.shape]
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's formula can fail in any way
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"formula: '{formula.name}' fails on x with {n_features} column(s): {message}"
        ) from None
    expected = 2 if output == "stacked" else 1
    if any(shape[-1] != expected for shape in part_shapes):
        raise ConfigError(
            f"formula: '{formula.name}' maps x with {n_features} column(s) to outputs of shape "
            f"{', '.join(str(tuple(s)) for s in part_shapes)}; each part must have one column"
        )
    return model


def compile_model(
    model: keras.Model,
    optimizer: str,
    learning_rate: float,
    has_imag: bool = True,
    steps_per_execution: int = 1,
    schedule: str = "constant",
    total_steps: int = 1,
) -> keras.Model:
    """Compile with MSE on each part; ``schedule="cosine"`` decays the rate to 0 over
    ``total_steps`` so that learned alphas settle instead of jittering around the optimum."""
    if is_stacked(model):
        loss = "mse" if has_imag else real_part_mse
    else:
        loss = {"real": "mse", "imag": "mse"} if has_imag else {"real": "mse"}
    rate = learning_rate
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, max(total_steps, 1))
    model.compile(
        optimizer=OPTIMIZERS[optimizer](learning_rate=rate),
        loss=loss,
        steps_per_execution=steps_per_execution,
        jit_compile=False,
    )
    return model


def is_stacked(model: keras.Model) -> bool:
    """``model.output=stacked`` builds a Sequential model with one output (last axis 2)."""
    return isinstance(model, keras.Sequential)


def alpha_of(model: keras.Model) -> tuple[float, float] | None:
    """The learned alpha of a trainable model, None for a Lambda model."""
    layer = model.get_layer(ALPHA_LAYER)
    if not isinstance(layer, ComplexAlpha):
        return None
    real, imag = ops.convert_to_numpy(layer.kernel)
    return float(real), float(imag)


def weights_by_name(model: keras.Model) -> dict[str, list]:
    """Every model weight by its path, e.g. ``{"alpha/kernel": [0.5, 2.0]}``."""
    return {w.path: ops.convert_to_numpy(w).tolist() for w in model.weights}


# --- compiled once per process ------------------------------------------------------------------
# Tracing the train and test functions costs about 1 s per new model here, more than the 30
# epochs of a default fit. Jobs of one process that differ only in where alpha starts (or in the
# seed) therefore share one compiled model, reset to its initial state before each fit.
_COMPILED: dict[tuple, keras.Model] = {}
_MAX_COMPILED = 64


def compiled_model(
    approach: str,
    formula: FormulaSpec,
    alpha: tuple[float, float],
    n_features: int,
    head: str,
    output: str,
    optimizer: str,
    learning_rate: float,
    has_imag: bool,
    steps_per_execution: int,
    schedule: str,
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
        optimizer,
        learning_rate,
        has_imag,
        steps_per_execution,
        schedule,
        total_steps,
        alpha if approach == "lambda" else None,
    )
    model = _COMPILED.get(key)
    if model is None:
        model = build_model(approach, formula, alpha, n_features, head, output)
        compile_model(
            model, optimizer, learning_rate, has_imag, steps_per_execution, schedule, total_steps
        )
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
