"""Build a run's model: alphalab makes the alpha layer (a Lambda with alpha as constants, or
ComplexAlpha with alpha learned) and hands it to a builder, the built-in one or the user's, so
that alpha is the only difference between the two approaches."""

from __future__ import annotations

from collections.abc import Iterator

import keras
from keras import ops

from alphalab import formulas
from alphalab.config import ConfigError, first_line
from alphalab.config.names import Approach, learns
from alphalab.config.paths import import_callable
from alphalab.config.spec import Alpha, FormulaSpec, ModelSpec
from alphalab.layers import ComplexAlpha, ComplexGain, StackParts
from alphalab.model.keras_internals import flattened_layers, fresh_names

ALPHA_LAYER = "alpha"
HEAD_LAYER = "head"
PARTS = ("real", "imag")


def alpha_layer(approach: str, formula: FormulaSpec, alpha: tuple[float, float]):
    """The only place where the two approaches differ."""
    fn = formulas.resolve(formula.name)
    if learns(approach):
        layer = ComplexAlpha(fn, *alpha, formula_kwargs=formula.kwargs, name=ALPHA_LAYER)
        layer.tuned = approach == Approach.TUNED  # its kernel steps on validation batches
        return layer
    arguments = {"alpha_real": alpha[0], "alpha_imag": alpha[1], **formula.kwargs}
    return keras.layers.Lambda(fn, arguments=arguments, name=ALPHA_LAYER)


def standard_model(
    layer: keras.layers.Layer,
    input_shape: tuple[int, ...],
    head: str = "none",
    output: str = "pair",
) -> keras.Model:
    """The built-in architecture, ``Input -> alpha layer -> [complex gain] -> outputs``:
    ``pair`` (functional, outputs ``real`` and ``imag``) or ``stacked`` (Sequential, one output
    with a last axis of 2)."""
    tail = [ComplexGain(name=HEAD_LAYER)] if head == "gain" else []
    inputs = keras.Input(input_shape, name="x")
    if output == "stacked":
        return keras.Sequential([inputs, layer, *tail, StackParts(name="stacked")])
    real, imag = layer(inputs)
    for extra in tail:
        real, imag = extra((real, imag))
    return keras.Model(inputs, {"real": real, "imag": imag}, name="alphalab")


def build_model(
    approach: str,
    formula: FormulaSpec,
    alpha: tuple[float, float],
    n_features: int,
    head: str = "none",
    output: str = "pair",
) -> keras.Model:
    """The built-in model for ``formula`` on inputs with ``n_features`` columns; a ConfigError
    naming ``formula`` if the formula does not fit them."""
    model, _ = build(approach, formula, alpha, ModelSpec(head, output), (n_features,))
    return model


def build(
    approach: str,
    formula: FormulaSpec,
    alpha: tuple[float, float],
    spec: ModelSpec,
    input_shape: tuple[int, ...],
    has_imag: bool = True,
) -> tuple[keras.Model, keras.layers.Layer]:
    """An uncompiled model and its alpha layer, from the built-in builder or ``model.builder``;
    a ConfigError when the model cannot be built or does not fit the data."""
    layer = alpha_layer(approach, formula, alpha)
    if spec.builder is None:
        try:
            with fresh_names():
                model = standard_model(layer, input_shape, spec.head, spec.output)
        except Exception as exc:  # noqa: BLE001 - the user's formula can fail in any way
            raise ConfigError(
                f"formula: '{formula.name}' fails on x with {_columns(input_shape)}: "
                f"{first_line(exc)}"
            ) from None
        shapes = list(output_shapes(model).values())
        if any(shape[-1:] != (2 if spec.output == "stacked" else 1,) for shape in shapes):
            raise ConfigError(
                f"formula: '{formula.name}' maps x with {_columns(input_shape)} to outputs of "
                f"shape {', '.join(str(s) for s in shapes)}; each part must have one column"
            )
        return model, layer
    builder = import_callable(spec.builder)
    try:
        with fresh_names():
            model = builder(layer, input_shape, **spec.kwargs)
    except Exception as exc:  # noqa: BLE001 - the user's code can fail in any way
        raise ConfigError(
            f"model.builder: '{spec.builder}' raised {type(exc).__name__}: {first_line(exc)}"
        ) from None
    check_built(model, layer, spec, has_imag, input_shape)
    return model, layer


