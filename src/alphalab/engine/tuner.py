"""keras-tuner's oracles asked for a population of trials at once.

A search names a keras-tuner tuner class (``search.tuner._target_``); alphalab subclasses it so
that ``search`` asks the oracle for ``search.population`` trials at once, each under its own
tuner id (as keras-tuner's distributed mode gives each worker one), trains them as one population
(every trial its own MLflow child run, recorded as a sweep job is), reports each trial's best
and last epochs to the oracle and ends it. The chief of a distributed search keeps keras-tuner's
own behaviour: it serves the oracle.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from pathlib import Path

import keras_tuner
from keras_tuner.oracles import GridSearchOracle

from alphalab.config import ConfigError
from alphalab.config.paths import import_callable
from alphalab.config.spec import SearchSpec
from alphalab.engine.batch_oracle import BatchBayesianOracle
from alphalab.engine.tuner_internals import hand_out_next, is_chief_oracle

TrialStatus = keras_tuner.engine.trial.TrialStatus
POLL = 1.0  # seconds between asks while the oracle waits for other workers' trials


class AlphaSpace(keras_tuner.HyperModel):
    """The searched space: ``alpha_real`` and ``alpha_imag`` (alphalab builds each trial's model
    itself, so ``build`` only declares them)."""

    def __init__(self, search: SearchSpec):
        super().__init__()
        self.ranges = (("alpha_real", search.alpha_real), ("alpha_imag", search.alpha_imag))

    def build(self, hp):
        """Declare the two ranges."""
        for name, r in self.ranges:
            hp.Float(name, r.min, r.max, step=r.step, sampling=r.sampling)


class _HandsOutAhead(GridSearchOracle):
    """keras-tuner's grid oracle, handing out a trial's successor before the trial ends (its own
    waits for the trial to end, so only one or two trials could ever train at once)."""

    def populate_space(self, trial_id):
        """The next grid point, queued to produce its own successor at once."""
        response = super().populate_space(trial_id)
        if response["status"] == TrialStatus.RUNNING:
            hand_out_next(self, trial_id)
        return response


ORACLE_KWARGS = (
    "hyperparameters",
    "allow_new_entries",
    "tune_new_entries",
    "max_retries_per_trial",
    "max_consecutive_failed_trials",
)


class GridSearch(keras_tuner.GridSearch):
    """keras-tuner's GridSearch, whose oracle hands out the grid's points without waiting."""

    def __init__(self, hypermodel=None, objective=None, max_trials=None, seed=None, **kwargs):
        oracle_kwargs = {key: kwargs.pop(key) for key in ORACLE_KWARGS if key in kwargs}
        oracle = _HandsOutAhead(objective, max_trials=max_trials, seed=seed, **oracle_kwargs)
        self.seed = seed
        keras_tuner.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)


class BayesianOptimization(keras_tuner.BayesianOptimization):
    """keras-tuner's BayesianOptimization whose oracle fits its Gaussian process once per
    population and chooses the population's points together (``BatchBayesianOracle``);
    ``batch_size`` is the population (alphalab passes ``search.population``)."""

    oracle_class = BatchBayesianOracle

    def __init__(self, hypermodel=None, objective=None, max_trials=10, seed=None, **kwargs):
        own = (*ORACLE_KWARGS, "num_initial_points", "alpha", "beta", "batch_size", "lie")
        oracle_kwargs = {key: kwargs.pop(key) for key in own if key in kwargs}
        oracle = self.oracle_class(objective, max_trials=max_trials, seed=seed, **oracle_kwargs)
        keras_tuner.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)


def batched(tuner_class: type) -> type:
    """A subclass of ``tuner_class`` whose ``search`` trains trials a population at a time."""

    class Batched(tuner_class):
        def search(self, train: Callable, population: int) -> None:
            """Ask for up to ``population`` trials, hand them to ``train`` (which reports their
            epochs and ends them), until the oracle stops; a chief serves the oracle instead."""
            if is_chief_oracle():
                super().search()
                return
            self.save()  # a search killed during its first population can be continued
            ids = (
                [self.tuner_id]
                if population == 1
                else [f"{self.tuner_id}-{k}" for k in range(population)]
            )
            stopped: set[str] = set()
            while len(stopped) < len(ids):
                trials = []
                for tuner_id in ids:
                    if tuner_id in stopped:
                        continue
                    trial = self.oracle.create_trial(tuner_id)
                    if trial.status == TrialStatus.STOPPED:
                        stopped.add(tuner_id)
                    elif trial.status == TrialStatus.IDLE:
                        break  # the oracle waits for trials to end (a Hyperband round)
                    else:
                        trials.append(trial)
                if trials:
                    train(trials)
                    self.save()
                elif len(stopped) < len(ids):
                    time.sleep(POLL)  # other workers' trials must end first

    Batched.__name__ = f"Batched{tuner_class.__name__}"
    return Batched


def make_tuner(search: SearchSpec, seed: int, directory: Path):
    """The configured tuner, batched, continuing any earlier state in ``directory``."""
    tuner_class = import_callable(search.tuner)
    if not (isinstance(tuner_class, type) and issubclass(tuner_class, keras_tuner.Tuner)):
        raise ConfigError(f"search.tuner._target_: {search.tuner} is not a keras-tuner tuner")
    kwargs = {
        "hypermodel": AlphaSpace(search),
        "objective": keras_tuner.Objective(search.objective, direction="min"),
        "directory": str(directory),
        "project_name": search.name,
        "overwrite": False,
        "seed": seed,
        **search.tuner_kwargs,
    }
    if "max_trials" in inspect.signature(tuner_class).parameters:
        kwargs["max_trials"] = search.max_trials
    if issubclass(tuner_class, BayesianOptimization):  # its oracle proposes a population at once
        kwargs["batch_size"] = search.population
    try:
        tuner = batched(tuner_class)(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"search.tuner: {search.tuner} rejects its arguments: {exc}") from None
    if not isinstance(tuner.oracle, keras_tuner.Oracle):  # a worker's client of the chief
        return tuner
    tuner.oracle.verbose = 0  # alphalab prints a line per trial itself
    if "max_trials" in kwargs:
        tuner.oracle.max_trials = search.max_trials  # a reloaded oracle keeps its old limit
    return tuner
