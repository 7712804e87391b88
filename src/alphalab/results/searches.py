"""The verdict of a keras-tuner search: the best trial (chosen on validation rows) against the
learned alpha, paired row by row on the test rows (``results.interval``: one seed and one split,
so only the test rows' sampling is measured, and the verdict says so) against the ROPE."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from alphalab.config.names import Verdict
from alphalab.config.spec import Alpha
from alphalab.results.interval import Decision, Difference, SeedEvidence, relative_difference
from alphalab.results.rows import Row
from alphalab.results.trust import Trust, assess, why_inconclusive
from alphalab.results.wording import error_text, pair_sentence, qualified, truth_and_failures


@dataclass
class SearchSummary:
    """What a search found: its trials in order, the best, and the trainable reference."""

    trials: list[Row]  # in the order they ran
    reference: Row | None  # the trainable run on the same task and seed
    best: Row | None
    trials_to_within_1pct: int | None
    true_alpha: Alpha | None
    wall_seconds: float
    tuner: str
    trust: Trust | None
    rope: float = 0.02
    evidence: SeedEvidence | None = None  # the learned alpha's and best trial's test rows
    difference: Difference | None = None  # learned vs best trial, relative, on test rows
    headline: str = ""
    verdict: list[str] = field(default_factory=list)

    @property
    def on_test(self) -> bool:
        """Whether the best trial (chosen on validation rows) and the reference are compared on
        test rows."""
        rows = [r for r in (self.best, self.reference) if r is not None and r.ok]
        return bool(rows) and all(math.isfinite(r.test_loss) for r in rows)

    def figure(self, row: Row) -> float:
        """What a run is compared by: its test loss, else its validation loss."""
        return row.test_loss if self.on_test else row.final_val_loss

    @property
    def decision(self) -> Decision:
        """The interval against the ROPE (the learned alpha first)."""
        if self.difference is None:
            return Decision.UNDECIDED
        return self.difference.decide(self.rope)

    @property
    def outcome(self) -> str:
        """``learned``, ``fixed``, ``equivalent`` or ``inconclusive``."""
        if not self.trust.conclusive:
            return Verdict.INCONCLUSIVE
        return {
            Decision.FIRST: Verdict.LEARNED,
            Decision.SECOND: Verdict.FIXED,
            Decision.EQUIVALENT: Verdict.EQUIVALENT,
        }.get(self.decision, Verdict.INCONCLUSIVE)

    @property
    def reasons(self) -> list[str]:
        """Why the verdict is inconclusive (nothing when it is not)."""
        return why_inconclusive(self.outcome, self.trust, self.headline)

    def metrics(self) -> dict[str, float]:
        """The parent run's metrics (``best_trial_*`` = ``best_fixed_*``, ``best_trainable_*``)."""
        out: dict[str, float] = {
            "trials": len(self.trials),
            "failed_trials": sum(1 for t in self.trials if not t.ok),
            "wall_seconds": self.wall_seconds,
            "search_train_seconds": sum(t.seconds for t in self.trials if math.isfinite(t.seconds)),
        }
        if self.best is not None:
            for prefix in ("best_trial", "best_fixed"):
                out[f"{prefix}_val_loss"] = self.best.final_val_loss
                out[f"{prefix}_alpha_real"], out[f"{prefix}_alpha_imag"] = self.best.start
            if self.on_test:
                out["best_fixed_test_loss"] = out["best_trial_test_loss"] = self.best.test_loss
        if self.trials_to_within_1pct is not None:
            out["trials_to_within_1pct"] = self.trials_to_within_1pct
        if self.reference is not None and self.reference.ok:
            out["best_trainable_val_loss"] = self.reference.final_val_loss
            out["best_trainable_alpha_real"], out["best_trainable_alpha_imag"] = (
                self.reference.learned
            )
            out["trainable_train_seconds"] = self.reference.seconds
            if self.on_test:
                out["best_trainable_test_loss"] = self.reference.test_loss
        conclusive = float(self.outcome != Verdict.INCONCLUSIVE)
        return {**out, **self.trust.metrics(), "conclusive": conclusive}


