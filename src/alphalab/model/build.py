"""Build the model around the formula: alpha fixed in a Lambda, or learned in ComplexAlpha.

Everything but the alpha layer (inputs, head, outputs) is identical for both approaches, so that
alpha is the only difference between them.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from alphalab import formulas
from alphalab.config import ConfigError
from alphalab.config.spec import FormulaSpec
from alphalab.layers import ComplexAlpha, ComplexGain, StackParts

ALPHA_LAYER = "alpha"
HEAD_LAYER = "head"


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
