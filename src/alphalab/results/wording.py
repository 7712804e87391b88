"""How verdicts are worded, shared by sweeps and searches: who won and by how much, and what
that is worth when the evidence is weak."""

from __future__ import annotations

from alphalab.config.spec import Alpha
from alphalab.results.interval import Decision, Difference
from alphalab.results.rows import Row
from alphalab.results.trust import Trust


def pct(value: float) -> str:
    """A relative difference as a signed percentage."""
    return f"{value:+.1%}"


def amount(estimate: float) -> str:
    """``66.4% lower, 2.98x``: how much lower the better arm's test loss is."""
    text = f"{-estimate:.1%} lower"
    return text + (f", {1 / (1 + estimate):.2f}x" if estimate <= -0.2 else "")


def interval_text(d: Difference) -> str:
    """``95% interval -76.4% to -56.5%``."""
    return f"{d.level * 100:.3g}% interval {pct(d.low)} to {pct(d.high)}"


def pair_sentence(
    better: str,
    worse: str,
    wins: str,
    figures: tuple[float, float],
    d: Difference,
    decision: Decision,
    rope: float,
    settle: str,
) -> str:
    """What one compared pair shows, in a sentence: ``better`` (wins: ``wins``) against
    ``worse`` with test losses ``figures``; ``settle``: what would settle it if undecided."""
    losses = f"test loss {figures[0]:.4g} vs {figures[1]:.4g}"
    shown = f"{losses} for {worse}, {amount(d.estimate)} ({interval_text(d)})"
    region = f"±{rope:.0%} region of practical equivalence"
    if decision == Decision.FIRST:
        return f"{wins} is better: {shown}, beyond the {region}."
    if decision == Decision.EQUIVALENT:
        return (
            f"Practically equivalent: {better} and {worse} reach {losses}, {pct(d.estimate)} "
            f"apart ({interval_text(d)}, inside the {region})."
        )
    return (
        f"Inconclusive: the interval crosses an edge of the {region}. It leans towards "
        f"{better}: {shown}." + (f" {settle[0].upper()}{settle[1:]}." if settle else "")
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
