"""``Sweep``: a finished sweep or search read back from MLflow, for Python and notebooks."""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from alphalab.results.compare import load_comparison, load_run_model
from alphalab.results.figures import ArmFigure
from alphalab.results.render import Comparison
from alphalab.tracking import names
from alphalab.tracking.store import Tracker

ALIASES = {"trainable": "learned", "best_fixed": "fixed", "lambda": "fixed"}


@dataclass(frozen=True)
class Verdict:
    """What a sweep concluded.

    Args:
        outcome: ``learned``, ``fixed``, ``tuned``, ``equivalent`` or ``inconclusive``.
        headline: the verdict in one sentence, as the terminal and MLflow show it.
        reasons: why it is inconclusive (empty otherwise).
        lines: the verdict's supporting lines (choices, noise, baseline, convergence, cost).
        arms: each arm's answer by name (``fixed``, ``learned``, ...): its chosen alpha, its
            validation and test loss, and its test-loss difference to the fixed arm with the
            95% interval.
        rope: the region of practical equivalence, as a relative test-loss difference.
    """

    outcome: str
    headline: str
    reasons: list[str]
    lines: list[str]
    arms: dict[str, ArmFigure] = field(default_factory=dict)
    rope: float = math.nan

    def __str__(self) -> str:
        return "\n".join([self.headline, *(f"  - {line}" for line in self.lines)])


class Sweep:
    """A sweep (or search) recorded in MLflow: its verdict, its runs, its plot and its models.

    Returned by ``alphalab.sweep`` and ``alphalab.load_sweep``; everything is read from the
    store, so a sweep loaded in another session reads the same.

    Example:

    ```python
    result = alphalab.load_sweep()  # the latest sweep
    print(result.verdict.outcome, result.verdict.arms["learned"].alpha)
    model = result.load_model("learned")
    ```
    """

    def __init__(self, tracker: Tracker, parent: Any) -> None:
        self._tracker, self._parent = tracker, parent

    @property
    def parent_run_id(self) -> str:
        """The MLflow run id of the sweep's parent run."""
        return self._parent.info.run_id

    @property
    def name(self) -> str:
        """The sweep's name (``sweep.name``: run it again with this name to resume it)."""
        return self._parent.data.tags.get(names.SWEEP_NAME, self._parent.info.run_name)

    @property
    def status(self) -> str:
        """The parent run's status: FINISHED, or RUNNING, KILLED or FAILED."""
        return self._parent.info.status

    @property
    def tracking_uri(self) -> str:
        """The MLflow store the sweep is in."""
        return self._tracker.uri

    @cached_property
    def comparison(self) -> Comparison:
        """The comparison rebuilt from the children, as ``python -m experiments.compare`` does."""
        return load_comparison(self._tracker, self._parent)

    @cached_property
    def verdict(self) -> Verdict:
        """The outcome, the headline, the reasons and each arm's figure."""
        c = self.comparison
        return Verdict(
            outcome=c.outcome,
            headline=c.headline,
            reasons=list(c.reasons),
            lines=list(c.verdict),
            arms={figure.arm: figure for figure in c.figures},
            rope=c.metrics.get("rope", math.nan),
        )

    @property
    def runs(self):
        """One row per run (``comparison.csv``'s columns) as a pandas DataFrame."""
        import pandas as pd

        return pd.read_csv(io.StringIO(self.comparison.csv()))

    def plot(self, kind: str = "landscape"):
        """One of the sweep's figures as a matplotlib Figure (drawn inline when it is a notebook
        cell's value), as logged on the parent run.

        Args:
            kind: ``landscape`` (``landscape.png``: validation loss over the alpha grid with its
                noise, each arm's choice and refits; a search: ``trials.png``, its trials over
                the alpha plane) or ``verdict`` (``verdict.png``: each arm's test-loss
                difference to the fixed arm with its interval, against the ROPE).

        Returns:
            A ``matplotlib.figure.Figure``.
        """
        plots = self.comparison.plots
        chosen = {"landscape": self.comparison.plot_name, "verdict": names.VERDICT_PLOT}
        if kind not in chosen or chosen[kind] not in plots:
            raise ValueError(f"plot kind '{kind}': choose 'landscape' or 'verdict'")
        figure = plots[chosen[kind]]()
        _show_figures_in_jupyter(type(figure))
        return figure

    def load_model(self, arm: str = "learned"):
        """The arm's chosen model (its refit's ``model.keras``), loaded in Keras's safe mode.

        Args:
            arm: ``learned`` (also ``trainable``), ``fixed``, ``refined`` or ``tuned``.

        Returns:
            A ``keras.Model``.
        """
        import tempfile

        wanted = ALIASES.get(arm, arm)
        figure = self.verdict.arms.get(wanted)
        if figure is None or not figure.run_id:
            known = ", ".join(self.verdict.arms) or "none"
            raise KeyError(f"arm '{arm}': this sweep's arms are {known}")
        with tempfile.TemporaryDirectory(prefix="alphalab-model-") as tmp:
            return load_run_model(self._tracker, figure.run_id, tmp)

    def _repr_html_(self) -> str:
        """The verdict, the arms' table and both figures (the verdict, the landscape), for
        Jupyter."""
        v = self.verdict
        rows = "".join(
            f"<tr><td>{html.escape(a.arm)}</td><td>{_alpha(a.alpha)}</td>"
            f"<td>{a.val_loss:.4g}</td><td>{_loss(a.test_loss, a.test_loss_half_width)}</td>"
            f"<td>{_difference(a.vs_fixed)}</td></tr>"
            for a in v.arms.values()
        )
        table = (
            "<table><tr><th>arm</th><th>alpha</th><th>val_loss (chose it)</th>"
            "<th>test loss</th><th>vs fixed (95% interval)</th></tr>" + rows + "</table>"
        )
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in v.lines)
        images = ""
        for kind in ("verdict", "landscape"):
            buffer = io.BytesIO()
            self.plot(kind).savefig(buffer, format="png")
            image = base64.b64encode(buffer.getvalue()).decode()
            images += (
                f'<img src="data:image/png;base64,{image}" style="max-width:100%" alt="{kind}">'
            )
        return (
            f"<h4>alphalab sweep '{html.escape(self.name)}' ({html.escape(self.status)}), "
            f"verdict: {html.escape(v.outcome)}</h4><p><b>{html.escape(v.headline)}</b></p>"
            f"{table}<details><summary>why</summary><ul>{lines}</ul></details>"
            f"{images}"
            f"<p><small>MLflow: parent run {self.parent_run_id}</small></p>"
        )

    def __repr__(self) -> str:
        return f"<Sweep '{self.name}' {self.status}, parent run {self.parent_run_id}>"


def _show_figures_in_jupyter(kind: type) -> None:
    """Let IPython draw a figure made without pyplot as a PNG (pyplot's inline backend
    registers this only once pyplot is imported)."""
    import sys

    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if shell is not None:
        from IPython.core.pylabtools import print_figure

        png = shell.display_formatter.formatters["image/png"]
        png.for_type(kind, lambda figure: print_figure(figure, "png", bbox_inches="tight"))


def _alpha(value: complex) -> str:
    return f"{value.real:.4g}{value.imag:+.4g}i"


def _loss(value: float, half: float) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:.4g}" + (f" ± {half:.2g}" if math.isfinite(half) else "")


def _difference(vs: tuple[float, float, float] | None) -> str:
    if vs is None:
        return "—"
    estimate, low, high = vs
    return f"{estimate:+.1%} ({low:+.1%} to {high:+.1%})"
