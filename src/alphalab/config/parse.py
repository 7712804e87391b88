"""Turn a composed Hydra config into checked specs, or one ``ConfigError`` line naming the key.

Nothing here imports tensorflow, keras or mlflow: rejecting bad input must stay fast.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from alphalab.config import ConfigError, names
from alphalab.config.parse_user import data_path, dotted_path, formula_spec
from alphalab.config.reader import Reader
from alphalab.config.spec import (
    Alpha,
    ModelSpec,
    PruneSpec,
    RunSpec,
    SweepSpec,
    TaskSpec,
    TrackingSpec,
    TrainSpec,
)


def task_spec(r: Reader) -> TaskSpec:
    """The ``task`` section."""
    name = str(r.get("task.name"))
    kind = r.choice("task.kind", names.TASK_KINDS)
    true_alpha = r.alpha("task.true_alpha")
    test_split = r.number("task.test_split")
    if not 0 <= test_split < 1:
        raise ConfigError(f"task.test_split: must lie in [0, 1), got {test_split}")
    folds = r.integer("task.folds", minimum=1)
    fold = None if r.get("task.fold") is None else r.integer("task.fold", minimum=0)
    if fold is not None and fold >= folds:
        raise ConfigError(f"task.fold: must be below task.folds ({folds}), got {fold}")
    prepared = {
        "standardize": r.choice("task.standardize", names.STANDARDIZE),
        "split": r.choice("task.split", names.SPLITS),
        "test_split": test_split,
        "folds": folds,
        "fold": fold,
    }
    if kind == "file":
        return TaskSpec(name, kind, true_alpha, path=data_path(r, "task.path"), **prepared)
    if kind == "loader":
        loader = dotted_path(r, "task.loader", "your loader function")
        kwargs = r.mapping("task.kwargs")
        return TaskSpec(name, kind, true_alpha, loader=loader, loader_kwargs=kwargs, **prepared)
    if true_alpha is None:
        raise ConfigError("task.true_alpha: a synthetic task needs a true alpha")
    noise = r.number("task.noise")
    if noise < 0:
        raise ConfigError(f"task.noise: must be >= 0, got {noise}")
    x_low, x_high = r.number("task.x.low"), r.number("task.x.high")
    if x_high <= x_low:
        raise ConfigError(f"task.x.high: must be greater than task.x.low ({x_low}), got {x_high}")
    return TaskSpec(
        name=name,
        kind=kind,
        true_alpha=true_alpha,
        formula=formula_spec(r, "task.formula"),
        noise=noise,
        n_samples=r.integer("task.n_samples", minimum=10),
        x_low=x_low,
        x_high=x_high,
        x_columns=r.integer("task.x.columns", minimum=1),
        x_distribution=r.choice("task.x.distribution", names.X_DISTRIBUTIONS),
        **prepared,
    )


def train_spec(r: Reader) -> TrainSpec:
    """The ``train`` section."""
    epochs, batch_size = r.integer("train.epochs"), r.integer("train.batch_size")
    for key, value in (("train.epochs", epochs), ("train.batch_size", batch_size)):
        if value <= 0:
            raise ConfigError(f"{key}: must be a positive integer, got {value}")
    split = r.number("train.validation_split")
    if not 0 <= split < 1:
        raise ConfigError(f"train.validation_split: must lie in [0, 1), got {split}")
    loss = r.get("train.loss")
    if not isinstance(loss, str) or not loss.strip():
        raise ConfigError(f"train.loss: expected the name of a Keras loss, got {loss!r}")
    alpha_rate = None
    if r.get("train.alpha_learning_rate") is not None:
        alpha_rate = r.positive("train.alpha_learning_rate")
    return TrainSpec(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=r.positive("train.learning_rate"),
        validation_split=split,
        optimizer=r.choice("train.optimizer", names.OPTIMIZERS),
        schedule=r.choice("train.schedule", names.SCHEDULES),
        steps_per_execution=r.integer("train.steps_per_execution", minimum=1),
        alpha_learning_rate=alpha_rate,
        loss=loss,
    )


def model_spec(r: Reader) -> ModelSpec:
    """The ``model`` section: the built-in architecture (with its head), or the user's builder."""
    head = r.choice("model.head", names.HEADS)
    output = r.choice("model.output", names.OUTPUTS)
    kwargs = r.mapping("model.kwargs")
    if r.get("model.builder") is None:
        if kwargs:  # nothing else reads them: the built-in model takes none
            raise ConfigError(f"model.kwargs.{next(iter(kwargs))}: read only with model.builder")
        return ModelSpec(head, output)
    if head != "none":
        raise ConfigError(
            f"model.head: '{head}' belongs to the built-in model; with model.builder, put any "
            "head into your own model (model.head=none)"
        )
    builder = dotted_path(r, "model.builder", "your model builder")
    return ModelSpec(head, output, builder, kwargs)


