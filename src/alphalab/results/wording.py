"""How verdicts are worded, shared by sweeps and searches: who won and by how much, and what
that is worth when the evidence is weak."""

from __future__ import annotations

import math

from alphalab.config.names import Verdict
from alphalab.config.spec import Alpha
from alphalab.results.rows import Row
from alphalab.results.trust import Trust


def ratio_text(worse: float, better: float) -> str:
    """``3.70x lower``, or the difference when a ratio means nothing."""
    if better > 0 and math.isfinite(worse / better):
        return f"{worse / better:.2f}x lower"
    return f"lower by {worse - better:.3g}"


def outcome(fixed: float, learned: float) -> str:
    """``learned``, ``fixed`` or ``tie`` (within 1%): who reached the lower validation loss."""
    if abs(fixed - learned) <= 0.01 * min(fixed, learned):
        return Verdict.TIE
    return Verdict.LEARNED if learned < fixed else Verdict.FIXED


def headline(
    fixed: float,
    learned: float,
    fixed_label: str,
    fixed_winner: str,
    metric: str = "validation loss",
) -> str:
    """Which reached the lower ``metric``, and by how much; within 1% is a tie."""
    winner = outcome(fixed, learned)
    if winner == Verdict.TIE:
        return (
            f"A tie: the learned alpha and {fixed_label} reach the same {metric} "
            f"({learned:.4g} vs {fixed:.4g}, within 1%)."
        )
    if winner == Verdict.LEARNED:
        return (
            f"Learned alpha wins: {metric} {learned:.4g} vs {fixed:.4g} for "
            f"{fixed_label} ({ratio_text(fixed, learned)})."
        )
    return (
        f"{fixed_winner} wins: {metric} {fixed:.4g} vs {learned:.4g} for the learned "
        f"alpha ({ratio_text(learned, fixed)})."
    )


def qualified(face_value: str, trust: Trust) -> str:
    """The headline: the comparison, or ``Inconclusive: why`` first when it can't be trusted."""
    if trust.conclusive:
        return face_value
    return f"Inconclusive: {'; '.join(trust.reasons)}. Taken at face value: {face_value}"


def error_text(alpha: Alpha, truth: Alpha | None) -> str:
    """``, |α − α*| = 0.007`` where the true alpha is known."""
    if truth is None:
        return ""
    return f", |α − α*| = {alpha.distance(truth):.3g}"


def truth_and_failures(truth: Alpha | None, rows: list[Row], noun: str) -> list[str]:
    """Verdict lines naming the true alpha and the runs that did not finish."""
    lines = [f"True alpha: {truth}."] if truth is not None else []
    failed = [row for row in rows if not row.ok]
    if failed:
        lines.append(
            f"{len(failed)} {noun}(s) did not finish: "
            + "; ".join(f"{row.name}: {row.error or row.status}" for row in failed[:5])
            + ("; ..." if len(failed) > 5 else "")
            + "."
        )
    return lines
