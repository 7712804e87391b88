"""The loader of the sunspots example (``task.loader=examples.sunspots.data.load``).

The data is statsmodels' bundled copy of the yearly mean sunspot numbers, 1700-2008 (309 rows,
no gaps), read from the installed package: no network.
"""

from __future__ import annotations

import numpy as np


def load(origin: float = 1854.0, transform: str = "sqrt") -> dict[str, np.ndarray]:
    """``x``: years since ``origin`` (1854 centres 1700-2008, so that alpha stays in radians per
    year and its real part does not trade off against the amplitude); ``y_real``: the yearly
    sunspot number, square-rooted by default (the usual variance-stabilising transform of
    counts: the cycles differ much less in size on that scale)."""
    from statsmodels.datasets import sunspots

    table = sunspots.load_pandas().data
    y = table["SUNACTIVITY"].to_numpy(dtype="float64")
    if transform == "sqrt":
        y = np.sqrt(y)
    elif transform != "none":
        raise ValueError(f"transform must be 'sqrt' or 'none', got {transform!r}")
    x = table["YEAR"].to_numpy(dtype="float64") - origin
    return {"x": x[:, None].astype("float32"), "y_real": y.astype("float32")}