def tracking_spec(r: Reader) -> TrackingSpec:
    """Where runs are recorded (``tracking`` and ``experiment_name``)."""
    experiment = r.get("experiment_name")
    if not isinstance(experiment, str) or not experiment.strip():
        raise ConfigError(f"experiment_name: expected a non-empty name, got {experiment!r}")
    return TrackingSpec(
        uri=r.optional_text("tracking.uri"),
        experiment_name=experiment,
        artifact_location=r.optional_text("tracking.artifact_location"),
    )


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain, resolved data, without Hydra's own section."""
    plain = {}
    for key in cfg:
        if key != "hydra":
            try:
                value = cfg[key]
                plain[key] = (
                    OmegaConf.to_container(value, resolve=True)
                    if OmegaConf.is_config(value)
                    else value
                )
            except OmegaConfBaseException as exc:  # an interpolation that does not resolve
                where = getattr(exc, "full_key", None) or key
                raise ConfigError(f"{where}: {str(exc).strip().splitlines()[0]}") from None
    return plain


def run_spec(cfg: DictConfig) -> RunSpec:
    """Check everything a training run needs, before anything heavy is imported."""
    r = Reader(cfg)
    task = task_spec(r)
    if r.get("formula.name") == names.FORMULA_OF_TASK:
        ignored = r.mapping("formula.kwargs")  # the task's formula has task.formula.kwargs
        if ignored:
            raise ConfigError(
                f"formula.kwargs.{next(iter(ignored))}: read only with a formula other than "
                "formula=task (the task's own formula takes task.formula.kwargs)"
            )
        if task.formula is None:
            raise ConfigError(
                f"formula: the {task.kind} task has no formula of its own; choose one, e.g. "
                f"formula=oscillation (built-ins: {', '.join(names.FORMULAS)})"
            )
        formula = task.formula
    else:
        formula = formula_spec(r)
    approach = r.choice("approach.name", names.APPROACHES)
    train = train_spec(r)
    if train.validation_split == 0 and task.folds == 1 and approach == names.Approach.TUNED:
        raise ConfigError(
            "train.validation_split: approach=tuned tunes alpha on validation rows, so it must "
            "be above 0 (or use task.folds > 1)"
        )
    config = resolved(cfg)
    if task.path is not None:  # recorded absolute: a logged run can be rerun from anywhere
        config["task"]["path"] = str(task.path)
    return RunSpec(
        approach=approach,
        alpha=Alpha(r.number("alpha.real"), r.number("alpha.imag")),
        formula=formula,
        task=task,
        model=model_spec(r),
        train=train,
        seed=r.integer("seed", minimum=0),
        tracking=tracking_spec(r),
        baseline_margin=baseline_margin(r),
        prune=prune_spec(r),
        config=config,
    )


def prune_spec(r: Reader) -> PruneSpec | None:
    """``sweep.prune``, ``sweep.prune_eta`` and ``sweep.prune_grace`` (null: 10% of the epochs,
    at least one); None when pruning is off."""
    if r.get("sweep.prune") is None or not r.boolean("sweep.prune"):
        return None
    eta = r.integer("sweep.prune_eta", minimum=2)
    epochs = r.integer("train.epochs", minimum=1)
    if r.get("sweep.prune_grace") is None:
        return PruneSpec(eta, max(1, round(0.1 * epochs)))
    grace = r.integer("sweep.prune_grace", minimum=1)
    if grace >= epochs:
        raise ConfigError(
            f"sweep.prune_grace: must be fewer than train.epochs ({epochs}), got {grace}"
        )
    return PruneSpec(eta, grace)


def sweep_spec(cfg: DictConfig) -> SweepSpec:
    """The ``sweep`` section of a multirun."""
    r = Reader(cfg)
    folds = r.get("task.folds")
    if r.get("train.validation_split") == 0 and (folds is None or folds == 1):
        raise ConfigError(
            "train.validation_split: a sweep chooses each arm's configuration on validation "
            "rows, so it must be above 0 (or cross-validate: task.folds=5)"
        )
    return SweepSpec(
        name=r.name("sweep.name", "a plain name"),
        basin_tolerance=r.positive("sweep.basin_tolerance"),
        refine=r.integer("sweep.refine", minimum=0),
        baseline_margin=baseline_margin(r),
        tracking=tracking_spec(r),
        rope=fraction(r, "verdict.rope", "(a relative difference)"),
    )


def baseline_margin(r: Reader) -> float:
    """``verdict.baseline_margin``: a fraction in [0, 1)."""
    return fraction(r, "verdict.baseline_margin")


def fraction(r: Reader, key: str, what: str = "") -> float:
    """A number in [0, 1) at ``key``."""
    value = r.number(key)
    if not 0 <= value < 1:
        raise ConfigError(f"{key}: must lie in [0, 1){' ' + what if what else ''}, got {value}")
    return value


def recorded_run_spec(text: str) -> RunSpec:
    """The RunSpec of a run's recorded ``config.yaml`` (its text)."""
    return run_spec(OmegaConf.create(text))
