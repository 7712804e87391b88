"""The two approaches as Keras sees them: weights, gradients, training, saving, reloading."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src import testing  # Keras's own layer harness: not public API, the strictest check

from alphalab import formulas
from alphalab.config.spec import FormulaSpec
from alphalab.layers import ComplexAlpha, ComplexGain, StackParts
from alphalab.model.build import alpha_of, build_model
from alphalab.model.compile import compile_model

OSC = FormulaSpec("oscillation")
X = np.linspace(0.0, 6.0, 256, dtype="float32")[:, None]


class KerasLayerHarness(testing.TestCase):
    """Config round trip, weight counts, shapes, a fit step, mixed precision."""

    def test_complex_alpha(self):
        self.run_layer_test(
            ComplexAlpha,
            init_kwargs={"formula": "oscillation", "alpha_real": 0.5, "alpha_imag": 2.0},
            input_shape=(4, 1),
            expected_output_shape=((4, 1), (4, 1)),
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            supports_masking=False,
        )

    def test_complex_alpha_with_formula_arguments(self):
        self.run_layer_test(
            ComplexAlpha,
            init_kwargs={
                "formula": formulas.scaled,
                "alpha_real": 1.5,
                "alpha_imag": -0.5,
                "formula_kwargs": {"f": "tanh", "g": "square"},
            },
            input_shape=(4, 1),
            expected_output_shape=((4, 1), (4, 1)),
            expected_num_trainable_weights=1,
            supports_masking=False,
        )

    def test_complex_gain(self):
        self.run_layer_test(
            ComplexGain,
            init_kwargs={},
            input_shape=((4, 1), (4, 1)),
            expected_output_shape=((4, 1), (4, 1)),
            expected_num_trainable_weights=1,
            supports_masking=False,
        )


def test_complex_alpha_has_exactly_one_weight_the_kernel():
    layer = ComplexAlpha(formulas.oscillation, alpha_real=0.3, alpha_imag=1.7, name="alpha")
    layer.build((None, 1))
    assert len(layer.weights) == 1 and len(layer.trainable_weights) == 1
    kernel = layer.trainable_weights[0]
    assert kernel.path == "alpha/kernel"
    assert tuple(kernel.shape) == (2,)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), [0.3, 1.7])


def test_complex_alpha_returns_a_tuple_equal_to_the_formula():
    layer = ComplexAlpha(formulas.oscillation, alpha_real=0.3, alpha_imag=1.7)
    out = layer(X)
    assert isinstance(out, tuple) and len(out) == 2
    expected = formulas.oscillation(X, 0.3, 1.7)
    for got, want in zip(out, expected, strict=True):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), rtol=1e-6
        )


def test_config_round_trip_keeps_formula_and_alpha():
    layer = ComplexAlpha(formulas.scaled, 1.5, -0.5, formula_kwargs={"f": "exp", "g": "sin"})
    clone = ComplexAlpha.from_config(layer.get_config())
    assert clone.formula is formulas.scaled
    assert (clone.alpha_real, clone.alpha_imag) == (1.5, -0.5)
    assert clone.formula_kwargs == {"f": "exp", "g": "sin"}


def test_lambda_model_has_no_trainable_alpha():
    model = build_model("lambda", OSC, (0.5, 2.0), n_features=1)
    assert model.trainable_weights == []
    assert isinstance(model.get_layer("alpha"), keras.layers.Lambda)
    assert alpha_of(model) is None


def test_trainable_model_has_only_the_kernel():
    model = build_model("trainable", OSC, (0.5, 2.0), n_features=1)
    assert [w.path for w in model.trainable_weights] == ["alpha/kernel"]


def test_head_is_identical_for_both_approaches():
    for approach in ("lambda", "trainable"):
        model = build_model(approach, OSC, (0.5, 2.0), n_features=1, head="gain")
        head = [w.path for w in model.trainable_weights if not w.path.startswith("alpha/")]
        assert head == ["head/kernel"]


def test_gradients_reach_the_kernel():
    model = build_model("trainable", OSC, (1.0, 1.5), n_features=1)
    target_real, target_imag = formulas.oscillation(X, 0.5, 2.0)
    with tf.GradientTape() as tape:
        out = model(X)
        loss = keras.ops.mean((out["real"] - target_real) ** 2 + (out["imag"] - target_imag) ** 2)
    (grad,) = tape.gradient(loss, model.trainable_weights)
    grad = keras.ops.convert_to_numpy(grad)
    assert grad.shape == (2,) and np.all(np.abs(grad) > 1e-4)


def test_fit_moves_the_kernel_towards_the_truth():
    model = compile_model(build_model("trainable", OSC, (1.0, 1.5), n_features=1), "adam", 0.05)
    real, imag = (keras.ops.convert_to_numpy(t) for t in formulas.oscillation(X, 0.5, 2.0))
    before = abs(complex(*alpha_of(model)) - (0.5 + 2.0j))
    model.fit(X, {"real": real, "imag": imag}, epochs=5, batch_size=32, verbose=0)
    after = abs(complex(*alpha_of(model)) - (0.5 + 2.0j))
    assert after < before / 2


@pytest.mark.parametrize("approach", ["lambda", "trainable"])
@pytest.mark.parametrize("output", ["pair", "stacked"])
def test_save_and_reload_in_safe_mode_gives_identical_predictions(tmp_path, approach, output):
    model = build_model(approach, OSC, (0.7, 1.9), n_features=1, head="gain", output=output)
    compile_model(model, "adam", 0.01)
    model.optimizer.build(model.trainable_variables)  # as after a fit: its slots are saved too
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    before, after = model.predict(X, verbose=0), reloaded.predict(X, verbose=0)
    if output == "pair":
        assert set(before) == {"real", "imag"}
        for key in before:
            np.testing.assert_array_equal(before[key], after[key])
    else:
        assert before.shape == (len(X), 2)
        np.testing.assert_array_equal(before, after)


def test_stacked_model_is_sequential_with_last_axis_two():
    model = build_model("trainable", OSC, (0.7, 1.9), n_features=1, output="stacked")
    assert isinstance(model, keras.Sequential)
    assert model.output_shape == (None, 2)
    stacked = keras.ops.convert_to_numpy(model(X))
    real, imag = formulas.oscillation(X, 0.7, 1.9)
    np.testing.assert_allclose(stacked[:, :1], keras.ops.convert_to_numpy(real), rtol=1e-6)
    np.testing.assert_allclose(stacked[:, 1:], keras.ops.convert_to_numpy(imag), rtol=1e-6)


def test_model_with_a_user_formula_reloads_in_safe_mode(tmp_path):
    spec = FormulaSpec("tests.user_formulas.sinc_pair")
    model = build_model("trainable", spec, (2.0, 0.5), n_features=1)
    model.save(tmp_path / "user.keras")
    reloaded = keras.saving.load_model(tmp_path / "user.keras", safe_mode=True)
    np.testing.assert_array_equal(
        model.predict(X, verbose=0)["real"], reloaded.predict(X, verbose=0)["real"]
    )


def test_stack_parts_concatenates():
    real, imag = np.ones((3, 1), "float32"), np.zeros((3, 1), "float32")
    out = keras.ops.convert_to_numpy(StackParts()((real, imag)))
    np.testing.assert_array_equal(out, np.concatenate([real, imag], axis=1))
