"""The model of the sunspots example (``model.builder=examples.sunspots.model.build``): more
than the built-in architecture, a trend branch beside the alpha oscillation.

    x -> alpha layer (exp(-a_r x) (cos a_i x, sin a_i x)) -> complex gain -> real part ─┐
    x -> x / x_scale -> Dense (linear trend, or a small tanh MLP) ─────────────────────── + -> real

The gain fits the cycle's amplitude and phase, the trend the slow changes of the mean level (the
Maunder and Dalton minima, the Modern Maximum), so alpha only has to explain the cycle itself.
"""

from __future__ import annotations

import keras

from alphalab.layers import ComplexGain


def build(alpha_layer, input_shape, trend: str = "linear", x_scale: float = 100.0, hidden: int = 8):
    """The example's model around ``alpha_layer``; output ``real`` only (the data is real)."""
    x = keras.Input(input_shape, name="x")
    cycle, quadrature = alpha_layer(x)
    cycle, _ = ComplexGain(name="gain")((cycle, quadrature))
    level = keras.layers.Rescaling(1.0 / x_scale, name="centuries")(x)
    if trend == "mlp":
        level = keras.layers.Dense(hidden, activation="tanh", name="trend_hidden")(level)
    elif trend != "linear":
        raise ValueError(f"trend must be 'linear' or 'mlp', got {trend!r}")
    level = keras.layers.Dense(1, name="trend")(level)
    return keras.Model(x, {"real": keras.layers.Add(name="real")([cycle, level])}, name="sunspots")
