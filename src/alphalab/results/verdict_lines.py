"""How a sweep's verdict reads: the headline and one line per finding (each arm's choice and
refits, each compared pair against the ROPE, which noise the interval covers and what it does
not, the trust checks, cost). Takes a ``results.verdict.Summary``."""

from __future__ import annotations

import math

from alphalab.config.names import Arm, Kind, Verdict
from alphalab.results.interval import TEST_ROWS, Decision
from alphalab.results.wording import (
    error_text,
    interval_text,
    pair_sentence,
    pct,
    qualified,
    truth_and_failures,
)

LEARNING = (Arm.LEARNED, Arm.REFINED)  # the arms that learn alpha by backpropagation
LABELS = {
    Arm.FIXED: "best fixed alpha",
    Arm.LEARNED: "learned alpha (from the grid's starts)",
    Arm.REFINED: "learned alpha (from the best grid cells)",
    Arm.TUNED: "alpha tuned on validation",
}
NAMES = {Arm.FIXED: "the best fixed alpha", Arm.TUNED: "the alpha tuned on validation"}
WINS = {Arm.FIXED: "Fixed alpha", Arm.TUNED: "Alpha tuned on validation"}


def name(arm: Arm) -> str:
    """How a sentence names an arm."""
    return NAMES.get(arm, "the learned alpha")


def _face(s, pair) -> str:
    """What the headline pair shows."""
    d, better, worse = pair.difference, pair.better, pair.worse
    if len(s.seeds) < 2:
        settle = "one seed: add seeds (seed=0,1,2) to measure training randomness and narrow it"
    elif (n := d.seeds_to_settle(s.rope)) is not None:
        settle = f"about {n} seeds would likely settle it (seed=0,...,{n - 1})"
    else:
        settle = "it sits on the edge of the region: more seeds narrow it but may not settle it"
    figures = (s.arms[better].score[0], s.arms[worse].score[0])
    wins = WINS.get(better, "Learned alpha")
    return pair_sentence(name(better), name(worse), wins, figures, d, pair.decision, s.rope, settle)


def headline(s) -> str:
    """The verdict's first line: who is better and by how much, or why it cannot say."""
    if len(s.contenders) < 2:
        (only,) = s.contenders
        return f"Only {LABELS[only]} runs: test loss {s.arms[only].score[0]:.4g}."
    if not s.on_test:
        first, second = s.contenders[:2]
        return (
            "Inconclusive: no test rows (task.test_split=0), so nothing unseen to compare on. "
            f"On the validation rows that chose them: {name(first)} "
            f"{s.arms[first].score[0]:.4g} vs {name(second)} {s.arms[second].score[0]:.4g}."
        )
    winner = s.winner
    if winner is not None:
        mine = [p for p in s.pairs if p.better == winner and p.difference is not None]
        pair = max(mine, key=lambda p: p.difference.estimate)  # the closest rival
    else:
        pair = s.pair(*s.contenders[:2])
    if pair is None or pair.difference is None:
        return "Inconclusive: no seed has both arms' refits scored on the same test rows."
    face = _face(s, pair)
    mixed = winner is None and s.outcome == Verdict.INCONCLUSIVE and s.trust.conclusive
    if pair.decision != Decision.UNDECIDED and mixed:  # three arms, no one answer
        face = f"Inconclusive across the {len(s.contenders)} arms (each pair below): {face}"
    return qualified(face, s.trust)


def _units(s, result) -> str:
    seeds = len({r.seed for r in result.chosen.rows})
    folds = len({r.fold for r in result.chosen.rows})
    shape = f"{seeds} seed{'s' * (seeds > 1)} x {folds} fold{'s' * (folds > 1)}"
    n = len(result.chosen.finished)
    return f"{n} fit{'s' * (n != 1)} ({shape})"


def _arm_lines(s) -> list[str]:
    truth, lines = s.true_alpha, []
    by_id = {row.run_id: row for row in s.rows}
    for arm, result in sorted(s.arms.items(), key=lambda item: item[1].score[0]):
        count = sum(1 for g in s.groups if g.arm == arm)
        start = result.chosen.start
        what = f"α {start}" if arm == Arm.FIXED else f"the start {start}"
        text = (
            f"{LABELS[arm].capitalize()}: {what}, chosen of {count} by its mean validation loss "
            f"over {_units(s, result)}, {result.selected_val_loss:.4g}"
        )
        if result.on_test:
            mean, half = result.score
            per_seed = ", ".join(f"{r.test_loss:.4g}" for _, r in sorted(result.refits.items()))
            text += (
                f"; refitted on every non-test row of each seed: test loss {mean:.4g}"
                + (f" ± {half:.2g} over seeds ({per_seed})" if math.isfinite(half) else "")
                + f", optimism (val - test) {result.optimism:+.3g}"
            )
        if arm != Arm.FIXED:
            spread = f" (seeds within {result.alpha_spread:.2g})" if len(result.refits) > 1 else ""
            text += f"; learned α {result.alpha}{spread}"
        else:
            text += f"; α {result.alpha}"
        text += f"{error_text(result.alpha, truth)}; {result.epochs(by_id):.0f} epochs."
        lines.append(text)
    if len({round(r.epochs(by_id)) for r in s.arms.values()}) > 1:
        lines.append(
            "Unequal budgets: the arms' refits trained different numbers of epochs (a "
            "refinement counts its warm start's); a longer budget can win by training longer."
        )
    return lines


