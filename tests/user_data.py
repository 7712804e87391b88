"""Data loaders as a user would write them (named by dotted path as task.loader in tests)."""

import numpy as np


def damped_signal(n=400, noise=0.05, seed=0, last_shift=0.0, last=0):
    """A damped oscillation with decay 0.5 and frequency 2 over x in [0, 6], plus noise;
    ``last_shift`` is added to the targets of the final ``last`` rows only."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 6.0, n))
    envelope = np.exp(-0.5 * x)
    shift = np.where(np.arange(n) >= n - last, last_shift, 0.0)
    return {
        "x": x,
        "y_real": envelope * np.cos(2.0 * x) + rng.normal(0, noise, n) + shift,
        "y_imag": envelope * np.sin(2.0 * x) + rng.normal(0, noise, n) + shift,
    }


def pure_noise(n=400, seed=0):
    """Targets with no signal at all: nothing can beat predicting the mean."""
    rng = np.random.default_rng(seed)
    return {"x": rng.uniform(0.0, 6.0, n), "y_real": rng.normal(0, 1, n)}


def raises():
    """A loader with a bug."""
    raise OSError("the database is not there")


def not_a_mapping():
    """A loader that returns the wrong thing."""
    return [1, 2, 3]
