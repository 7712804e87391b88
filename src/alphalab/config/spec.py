"""The typed specs every stage below the entry point takes: built once from the composed config
(``alphalab.config.parse``), never a raw ``DictConfig``. Defaults live in ``conf/``, not here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple


def _as_written(value: float) -> float:
    """A config's number as Hydra would have parsed it (an int stays an int), so that a job
    derived from another has the same params and job key as the job composed in full."""
    return value if isinstance(value, int) and not isinstance(value, bool) else float(value)


class Alpha(NamedTuple):
    """A complex coefficient as its two real parts (a plain tuple to everything else)."""

    real: float
    imag: float

    def __str__(self) -> str:
        return format_alpha(self.real, self.imag)

    def distance(self, other: tuple[float, float]) -> float:
        """``|self - other|`` as complex numbers."""
        return abs(complex(self.real, self.imag) - complex(other[0], other[1]))


def format_alpha(real: float, imag: float) -> str:
    """``0.493+2i``: how alphalab writes an alpha for people (run names, tables, verdicts)."""
    return f"{real:.3g}{imag:+.3g}i"


@dataclass(frozen=True)
class FormulaSpec:
    """A built-in formula's name, or a dotted path to the user's function, and its arguments."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """Where the data comes from: generated from a formula with a known alpha, or a file."""

    name: str
    kind: str  # see names.TASK_KINDS
    true_alpha: Alpha | None
    formula: FormulaSpec | None = None  # synthetic: the formula that generates the data
    noise: float = 0.0
    n_samples: int = 0
    x_low: float = 0.0
    x_high: float = 1.0
    x_columns: int = 1
    x_distribution: str = "uniform"
    path: Path | None = None  # file: the user's CSV or NPZ
    loader: str | None = None  # loader: a dotted path to the user's function
    loader_kwargs: dict[str, Any] = field(default_factory=dict)
    standardize: str = "none"  # see names.STANDARDIZE
    split: str = "random"  # see names.SPLITS
    test_split: float = 0.0  # held-out test rows no selection sees (0: none)
    folds: int = 1  # K > 1: K-fold cross-validation of the rest
    fold: int | None = None  # which fold a run trains on (None: every fold, one run each)


@dataclass(frozen=True)
class ModelSpec:
    """The architecture around the alpha layer: the built-in one, or the user's builder."""

    head: str  # see names.HEADS
    output: str  # see names.OUTPUTS
    builder: str | None = None  # a dotted path to builder(alpha_layer, input_shape, **kwargs)
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainSpec:
    """How a model is fitted."""

    epochs: int
    batch_size: int
    learning_rate: float
    validation_split: float
    optimizer: str
    schedule: str
    steps_per_execution: int
    alpha_learning_rate: float | None = None  # None: learning_rate
    loss: str = "mse"

    def total_steps(self, n_train: int) -> int:
        """Optimizer steps over the whole fit (what a decaying schedule spans)."""
        return self.epochs * math.ceil(n_train / self.batch_size)


@dataclass(frozen=True)
class TrackingSpec:
    """Where runs are recorded: the MLflow store (None: the default) and experiment."""

    uri: str | None
    experiment_name: str
    artifact_location: str | None


@dataclass(frozen=True)
class PruneSpec:
    """Successive halving inside a population (``sweep.prune``): from epoch ``grace`` on, at
    rungs ``grace * eta**k``, the worst ``1 - 1/eta`` of each arm's live members stop."""

    eta: int = 3
    grace: int = 1

    def rungs(self, epochs: int) -> list[int]:
        """The epochs (counted from 1) after which members are ranked, before ``epochs``."""
        out, rung = [], self.grace
        while rung < epochs:
            out.append(rung)
            rung *= self.eta
        return out