def _basin_line(s) -> list[str]:
    if s.best_trainable is None:
        return []
    center = s.best_trainable.learned
    text = (
        f"{sum(s.in_basin.values())} of {len(s.in_basin)} trainable runs reached the best basin "
        f"(within {s.basin_tolerance:g}·max(1,|α|) of {center})"
    )
    others = [row for row in s.rows if row.run_id in s.in_basin and not s.in_basin[row.run_id]]
    if others:
        worst = max(others, key=lambda r: r.final_val_loss)
        text += (
            f"; the others ended elsewhere, e.g. {worst.learned} from {worst.start} with "
            f"val_loss {worst.final_val_loss:.4g}"
        )
    return [text + "."]


def _pair_lines(s) -> list[str]:
    lines = []
    said = {
        Decision.FIRST: "better beyond the ROPE",
        Decision.EQUIVALENT: "practically equivalent (inside the ROPE)",
        Decision.UNDECIDED: "undecided (crosses an edge of the ROPE)",
    }
    for pair in s.pairs:
        d = pair.difference
        if d is None:
            lines.append(f"{LABELS[pair.better]} vs {LABELS[pair.worse]}: no paired test rows.")
            continue
        lines.append(
            f"{LABELS[pair.better].capitalize()} vs {LABELS[pair.worse]}: test loss "
            f"{pct(d.estimate)} ({interval_text(d)}; ROPE ±{s.rope:.0%}): {said[pair.decision]}."
        )
    found = [p.difference for p in s.pairs if p.difference is not None]
    if not found:
        return lines
    d = found[0]
    lines.append(f"The interval covers {', '.join(d.covers)}: {d.design}.")
    if not d.training_measured:
        lines.append(
            "Training randomness was not measured (one seed, one split): the interval covers "
            "only the test rows' sampling; add seeds (seed=0,1,2) or folds (task.folds=5)."
        )
    elif TEST_ROWS in d.covers and len(s.seeds) == 1:
        lines.append(
            "One seed: the folds show training-set noise, but initial weights and shuffling "
            "were not varied; add seeds (seed=0,1,2)."
        )
    if len(s.pairs) > 1:
        lines.append(
            f"{len(s.pairs)} comparisons: each interval is at {d.level:.1%} (Bonferroni), so "
            "that all hold together at 95%."
        )
    return lines


def verdict_lines(s) -> tuple[str, list[str]]:
    """The headline and the verdict's lines of a ``Summary``."""
    if not s.arms:
        return "No run finished: nothing to compare.", ["Every run failed; see the table."]
    scored = {LABELS[a]: s.arms[a].score[0] for a in s.contenders}
    lines = _arm_lines(s)
    if not s.on_test and Arm.FIXED in s.arms:
        lines.append(
            "No test rows (task.test_split=0): every figure is on the validation rows the "
            "choice was made on, which flatters the arm with the most candidates."
        )
    lines += _basin_line(s) + _pair_lines(s) + s.trust.lines(scored)
    lines += truth_and_failures(s.true_alpha, s.rows, "run")
    lines.append(_cost_line(s))
    pruning = _pruning_line(s)
    if pruning:
        lines.append(pruning)
    return headline(s), lines


def _pruning_line(s) -> str:
    pruned = [row for row in s.rows if row.pruned is not None]
    if not pruned:
        return ""
    parts = []
    for arm in Arm:
        mine = [row for row in s.rows if row.arm == arm and row.kind == Kind.RUN]
        stopped = sorted({row.pruned for row in pruned if row.arm == arm})
        if mine:
            count = sum(1 for row in pruned if row.arm == arm)
            at = f" (after epoch {', '.join(map(str, stopped))})" if stopped else ""
            parts.append(f"{arm} {count} of {len(mine)}{at}")
    return (
        "Pruned (sweep.prune, successive halving on validation rows within each arm, seed and "
        f"fold): {'; '.join(parts)}; pruned runs are FINISHED with tag alphalab.pruned and a "
        "configuration with a pruned run ranks after those that trained every fold and seed."
    )


def _cost_line(s) -> str:
    parts = []
    kinds = (
        (Kind.RUN, ""), (Kind.REFINE, ""), (Kind.REFIT, " refit"), (Kind.CONTINUE, " continued")
    )  # fmt: skip
    for arm in Arm:
        for kind, label in kinds:
            rows = [row for row in s.rows if row.arm == arm and row.kind == kind]
            if rows:
                spent = sum(row.seconds for row in rows if math.isfinite(row.seconds))
                parts.append(f"{len(rows)} {arm}{label} runs, {spent:.1f} s of training")
    wall = f"; wall time {s.wall_seconds:.0f} s" if math.isfinite(s.wall_seconds) else ""
    return "Cost: " + "; ".join(parts) + wall + "."
