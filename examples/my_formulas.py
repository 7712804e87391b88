"""A formula of your own, as the docs show it (docs/getting-started/your-formula.md).

Use it with ``python -m experiments.run formula=custom formula.name=my_formulas.damped_sine``
from a folder where ``my_formulas`` is importable. alphalab needs no edit.
"""

from keras import ops


def damped_sine(x, alpha_real, alpha_imag):
    """A damped sine in the real part and zeros in the imaginary part, written with keras.ops."""
    return ops.exp(-alpha_real * x) * ops.sin(alpha_imag * x), ops.zeros_like(x)
