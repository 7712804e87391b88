"""Keras layers of alphalab: the trainable alpha, the optional complex-gain head, the stacker."""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

# Importing alphalab.layers registers every Keras object a saved alphalab model may hold.
from alphalab import formulas, losses, optimizers  # noqa: F401

PACKAGE = "alphalab"


def _formula_from_config(formula: Callable | str | dict) -> Callable:
    if callable(formula):
        return formula
    if isinstance(formula, str):
        return formulas.resolve(formula)
    return keras.saving.deserialize_keras_object(formula)


def mark_alpha(variable) -> None:
    """Mark a variable as holding alpha: ``alphalab.optimizers`` give it alpha's own learning
    rate (a mark, not a name: a user's model may have other weights called ``alpha``)."""
    variable._alphalab_alpha = True


def is_alpha(variable) -> bool:
    """Whether ``mark_alpha`` marked the variable."""
    return getattr(variable, "_alphalab_alpha", False)


def mark_tuned(variable) -> None:
    """Mark an alpha variable as tuned on validation rows (``approach=tuned``): a fit steps it
    with the gradient of the validation loss, every other weight with the training loss's."""
    variable._alphalab_tuned = True


def is_tuned(variable) -> bool:
    """Whether ``mark_tuned`` marked the variable."""
    return getattr(variable, "_alphalab_tuned", False)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ComplexAlpha(keras.layers.Layer):
    """Applies ``formula(x, alpha_real, alpha_imag)`` with alpha learned by backpropagation.

    The only weight is ``kernel``, shape (2,), holding ``(alpha_real, alpha_imag)``.
    ``call`` returns the tuple ``(real_part, imag_part)``.
    """

    def __init__(
        self,
        formula: Callable | str | dict,
        alpha_real: float = 1.0,
        alpha_imag: float = 0.0,
        formula_kwargs: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.formula = _formula_from_config(formula)
        self.alpha_real = float(alpha_real)
        self.alpha_imag = float(alpha_imag)
        self.formula_kwargs = dict(formula_kwargs or {})

    def build(self, input_shape):
        """The kernel ``(alpha_real, alpha_imag)``, marked as alpha for alphalab's optimizers."""
        self.kernel = self.add_weight(
            name="kernel",
            shape=(2,),
            initializer=keras.initializers.Constant([self.alpha_real, self.alpha_imag]),
            trainable=True,
        )
        mark_alpha(self.kernel)
        if getattr(self, "tuned", False):  # set by alphalab for approach=tuned (not config)
            mark_tuned(self.kernel)

    def call(self, inputs):
        """The formula at the kernel's alpha."""
        return self.formula(inputs, self.kernel[0], self.kernel[1], **self.formula_kwargs)

    def compute_output_shape(self, input_shape):
        """Traced from the formula itself."""
        x = keras.KerasTensor(input_shape, dtype=self.compute_dtype)
        real, imag = self.formula(x, self.alpha_real, self.alpha_imag, **self.formula_kwargs)
        return tuple(real.shape), tuple(imag.shape)

    def get_config(self):
        """What ``__init__`` takes; the formula by its registered name."""
        return {
            **super().get_config(),
            "formula": keras.saving.serialize_keras_object(self.formula),
            "alpha_real": self.alpha_real,
            "alpha_imag": self.alpha_imag,
            "formula_kwargs": dict(self.formula_kwargs),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class ComplexGain(keras.layers.Layer):
    """Trainable complex gain ``c = c_real + i*c_imag`` multiplied onto ``(real, imag)``.

    Lets a model fit a signal whose amplitude and phase are unknown, so that alpha only has to
    explain the shape. Initialised to ``c = 1``.
    """

    def build(self, input_shape):
        """The kernel ``(c_real, c_imag)``, starting at 1."""
        self.kernel = self.add_weight(
            name="kernel",
            shape=(2,),
            initializer=keras.initializers.Constant([1.0, 0.0]),
            trainable=True,
        )

    def call(self, inputs):
        """``c * (real + i*imag)``."""
        real, imag = inputs
        c_real, c_imag = self.kernel[0], self.kernel[1]
        return c_real * real - c_imag * imag, c_real * imag + c_imag * real

    def compute_output_shape(self, input_shape):
        """The shapes of the two parts, unchanged."""
        return tuple(input_shape[0]), tuple(input_shape[1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class StackParts(keras.layers.Layer):
    """Joins ``(real, imag)`` of shape (batch, 1) each into one tensor of shape (batch, 2)."""

    def call(self, inputs):
        """``[real, imag]`` along the last axis."""
        real, imag = inputs
        return ops.concatenate([real, imag], axis=-1)

    def compute_output_shape(self, input_shape):
        """The parts' shape with the last axes added."""
        real_shape, imag_shape = input_shape
        return (*real_shape[:-1], real_shape[-1] + imag_shape[-1])
