"""A Keras model of your own around alphalab's alpha layer (docs/getting-started/your-model.md).

Use it with ``python -m experiments.run +sweep=alpha model.builder=my_models.with_trend
+model.kwargs.units=4`` from a folder where ``my_models`` is importable.
"""

import keras


def with_trend(alpha_layer, input_shape, units=8):
    """The formula at this run's alpha, plus a small Dense trend branch added to the real part."""
    x = keras.Input(input_shape)
    real, imag = alpha_layer(x)  # the formula at this run's alpha
    trend = keras.layers.Dense(1)(keras.layers.Dense(units, activation="tanh")(x))
    return keras.Model(x, {"real": keras.layers.Add()([real, trend]), "imag": imag})
