"""Each arm's answer: one configuration chosen for the whole sweep on validation rows, refitted
on every non-test row of each seed, and scored on the test rows no choice saw.

As scikit-learn's GridSearchCV does it: candidates (a fixed grid cell, a learned start, a refined
cell, a tuned start) are ranked by their mean validation loss over every fold and seed
(``stats.best``); the chosen one is trained again per seed on all the rows it may use (kind
``refit``; trained on as long again, kind ``continue``, where ``sweep.refine`` doubled another
arm's budget) and scored once on the test rows. Its per-row test losses
(``test_losses.json``) are what two arms are paired by (``results.interval``).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np

from alphalab.config.names import Arm, Kind
from alphalab.config.spec import Alpha
from alphalab.results.interval import SeedEvidence
from alphalab.results.rows import Row
from alphalab.results.stats import Group, mean_ci

FINAL_KINDS = (Kind.REFIT, Kind.CONTINUE)  # what stands for an arm's refit of a seed


@dataclass
class ArmResult:
    """One arm: its chosen configuration (all its fold and seed runs) and its refits."""

    arm: Arm
    chosen: Group
    refits: dict[int, Row] = field(default_factory=dict)  # seed -> the refit that counts
    test_rows: dict[int, dict] = field(default_factory=dict)  # seed -> its test_losses.json

    @property
    def on_test(self) -> bool:
        """Whether the arm was refitted and scored on test rows."""
        return bool(self.refits) and all(math.isfinite(r.test_loss) for r in self.refits.values())

    @property
    def selected_val_loss(self) -> float:
        """The chosen configuration's mean validation loss over folds and seeds (what chose it)."""
        return self.chosen.loss[0]

    @property
    def score(self) -> tuple[float, float]:
        """The arm's figure: the refits' mean test loss over seeds and its 95% half-width
        (without test rows: the chosen configuration's mean validation loss)."""
        if not self.on_test:
            return self.chosen.loss
        return mean_ci([row.test_loss for row in self.refits.values()])

    @property
    def alpha(self) -> Alpha:
        """The alpha the arm answers with: the chosen fixed alpha, or the refits' learned alpha
        (their mean over seeds; the configuration's fits' mean without refits)."""
        if self.arm == Arm.FIXED:
            return self.chosen.start
        rows = list(self.refits.values()) or self.chosen.finished or self.chosen.rows
        return Alpha(
            statistics.fmean(r.learned.real for r in rows),
            statistics.fmean(r.learned.imag for r in rows),
        )

    @property
    def alpha_spread(self) -> float:
        """How far apart the refits' learned alphas ended (0 for one seed or a fixed alpha)."""
        alphas = [r.learned for r in self.refits.values()]
        return max((a.distance(b) for a in alphas for b in alphas), default=0.0)

    @property
    def optimism(self) -> float:
        """How much the validation rows flattered the choice: its mean validation loss minus
        its refits' test loss (nan without test rows)."""
        return self.selected_val_loss - self.score[0] if self.on_test else math.nan

    def epochs(self, rows_by_id: dict[str, Row]) -> float:
        """The refits' mean training budget in epochs, a warm start's included."""
        budgets = []
        for row in self.refits.values() or self.chosen.finished:
            source = rows_by_id.get(row.warm_start) if row.warm_start else None
            budgets.append(row.epochs + (source.epochs if source is not None else 0))
        return statistics.fmean(budgets) if budgets else math.nan

    def fold_tests(self, seed: int) -> dict[int, float]:
        """The chosen configuration's fold fits' test losses in ``seed``, by fold."""
        return {
            row.fold: row.test_loss
            for row in self.chosen.finished
            if row.seed == seed and row.fold is not None and math.isfinite(row.test_loss)
        }


def arm_results(rows: list[Row], chosen: dict[Arm, Group], test_rows: dict[str, dict]):
    """Every chosen arm with its refits (``test_rows``: a refit's ``test_losses.json`` by run
    id). Per arm and seed, a refit trained on as long again stands for the refit."""
    out = {arm: ArmResult(arm, group) for arm, group in chosen.items()}
    finals = [r for r in rows if r.kind in FINAL_KINDS and r.ok and r.arm in out]
    for row in sorted(finals, key=lambda r: r.kind == Kind.CONTINUE):  # continued runs last
        result = out[row.arm]
        if row.arm == Arm.REFINED and row.kind != Kind.CONTINUE:
            continue  # its refit's first half: the fixed cell it warms up on
        result.refits[row.seed] = row
        if row.run_id in test_rows:
            result.test_rows[row.seed] = test_rows[row.run_id]
        else:
            result.test_rows.pop(row.seed, None)
    return out


def evidence(first: ArmResult, second: ArmResult) -> list[SeedEvidence]:
    """The seeds where both arms' refits were scored row by row, paired (first vs second)."""
    out = []
    for seed in sorted(set(first.test_rows) & set(second.test_rows)):
        a, b = first.test_rows[seed], second.test_rows[seed]
        if a["rows"] != b["rows"]:
            raise ValueError(f"seed {seed}: the arms' refits were scored on different test rows")
        folds_a, folds_b = first.fold_tests(seed), second.fold_tests(seed)
        common = sorted(set(folds_a) & set(folds_b))
        out.append(
            SeedEvidence(
                seed,
                np.asarray(a["losses"], dtype="float64"),
                np.asarray(b["losses"], dtype="float64"),
                rows=a["rows"],
                data=a["data"],
                n_train=int(a["n_train"]),
                first_folds=tuple(folds_a[k] for k in common),
                second_folds=tuple(folds_b[k] for k in common),
            )
        )
    return out
