"""alphalab: should a complex coefficient alpha in a Keras model be a fixed hyperparameter or a
learned weight? The package reads top to bottom as a run goes through it:

config/ (specs) -> formulas, layers (the Keras pieces) -> data -> model/ -> tracking/ (MLflow)
-> results/ (verdicts) -> engine/ (fit, job, sweep, search) -> entry/ (Hydra and commands)
-> api/ (``alphalab.sweep``, ``load_sweep``, ``list_sweeps``: the same from Python).
Imports only go down that list (``tests/test_architecture.py`` checks it).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alphalab.api import ArmFigure, Sweep, SweepError, Verdict, list_sweeps, load_sweep, sweep

__all__ = ["ArmFigure", "Sweep", "SweepError", "Verdict", "list_sweeps", "load_sweep", "sweep"]


def __getattr__(name: str):
    """The Python API (``alphalab.sweep``, ...), imported on first use: ``import alphalab.layers``
    stays as light as it was."""
    if name in __all__:
        import alphalab.api

        return getattr(alphalab.api, name)
    raise AttributeError(f"module 'alphalab' has no attribute {name!r}")
