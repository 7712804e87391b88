"""Keras optimizers that give alpha a learning rate of its own.

A narrow basin needs smaller steps for alpha than for the rest of a model. Keras 3 has one
learning rate per optimizer, so ``with_alpha_rate(Adam)`` is Adam whose update of the variables
marked as alpha (``alphalab.layers.mark_alpha``) uses ``learning_rate * alpha_rate_factor`` (a
schedule scales both alike). Registered with Keras, so a model saved with it reloads in safe
mode, and the mark is set again when the reloaded layer builds.
"""

from __future__ import annotations

import keras

PACKAGE = "alphalab"


def _is_alpha(variable) -> bool:
    return getattr(variable, "_alphalab_alpha", False)


class _AlphaRate:
    """Mixin over a Keras optimizer: a separate rate for the alpha variables."""

    def __init__(self, *args, alpha_rate_factor=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha_rate_factor = float(alpha_rate_factor)
        self._alpha_keys: set = set()

    def build(self, variables):
        """Build the slots, and remember which variables are alpha's."""
        super().build(variables)
        self._alpha_keys = {self._var_key(v) for v in variables if _is_alpha(v)}

    def update_step(self, gradient, variable, learning_rate):
        """The parent's update, at the alpha rate for alpha's variables."""
        if self._var_key(variable) in self._alpha_keys:
            learning_rate = learning_rate * self.alpha_rate_factor
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        """The parent's config plus the alpha rate."""
        return {**super().get_config(), "alpha_rate_factor": self.alpha_rate_factor}


def _subclass(base: type) -> type:
    name = f"{base.__name__}WithAlphaRate"
    cls = type(name, (_AlphaRate, base), {"__doc__": f"{base.__name__} with an alpha rate."})
    return keras.saving.register_keras_serializable(package=PACKAGE, name=name)(cls)


WITH_ALPHA_RATE = {
    base: _subclass(base)
    for base in (
        keras.optimizers.Adam,
        keras.optimizers.AdamW,
        keras.optimizers.RMSprop,
        keras.optimizers.SGD,
    )
}


def with_alpha_rate(base: type) -> type:
    """The registered subclass of ``base`` (one of the optimizers alphalab offers)."""
    return WITH_ALPHA_RATE[base]
