"""When a verdict cannot be trusted: no approach beats the baseline (predicting the training
mean on the same validation rows) by the margin, most runs had not converged, or the difference
is within the seed-to-seed noise."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from alphalab.config.names import Verdict
from alphalab.results.rows import Row


@dataclass
class Trust:
    """The evidence behind a verdict, and the reasons (if any) it is inconclusive."""

    baseline: float  # mean over finished runs of their baseline loss (on the compared rows)
    margin: float  # a best result must be at least this fraction below the baseline
    finished: int
    unconverged: int
    reasons: list[str] = field(default_factory=list)
    on_test: bool = False  # the baseline and the results are on the test rows
    val_baseline: float = math.nan  # the baseline on the validation rows (what selected)

    @property
    def conclusive(self) -> bool:
        """Whether the comparison can be taken as the answer."""
        return not self.reasons

    def beats(self, loss: float) -> bool:
        """Whether ``loss`` is at least ``margin`` below the baseline."""
        return math.isfinite(self.baseline) and loss <= (1 - self.margin) * self.baseline

    def lines(self, best: dict[str, float]) -> list[str]:
        """Verdict lines on the baseline and on convergence (``best``: label -> loss)."""
        out = []
        if math.isfinite(self.baseline):
            scored = ", ".join(
                f"{label} {loss:.4g} ({'beats it' if self.beats(loss) else 'does not beat it'})"
                for label, loss in best.items()
            )
            out.append(
                f"Baseline (predicting the training mean on the same {self.rows} rows): "
                f"{self.baseline:.4g}; a result counts when it is at least {self.margin:.0%} "
                f"lower: {scored}."
            )
        if self.finished:
            out.append(
                f"Convergence: {self.finished - self.unconverged} of {self.finished} finished runs "
                "that trained their whole budget "
                "had converged (over the last 10% of their learning-rate budget, validation loss "
                "fell by at most 2% and a learned alpha moved by at most 1%)."
            )
        return out

    @property
    def rows(self) -> str:
        """Which rows the comparison is on."""
        return "test" if self.on_test else "validation"

    def metrics(self) -> dict[str, float]:
        """The parent run's metrics on the evidence."""
        return {
            "baseline_val_loss": self.val_baseline,
            **({"test_baseline_loss": self.baseline} if self.on_test else {}),
            "converged_runs": self.finished - self.unconverged,
            "unconverged_runs": self.unconverged,
        }  # "conclusive" is the verdict's: an interval across the ROPE is inconclusive too


def why_inconclusive(outcome: str, trust: Trust, headline: str) -> list[str]:
    """Why a verdict is inconclusive (nothing when it is not): the evidence's own reasons, else
    what the headline says (the interval crosses the ROPE, no test rows, one arm)."""
    if outcome != Verdict.INCONCLUSIVE:
        return []
    return list(trust.reasons) or [headline.removeprefix("Inconclusive: ")]


def assess(rows: list[Row], best: dict[str, float], margin: float, on_test: bool = False) -> Trust:
    """Judge the evidence: ``best`` maps each approach's label to its figure (its test loss
    when ``on_test``, else its best validation loss)."""
    finished = [row for row in rows if row.ok]
    own = [row.test_baseline if on_test else row.baseline for row in finished]
    baselines = [value for value in own if math.isfinite(value)]
    baseline = statistics.fmean(baselines) if baselines else math.nan
    whole = [row for row in finished if row.pruned is None]  # a pruned run stopped by design
    unconverged = sum(1 for row in whole if row.converged is False)
    on_val = [row.baseline for row in finished if math.isfinite(row.baseline)]
    val_baseline = statistics.fmean(on_val) if on_val else math.nan
    trust = Trust(
        baseline, margin, len(whole), unconverged, on_test=on_test, val_baseline=val_baseline
    )
    if baselines and not baseline > 0:
        trust.reasons.append(
            f"the baseline's loss is {baseline:.4g}: with this loss, beating it means nothing"
        )
    elif best and math.isfinite(baseline) and not any(map(trust.beats, best.values())):
        trust.reasons.append(
            f"no approach beats the baseline (predicting the training mean, {trust.rows} loss "
            f"{baseline:.4g}) by {margin:.0%}"
        )
    if whole and unconverged > len(whole) / 2:
        trust.reasons.append(
            f"{unconverged} of {len(whole)} runs had not converged (train longer: train.epochs)"
        )
    return trust
