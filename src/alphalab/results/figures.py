"""Each arm's answer as plain numbers, for code that reads a verdict (``alphalab.Sweep``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from alphalab.config.names import Arm
from alphalab.results.searches import SearchSummary
from alphalab.results.verdict import Summary


@dataclass(frozen=True)
class ArmFigure:
    """One arm of a verdict: the configuration it chose and how that scored.

    Args:
        arm: ``fixed``, ``learned``, ``refined`` or ``tuned``.
        alpha: the arm's answer: the chosen fixed alpha, or the learned alpha of its refits
            (their mean over seeds).
        val_loss: the chosen configuration's mean validation loss over folds and seeds (what
            chose it).
        test_loss: its refits' mean loss on the test rows no choice saw (nan: no test rows).
        test_loss_half_width: half the 95% interval of ``test_loss`` over seeds (nan: one seed).
        vs_fixed: the relative test-loss difference to the fixed arm, ``test / fixed test - 1``,
            as ``(estimate, low, high)`` of the verdict's 95% interval (None for the fixed arm,
            or without test rows).
        run_id: the MLflow run whose ``model.keras`` is the arm's model (its first seed's refit).
    """

    arm: str
    alpha: complex
    val_loss: float
    test_loss: float
    test_loss_half_width: float
    vs_fixed: tuple[float, float, float] | None
    run_id: str


def sweep_figures(summary: Summary, selected: dict) -> list[ArmFigure]:
    """A sweep's arms, the fixed grid first."""
    figures = []
    for arm in sorted(summary.arms, key=list(Arm).index):
        result = summary.arms[arm]
        difference = summary.versus(arm, Arm.FIXED) if arm != Arm.FIXED else None
        test, half = result.score if result.on_test else (math.nan, math.nan)
        figures.append(
            ArmFigure(
                arm=str(arm),
                alpha=complex(*result.alpha),
                val_loss=result.selected_val_loss,
                test_loss=test,
                test_loss_half_width=half,
                vs_fixed=(
                    None
                    if difference is None
                    else (difference.estimate, difference.low, difference.high)
                ),
                run_id=selected[arm].run_id if arm in selected else "",
            )
        )
    return figures


def search_figures(search: SearchSummary) -> list[ArmFigure]:
    """A search's two arms: its best trial (fixed) and the trainable reference (learned)."""
    figures = []
    difference = search.difference
    for arm, row in ((Arm.FIXED, search.best), (Arm.LEARNED, search.reference)):
        if row is None:
            continue
        against = None
        if arm == Arm.LEARNED and difference is not None:
            against = (difference.estimate, difference.low, difference.high)
        figures.append(
            ArmFigure(
                arm=str(arm),
                alpha=complex(*(row.start if arm == Arm.FIXED else row.learned)),
                val_loss=row.final_val_loss,
                test_loss=row.test_loss,
                test_loss_half_width=math.nan,
                vs_fixed=against,
                run_id=row.run_id,
            )
        )
    return figures