@dataclass(frozen=True)
class RunSpec:
    """Everything one training run needs, checked; ``config`` is the resolved config as plain
    data (recorded as params and ``config.yaml``)."""

    approach: str
    alpha: Alpha
    formula: FormulaSpec
    task: TaskSpec
    model: ModelSpec
    train: TrainSpec
    seed: int
    tracking: TrackingSpec
    baseline_margin: float = 0.0  # verdict.baseline_margin, checked here, used by the verdict
    prune: PruneSpec | None = None  # sweep.prune: successive halving in its population
    config: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def head(self) -> str:
        """``model.head``."""
        return self.model.head

    @property
    def output(self) -> str:
        """``model.output``."""
        return self.model.output

    def with_alpha(self, approach: str, alpha: tuple[float, float]) -> RunSpec:
        """The same run with another approach and alpha (a search trial, a refinement)."""
        approach = str(approach)  # plain text in the recorded config, whatever names it
        config = dict(self.config)  # a new top level; the sections that change are new too
        config["approach"] = {**config.get("approach", {}), "name": approach}
        config["alpha"] = {"real": _as_written(alpha[0]), "imag": _as_written(alpha[1])}
        return replace(self, approach=approach, alpha=Alpha(*map(float, alpha)), config=config)

    def with_fold(self, fold: int) -> RunSpec:
        """The same run on fold ``fold`` of its task's K folds."""
        config = dict(self.config)  # a new top level and task section; the rest is shared
        config["task"] = {**config.get("task", {}), "fold": fold}
        return replace(self, task=replace(self.task, fold=fold), config=config)

    @property
    def folds(self) -> list[RunSpec]:
        """The run once per fold (itself without cross-validation, or when its fold is set)."""
        if self.task.folds == 1 or self.task.fold is not None:
            return [self]
        return [self.with_fold(k) for k in range(self.task.folds)]

    def refit(self) -> RunSpec:
        """The same configuration trained on every non-test row (as scikit-learn refits the
        best candidate): no folds and no validation rows, except that a tuned alpha keeps
        ``train.validation_split`` of them to be tuned on."""
        split = self.train.validation_split if self.approach == "tuned" else 0.0
        config = dict(self.config)
        config["task"] = {**config.get("task", {}), "folds": 1, "fold": None}
        written = split if split else 0  # as Hydra reads "0"
        config["train"] = {**config.get("train", {}), "validation_split": written}
        task = replace(self.task, folds=1, fold=None)
        return replace(
            self, task=task, train=replace(self.train, validation_split=split), config=config
        )

    @property
    def validated(self) -> bool:
        """Whether the run has validation rows (a refit has none)."""
        return self.task.folds > 1 or self.train.validation_split > 0

    def with_seed(self, seed: int) -> RunSpec:
        """The same run with another seed."""
        return replace(self, seed=seed, config={**self.config, "seed": seed})


@dataclass(frozen=True)
class SweepSpec:
    """The ``sweep`` section: how a multirun is named, resumed and compared."""

    name: str | None  # None: a name made from the sweep's config and the time
    basin_tolerance: float
    refine: int  # K: learn alpha from the K best fixed-alpha grid cells once the grid is done
    baseline_margin: float
    tracking: TrackingSpec
    rope: float  # verdict.rope: relative differences within ±rope are practically equivalent


@dataclass(frozen=True)
class Range:
    """One searched range of a keras-tuner search."""

    min: float
    max: float
    step: float | None
    sampling: str


@dataclass(frozen=True)
class SearchSpec:
    """The ``search`` section: the keras-tuner tuner (a dotted path and its own arguments),
    the budget, how many trials train at once, and the ranges."""

    algorithm: str  # the search's label (random, bayesian, ...): names it and its results
    tuner: str  # a dotted path to a keras-tuner tuner class
    tuner_kwargs: dict[str, Any]
    name: str | None
    max_trials: int
    population: int  # trials trained together in one fit
    executions_per_trial: int
    objective: str
    directory: str | None
    reference: bool
    alpha_real: Range
    alpha_imag: Range


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Plain nested data as dotted keys (``{"train": {"epochs": 30}}`` -> ``train.epochs``)."""
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
        if not node and prefix:
            out[prefix.rstrip(".")] = {}
        return out
    out[prefix.rstrip(".")] = node
    return out


@dataclass(frozen=True)
class EngineSpec:
    """Where the population launcher trains: ``hydra.launcher.engine`` and its settings."""

    engine: str = "local"  # a config.names.Engine
    max_members: int | None = None  # runs per shard; None: a population is one shard
    ray_address: str | None = None  # None: a local Ray instance, started and stopped here
    ray_init: dict[str, Any] = field(default_factory=dict)  # ray.init's own keywords
    ray_task: dict[str, Any] = field(default_factory=dict)  # a task's options (num_cpus, ...)
    submitit: dict[str, Any] = field(default_factory=dict)  # executor.update_parameters(...)
