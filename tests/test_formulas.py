"""Each built-in formula against a numpy reference, and the formula registry."""

import keras
import numpy as np
import pytest

from alphalab import formulas
from alphalab.config import names as catalog

X1 = np.linspace(-2.0, 3.0, 41, dtype="float32")[:, None]
X2 = np.random.default_rng(0).normal(size=(41, 2)).astype("float32")
NP_BASIS = {
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "exp": np.exp,
    "identity": lambda x: x,
    "square": np.square,
}


def evaluate(fn, x, *alpha, **kwargs):
    real, imag = fn(x, *alpha, **kwargs)
    return keras.ops.convert_to_numpy(real), keras.ops.convert_to_numpy(imag)


@pytest.mark.parametrize("f", catalog.BASIS_FUNCTIONS)
@pytest.mark.parametrize("g", ["cos", "square"])
def test_scaled_matches_numpy(f, g):
    real, imag = evaluate(formulas.scaled, X1, 1.5, -0.7, f=f, g=g)
    np.testing.assert_allclose(real, 1.5 * NP_BASIS[f](X1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(imag, -0.7 * NP_BASIS[g](X1), rtol=1e-5, atol=1e-6)


def test_complex_gain_is_complex_multiplication():
    real, imag = evaluate(formulas.complex_gain, X2, 0.8, -0.6)
    expected = (0.8 - 0.6j) * (X2[:, 0] + 1j * X2[:, 1])
    np.testing.assert_allclose(real[:, 0], expected.real, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(imag[:, 0], expected.imag, rtol=1e-5, atol=1e-6)


def test_oscillation_is_damped_complex_exponential():
    real, imag = evaluate(formulas.oscillation, X1, 0.5, 2.0)
    expected = np.exp(-0.5 * X1) * np.exp(2.0j * X1)
    np.testing.assert_allclose(real, expected.real, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(imag, expected.imag, rtol=1e-5, atol=1e-6)


def test_catalog_lists_exactly_the_builtins():
    # catalog is the tensorflow-free copy the config check uses; it must not drift.
    assert set(catalog.FORMULAS) == set(formulas.BUILTIN)


@pytest.mark.parametrize("name", sorted(formulas.BUILTIN))
def test_builtins_are_registered_for_safe_loading(name):
    fn = formulas.BUILTIN[name]
    registered = keras.saving.get_registered_name(fn)
    assert registered == f"alphalab>{name}"
    assert keras.saving.get_registered_object(registered) is fn


def test_user_formula_by_dotted_path_is_resolved_and_registered():
    fn = formulas.resolve("tests.user_formulas.sinc_pair")
    from tests.user_formulas import sinc_pair

    assert fn is sinc_pair
    assert keras.saving.get_registered_name(fn) == "alphalab_user>tests.user_formulas.sinc_pair"
    real, imag = evaluate(fn, X1, 2.0, 0.5)
    np.testing.assert_allclose(real, 2.0 * np.sinc(X1 / np.pi), rtol=1e-4, atol=1e-6)
    assert formulas.resolve("tests.user_formulas.sinc_pair") is fn  # idempotent


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nodots", "not a dotted path"),
        ("no_such_module.fn", "cannot import module"),
        ("tests.user_formulas.missing", "has no attribute"),
        ("tests.user_formulas.NOT_CALLABLE", "is not callable"),
    ],
)
def test_bad_dotted_paths_say_what_did_not_resolve(path, message):
    with pytest.raises(ValueError, match=message):
        formulas.resolve(path)
