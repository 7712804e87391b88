"""A user's own formula, as a user would write it outside alphalab (used by the tests)."""

from keras import ops

NOT_CALLABLE = 42


def sinc_pair(x, alpha_real, alpha_imag):
    """(alpha_real * sin(x)/x, alpha_imag * cos(x)) — sin(x)/x written safely at 0."""
    safe = ops.where(ops.abs(x) < 1e-6, ops.ones_like(x), x)
    sinc = ops.where(ops.abs(x) < 1e-6, ops.ones_like(x), ops.sin(safe) / safe)
    return alpha_real * sinc, alpha_imag * ops.cos(x)
