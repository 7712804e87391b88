"""Model builders as a user would write them, outside alphalab (named by dotted path in tests)."""

import keras


def with_offset_branch(alpha_layer, input_shape, units=4):
    """The alpha formula plus a small Dense branch on x added to the real part."""
    inputs = keras.Input(input_shape, name="x")
    real, imag = alpha_layer(inputs)
    hidden = keras.layers.Dense(units, activation="tanh", name="branch_hidden")(inputs)
    offset = keras.layers.Dense(1, name="branch_out")(hidden)
    real = keras.layers.Add(name="real_sum")([real, offset])
    return keras.Model(inputs, {"real": real, "imag": imag}, name="user_model")


def stacked(alpha_layer, input_shape):
    """One output with a last axis of 2, as a Sequential-style user model would give."""
    inputs = keras.Input(input_shape)
    real, imag = alpha_layer(inputs)
    return keras.Model(inputs, keras.layers.Concatenate()([real, imag]))


def raises(alpha_layer, input_shape):
    """A builder with a bug."""
    raise RuntimeError("the user's builder is broken")


def ignores_alpha(alpha_layer, input_shape):
    """A builder that forgets to use the alpha layer it was given."""
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, {"real": keras.layers.Dense(1)(inputs)})


def unknown_outputs(alpha_layer, input_shape):
    """Outputs the data has no targets for."""
    inputs = keras.Input(input_shape)
    real, imag = alpha_layer(inputs)
    return keras.Model(inputs, {"signal": real, "imag": imag})


def regularised(alpha_layer, input_shape):
    """A branch with an L2 penalty: its loss belongs to its own member."""
    inputs = keras.Input(input_shape)
    real, imag = alpha_layer(inputs)
    offset = keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.1))(inputs)
    return keras.Model(inputs, {"real": keras.layers.Add()([real, offset]), "imag": imag})


class _BreaksInTraining(keras.layers.Layer):
    """Passes x through when predicting; raises when trained (a bug that only a fit finds)."""

    def call(self, inputs, training=None):
        if training:
            raise ValueError("this layer breaks in training")
        return inputs


def breaks_in_training(alpha_layer, input_shape):
    """A model that builds and predicts but cannot be fitted."""
    inputs = keras.Input(input_shape)
    real, imag = alpha_layer(_BreaksInTraining()(inputs))
    return keras.Model(inputs, {"real": real, "imag": imag})
