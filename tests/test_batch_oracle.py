"""The batched Bayesian oracle in process, with real keras-tuner objects driven by ask/tell (no
training): one Gaussian-process fit per batch, a batch's points distinct and in range, one trial
at a time still a converging Bayesian oracle, and a reload from its folder."""

from __future__ import annotations

import keras_tuner
import pytest

from alphalab.engine.batch_oracle import BatchBayesianOracle
from alphalab.engine.tuner import BayesianOptimization

RANGES = {"x": (-1.0, 1.0), "y": (0.5, 3.5)}
OPTIMUM = {"x": 0.3, "y": 2.0}


class Plane(keras_tuner.HyperModel):
    """Declares the two ranges of the quadratic objective."""

    def build(self, hp):
        """Declare x and y."""
        for name, (low, high) in RANGES.items():
            hp.Float(name, low, high)


def quadratic(values: dict) -> float:
    return sum((values[name] - OPTIMUM[name]) ** 2 for name in RANGES)


class CountingOracle(BatchBayesianOracle):
    """Counts the Gaussian-process fits through the oracle's own hook."""

    fits = 0

    def fit_surrogate(self, x, y):
        """Count, then fit."""
        self.fits += 1
        return super().fit_surrogate(x, y)


class CountingTuner(BayesianOptimization):
    """alphalab's tuner with the counting oracle."""

    oracle_class = CountingOracle


def tuner(tmp_path, batch_size: int, max_trials: int = 20, seed: int = 1, cls=CountingTuner):
    made = cls(
        hypermodel=Plane(), objective=keras_tuner.Objective("loss", "min"),
        max_trials=max_trials, seed=seed, num_initial_points=5, beta=0.3,
        batch_size=batch_size, directory=str(tmp_path), project_name="quadratic",
        overwrite=False,
    )  # fmt: skip
    made.oracle.verbose = 0
    return made


def ask(oracle, count: int, prefix: str = "t") -> list:
    """Up to ``count`` trials asked in a row, as alphalab's search asks a population."""
    trials = [oracle.create_trial(f"{prefix}-{k}") for k in range(count)]
    return [trial for trial in trials if trial.status == "RUNNING"]


def tell(oracle, trials: list) -> None:
    for trial in trials:
        oracle.update_trial(trial.trial_id, {"loss": quadratic(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)


def test_the_process_is_fitted_once_per_batch_and_the_batch_spreads_in_range(tmp_path):
    oracle = tuner(tmp_path, batch_size=8).oracle
    tell(oracle, ask(oracle, 8))  # random: fewer than num_initial_points completed
    assert oracle.fits == 0
    batch = ask(oracle, 8)
    assert len(batch) == 8 and oracle.fits == 1  # one fit for the population's eight points
    points = [tuple(t.hyperparameters.values[n] for n in RANGES) for t in batch]
    assert len(set(points)) == 8
    for point in points:
        for value, (low, high) in zip(point, RANGES.values(), strict=True):
            assert low <= value <= high
    assert min(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a in points for b in points if a != b) > 0
    tell(oracle, batch)
    ask(oracle, 8)
    assert oracle.fits == 2  # new results: a new fit for the next batch


def test_a_result_arriving_mid_batch_refits_instead_of_handing_out_stale_points(tmp_path):
    oracle = tuner(tmp_path, batch_size=4).oracle
    tell(oracle, ask(oracle, 6))
    first = ask(oracle, 2)  # the batch of 4 is computed, 2 handed out
    assert oracle.fits == 1
    tell(oracle, first[:1])
    ask(oracle, 1, prefix="u")
    assert oracle.fits == 2


def test_one_trial_at_a_time_converges_on_a_quadratic(tmp_path):
    oracle = tuner(tmp_path, batch_size=1, max_trials=20).oracle
    while trials := ask(oracle, 1):
        tell(oracle, trials)
    assert len(oracle.trials) == 20 and oracle.fits == 15  # a fit per trial after 5 random
    best = oracle.get_best_trials()[0]
    assert best.score < 1e-3, best.hyperparameters.values  # random alone: about 0.02 here
    assert min(t.score for t in list(oracle.trials.values())[:5]) > best.score


def test_a_reloaded_oracle_continues_where_it_stopped(tmp_path):
    made = tuner(tmp_path, batch_size=4, max_trials=12, cls=BayesianOptimization)
    first = made.oracle
    tell(first, ask(first, 4))
    tell(first, ask(first, 4))
    running = ask(first, 2)  # asked, never told: retried after the reload
    made.save()  # as alphalab's search saves after each population
    again = tuner(tmp_path, batch_size=4, max_trials=12, cls=BayesianOptimization).oracle
    assert isinstance(again, BatchBayesianOracle) and again.batch_size == 4
    assert len(again.trials) == 10 and again.beta == pytest.approx(0.3)
    retried = ask(again, 2)
    assert {t.trial_id for t in retried} == {t.trial_id for t in running}
    tell(again, retried)
    while trials := ask(again, 4, prefix="v"):
        tell(again, trials)
    assert len(again.trials) == 12
    assert {t.status for t in again.trials.values()} == {"COMPLETED"}


def test_a_trial_reports_its_best_and_last_epochs_to_the_oracle():
    from alphalab.engine.search import reported_epochs

    nan = float("nan")
    assert reported_epochs([3.0, 1.0, 2.0]) == [1, 2]
    assert reported_epochs([3.0, 2.0, 1.0]) == [2]
    assert reported_epochs([nan, 1.0, nan]) == [1, 2]
    assert reported_epochs([nan]) == [0] and reported_epochs([]) == []


def test_an_unknown_lie_is_refused_in_one_line():
    with pytest.raises(ValueError, match="lie must be one of mean, max, min, believer"):
        BatchBayesianOracle(keras_tuner.Objective("loss", "min"), lie="optimist")
