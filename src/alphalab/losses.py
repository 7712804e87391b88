"""Keras losses alphalab compiles with, registered so that saved models reload in safe mode."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="alphalab")
class RealPart(keras.losses.Loss):
    """A loss on the real part of a stacked output only (data without ``y_imag``).

    Args:
        loss: the name of any Keras loss (``keras.losses.get``), applied to ``[..., :1]``.
    """

    def __init__(self, loss: str = "mse", **kwargs):
        kwargs.setdefault("name", f"real_part_{loss}")
        super().__init__(**kwargs)
        self.loss = loss
        self._fn = keras.losses.get(loss)

    def call(self, y_true, y_pred):
        """The loss between the real parts."""
        return self._fn(y_true[..., :1], y_pred[..., :1])

    def get_config(self):
        """What ``__init__`` takes."""
        return {**super().get_config(), "loss": self.loss}


def check_loss(name: str) -> None:
    """Raise ValueError unless ``keras.losses.get`` knows ``name``."""
    try:
        keras.losses.get(name)
    except (ValueError, TypeError):
        raise ValueError(f"unknown loss {name!r}") from None
