"""alphalab from Python: ``sweep`` runs the main job in process, ``load_sweep`` and
``list_sweeps`` read past ones back from MLflow."""

from alphalab.api.result import Sweep, Verdict
from alphalab.api.run import SweepError, list_sweeps, load_sweep, sweep
from alphalab.results.figures import ArmFigure

__all__ = ["ArmFigure", "Sweep", "SweepError", "Verdict", "list_sweeps", "load_sweep", "sweep"]