def summarize_trials(
    trials: list[Row],
    reference: Row | None,
    tuner: str,
    margin: float,
    wall_seconds: float = math.nan,
    rope: float = 0.02,
    test_rows: Callable[[list[Row]], dict[str, dict]] | None = None,
) -> SearchSummary:
    """The best trial, how many trials it took to come within 1% of it, and the verdict;
    ``test_rows`` reads runs' per-row test losses (by run id)."""
    finished = [t for t in trials if t.ok]
    best = min(finished, key=lambda t: t.final_val_loss) if finished else None
    within = None
    if best is not None:
        threshold = best.final_val_loss + 0.01 * abs(best.final_val_loss)
        within = next(i for i, t in enumerate(trials, 1) if t.ok and t.final_val_loss <= threshold)
    truth = next((t.true_alpha for t in trials if t.true_alpha is not None), None)
    rows = trials + ([reference] if reference is not None else [])
    summary = SearchSummary(
        trials, reference, best, within, truth, wall_seconds, tuner, None, rope
    )  # fmt: skip
    ref = reference if reference is not None and reference.ok else None
    if best is not None and ref is not None and summary.on_test and test_rows is not None:
        paired = test_rows([ref, best])
        if ref.run_id in paired and best.run_id in paired:
            a, b = paired[ref.run_id], paired[best.run_id]
            evidence = SeedEvidence(ref.seed, np.asarray(a["losses"]), np.asarray(b["losses"]))
            summary.evidence, summary.difference = evidence, relative_difference([evidence])
    scores = {"best trial": best, "learned": reference}
    scored = {k: summary.figure(r) for k, r in scores.items() if r is not None and r.ok}
    summary.trust = assess(rows, scored, margin, summary.on_test)
    summary.headline, summary.verdict = _search_verdict(summary)
    return summary


def _search_verdict(s: SearchSummary) -> tuple[str, list[str]]:
    """The headline and the verdict's lines."""
    truth = s.true_alpha
    lines = []
    ref = s.reference if s.reference is not None and s.reference.ok else None
    if s.best is None:
        title = "No trial finished: nothing to compare."
    elif ref is None:
        title = f"Best alpha found: {s.best.start}, val_loss {s.best.final_val_loss:.4g}."
    else:
        title = qualified(_face(s, ref), s.trust)
    if s.best is not None:
        order = s.trials.index(s.best) + 1
        lines.append(
            f"Best alpha found by the search: {s.best.start} (trial "
            f"{s.best.name.split(' ')[1]}, number {order} of {len(s.trials)}), "
            f"val_loss {s.best.final_val_loss:.4g}"
            + (f" (chosen on it), test loss {s.best.test_loss:.4g}" if s.on_test else "")
            + f"{error_text(s.best.start, truth)}."
        )
        lines.append(
            f"It took {s.trials_to_within_1pct} trial(s) to come within 1% of the final best loss."
        )
    if ref is not None:
        lines.append(
            f"Learned alpha (one trainable run from {ref.start}, same task and "
            f"seed): {ref.learned}, val_loss {ref.final_val_loss:.4g}"
            + (f", test loss {ref.test_loss:.4g}" if s.on_test else "")
            + f"{error_text(ref.learned, truth)}."
        )
    if s.difference is not None:
        lines.append(
            f"The interval covers only the test rows ({s.difference.design}): a search is one "
            "seed and one split, so training randomness was not measured."
        )
    scores = {"best trial": s.best, "learned": ref}
    lines += s.trust.lines({k: s.figure(r) for k, r in scores.items() if r is not None})
    lines += truth_and_failures(truth, s.trials, "trial")
    spent = sum(t.seconds for t in s.trials if math.isfinite(t.seconds))
    cost = f"Cost: search {len(s.trials)} trials, {spent:.1f} s of training"
    if ref is not None:
        cost += f"; learning 1 run, {ref.seconds:.1f} s of training"
    if math.isfinite(s.wall_seconds):
        cost += f"; wall time {s.wall_seconds:.0f} s"
    lines.append(cost + ".")
    return title, lines


def _face(s: SearchSummary, ref: Row) -> str:
    """The headline's comparison: the interval against the ROPE, or the figures alone."""
    label = f"the best of {len(s.trials)} {s.tuner}-search trials"
    if s.difference is None:
        metric = "test loss" if s.on_test else "validation loss"
        return (
            f"Inconclusive: no paired test rows. {metric.capitalize()}: the learned alpha "
            f"{s.figure(ref):.4g}, {label} {s.figure(s.best):.4g}."
        )
    d, names = s.difference, ("the learned alpha", label)
    figures = (ref.test_loss, s.best.test_loss)
    wins = ("Learned alpha", f"The {s.tuner} search")
    if d.estimate > 0:  # the search's alpha is better: say it that way round
        e = s.evidence
        d = relative_difference([SeedEvidence(e.seed, e.second, e.first)])
        names, figures, wins = names[::-1], figures[::-1], wins[::-1]
    settle = "one seed: a sweep over seeds (+sweep=alpha) measures training randomness too"
    decision = d.decide(s.rope)
    return pair_sentence(*names, wins[0], figures, d, decision, s.rope, settle)