def check_built(model, layer, spec: ModelSpec, has_imag: bool, input_shape: tuple) -> None:
    """A user's model must be a keras.Model that uses the given alpha layer and whose outputs
    the data has targets for."""
    where = f"model.builder: '{spec.builder}'"
    if not isinstance(model, keras.Model):
        raise ConfigError(f"{where} returned {type(model).__name__}, not a keras.Model")
    used = any(found is layer for found in all_layers(model))
    if not used or not _calls(model, layer, input_shape):
        raise ConfigError(
            f"{where} does not use the alpha layer it was given (call it on a tensor of the model)"
        )
    outputs = output_shapes(model)
    if spec.output == "stacked":
        if list(outputs) != ["output"] or outputs["output"] != (2,):
            raise ConfigError(
                f"{where}: model.output=stacked needs one output of shape (batch, 2), got {outputs}"
            )
        return
    unknown = [name for name in outputs if name not in PARTS]
    if unknown or "real" not in outputs:
        raise ConfigError(
            f"{where}: the data has targets for outputs 'real' and 'imag' only, the model's "
            f"outputs are {sorted(outputs)} (return keras.Model(inputs, {{'real': r, 'imag': i}}))"
        )
    for name, sample in outputs.items():
        if sample != (1,):
            shape = ", ".join(map(str, sample))
            raise ConfigError(
                f"{where}: output '{name}' has shape (batch, {shape}); its targets have shape "
                "(batch, 1)"
            )
    if has_imag and "imag" not in outputs:
        raise ConfigError(f"{where}: the data has y_imag but the model has no output 'imag'")


def _calls(model: keras.Model, layer: keras.layers.Layer, input_shape: tuple) -> bool:
    """Whether the model calls ``layer`` on a batch (a subclassed model may hold a layer it
    never calls)."""
    import numpy as np

    calls = []
    original = layer.call

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    object.__setattr__(layer, "call", counting)
    try:
        model(np.zeros((2, *input_shape), "float32"))
    except Exception as exc:  # noqa: BLE001 - the user's model can fail in any way
        message = f"model.builder: the model fails on a batch of x: {first_line(exc)}"
        raise ConfigError(message) from None
    finally:
        object.__delattr__(layer, "call")
    return bool(calls)


def output_shapes(model: keras.Model) -> dict[str, tuple]:
    """The shape of one sample of each output, by output name (``output`` for a single unnamed
    one)."""
    if isinstance(model, keras.Sequential):  # may build lazily: no symbolic output to read
        return {"output": tuple(model.output_shape[1:])}
    output = model.output
    if isinstance(output, dict):
        return {name: tuple(tensor.shape[1:]) for name, tensor in output.items()}
    if isinstance(output, list | tuple):
        return {f"output_{i}": tuple(tensor.shape[1:]) for i, tensor in enumerate(output)}
    return {"output": tuple(output.shape[1:])}


def _columns(input_shape: tuple[int, ...]) -> str:
    return f"{input_shape[0]} column(s)" if len(input_shape) == 1 else f"shape {input_shape}"


def all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of a model, inside nested models and custom layers too."""
    flattened = flattened_layers(model)
    if flattened is not None:
        yield from flattened
        return
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def is_stacked(model: keras.Model) -> bool:
    """One output with a last axis of 2 (``model.output=stacked``), not named parts."""
    return list(output_shapes(model)) == ["output"]


def alpha_layers(model: keras.Model) -> list[ComplexAlpha]:
    """The model's learned-alpha layers, found by their type."""
    return [layer for layer in all_layers(model) if isinstance(layer, ComplexAlpha)]


def alpha_of(model: keras.Model) -> Alpha | None:
    """The learned alpha of a model holding a ComplexAlpha layer (found by its type), None for a
    model whose alpha is fixed."""
    learned = alpha_layers(model)
    if not learned:
        return None
    real, imag = ops.convert_to_numpy(learned[0].kernel)
    return Alpha(float(real), float(imag))
