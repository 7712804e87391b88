"""Built-in formulas: ``formula(x, alpha_real, alpha_imag) -> (real_part, imag_part)``.

Each is a pure function of ``keras.ops``, registered with Keras so that a model holding it (in a
``Lambda`` layer or in ``ComplexAlpha``) saves by name and reloads with ``safe_mode=True``.
``x`` has shape ``(batch, n_features)``; both parts come back with shape ``(batch, 1)`` for the
inputs each formula is meant for.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from alphalab.config import names
from alphalab.config.paths import import_callable

PACKAGE = "alphalab"
USER_PACKAGE = "alphalab_user"

Formula = Callable[..., tuple]


def _identity(x):
    """``f(x) = x`` for the scaled formula's basis."""
    return x


_BASIS: dict[str, Callable] = {
    "sin": ops.sin,
    "cos": ops.cos,
    "tanh": ops.tanh,
    "exp": ops.exp,
    "identity": _identity,
    "square": ops.square,
}
assert tuple(_BASIS) == names.BASIS_FUNCTIONS, "alphalab.config.names lists the same functions"


@keras.saving.register_keras_serializable(package=PACKAGE)
def scaled(x, alpha_real, alpha_imag, f: str = "sin", g: str = "cos"):
    """The seed's literal shape: ``alpha_real * f(x)`` and ``alpha_imag * g(x)``."""
    return alpha_real * _BASIS[f](x), alpha_imag * _BASIS[g](x)


@keras.saving.register_keras_serializable(package=PACKAGE)
def complex_gain(x, alpha_real, alpha_imag):
    """Complex multiplication of the input pair ``x = (u_real, u_imag)`` by alpha."""
    u_real, u_imag = x[..., 0:1], x[..., 1:2]
    return alpha_real * u_real - alpha_imag * u_imag, alpha_real * u_imag + alpha_imag * u_real


@keras.saving.register_keras_serializable(package=PACKAGE)
def oscillation(x, alpha_real, alpha_imag):
    """Damped complex oscillation ``exp(-alpha * x)`` with ``alpha = alpha_real - i*alpha_imag``:
    decay rate ``alpha_real`` and angular frequency ``alpha_imag``."""
    envelope = ops.exp(-alpha_real * x)
    return envelope * ops.cos(alpha_imag * x), envelope * ops.sin(alpha_imag * x)


BUILTIN: dict[str, Formula] = {
    "scaled": scaled,
    "complex_gain": complex_gain,
    "oscillation": oscillation,
}
assert tuple(BUILTIN) == names.FORMULAS, "alphalab.config.names lists the same formulas"


def resolve(name_or_path: str) -> Formula:
    """Return a built-in formula by name, or a user's function by dotted path.

    A user's function is registered with Keras (package ``alphalab_user``) so that models holding
    it save by name and reload in safe mode in any process that resolved it first.
    """
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path]
    fn = import_callable(name_or_path)
    if ">" not in keras.saving.get_registered_name(fn):
        keras.saving.register_keras_serializable(package=USER_PACKAGE, name=name_or_path)(fn)
    return fn
