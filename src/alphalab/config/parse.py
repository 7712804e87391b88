"""Turn a composed Hydra config into checked specs, or one ``ConfigError`` line naming the key.

Nothing here imports tensorflow, keras or mlflow: rejecting bad input must stay fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from alphalab.config import ConfigError, names
from alphalab.config.paths import import_callable, project_root
from alphalab.config.spec import (
    Alpha,
    FormulaSpec,
    ModelSpec,
    RunSpec,
    SweepSpec,
    TaskSpec,
    TrackingSpec,
    TrainSpec,
)

_ABSENT = object()


def register_resolvers() -> None:
    """Resolvers the YAML files use (``${alphalab_root:}``); call before Hydra composes."""
    if not OmegaConf.has_resolver("alphalab_root"):
        OmegaConf.register_new_resolver("alphalab_root", lambda: str(project_root()))


class Reader:
    """Reads typed values from a config, raising ConfigError lines that name the key."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg

    def get(self, key: str) -> Any:
        """The value at ``key`` (resolved, as plain data); an error if it is missing."""
        try:
            value = OmegaConf.select(self.cfg, key, default=_ABSENT, throw_on_missing=True)
        except MissingMandatoryValue:
            raise ConfigError(f"{key}: is required but not set (add {key}=...)") from None
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{key}: {str(exc).splitlines()[0]}") from None
        if value is _ABSENT:
            raise ConfigError(f"{key}: missing from the config")
        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
        return value

    def number(self, key: str) -> float:
        """A finite number."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value}")
        return float(value)

    def positive(self, key: str) -> float:
        """A number greater than 0."""
        value = self.number(key)
        if value <= 0:
            raise ConfigError(f"{key}: must be positive, got {value}")
        return value

    def integer(self, key: str, minimum: int | None = None) -> int:
        """An integer, at least ``minimum`` if given."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{key}: must be at least {minimum}, got {value}")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        """One of ``options``."""
        value = self.get(key)
        if value not in options:
            raise ConfigError(f"{key}: unknown {value!r} (choose one of: {', '.join(options)})")
        return value

    def name(self, key: str, what: str) -> str | None:
        """An optional plain name (no slashes): a sweep's or search's name."""
        value = self.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip() or "/" in value):
            raise ConfigError(f"{key}: expected {what}, got {value!r}")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        """A mapping (``{}`` when null)."""
        value = self.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return value

    def alpha(self, key: str) -> Alpha | None:
        """``{real, imag}`` as an Alpha, or None when null."""
        if self.get(key) is None:
            return None
        return Alpha(self.number(f"{key}.real"), self.number(f"{key}.imag"))

    def optional_text(self, key: str) -> str | None:
        """Text, or None when null or empty."""
        value = self.get(key)
        return str(value) if value else None


def formula_spec(r: Reader, key: str = "formula") -> FormulaSpec:
    """Check a formula node (``name`` and ``kwargs``); import a user's dotted path to prove it."""
    name = r.get(f"{key}.name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{key}.name: expected a formula name or a dotted path, got {name!r}")
    kwargs = r.mapping(f"{key}.kwargs")
    if name in names.FORMULAS:
        if name == "scaled":
            for basis, chosen in kwargs.items():
                if basis not in ("f", "g") or chosen not in names.BASIS_FUNCTIONS:
                    raise ConfigError(
                        f"{key}.kwargs.{basis}: unknown {chosen!r} "
                        f"(f and g choose one of: {', '.join(names.BASIS_FUNCTIONS)})"
                    )
        elif kwargs:
            raise ConfigError(f"{key}.kwargs: formula '{name}' takes no arguments, got {kwargs}")
        return FormulaSpec(name, kwargs)
    if "." not in name:
        raise ConfigError(
            f"{key}.name: unknown formula {name!r} (built-ins: {', '.join(names.FORMULAS)}; "
            "or give a dotted path to your own function)"
        )
    try:
        import_callable(name)
    except ValueError as exc:
        raise ConfigError(f"{key}.name: {exc}") from None
    return FormulaSpec(name, kwargs)


def data_path(r: Reader, key: str) -> Path:
    """The user's data file: absolute, existing, with a suffix alphalab reads."""
    raw = r.get(key)
    if not raw:
        raise ConfigError(f"{key}: is required for the file task (add {key}=FILE)")
    path = Path(str(raw)).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if not path.is_file():
        raise ConfigError(f"{key}: file not found: {path}")
    if path.suffix.lower() not in names.DATA_SUFFIXES:
        raise ConfigError(f"{key}: {path.name}: expected a .csv or .npz file")
    return path


def task_spec(r: Reader) -> TaskSpec:
    """The ``task`` section."""
    name = str(r.get("task.name"))
    kind = r.choice("task.kind", names.TASK_KINDS)
    true_alpha = r.alpha("task.true_alpha")
    if kind == "file":
        return TaskSpec(name, kind, true_alpha, path=data_path(r, "task.path"))
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
    )


def train_spec(r: Reader) -> TrainSpec:
    """The ``train`` section."""
    epochs, batch_size = r.integer("train.epochs"), r.integer("train.batch_size")
    for key, value in (("train.epochs", epochs), ("train.batch_size", batch_size)):
        if value <= 0:
            raise ConfigError(f"{key}: must be a positive integer, got {value}")
    split = r.number("train.validation_split")
    if not 0 < split < 1:
        raise ConfigError(f"train.validation_split: must lie strictly between 0 and 1, got {split}")
    return TrainSpec(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=r.positive("train.learning_rate"),
        validation_split=split,
        optimizer=r.choice("train.optimizer", names.OPTIMIZERS),
        schedule=r.choice("train.schedule", names.SCHEDULES),
        steps_per_execution=r.integer("train.steps_per_execution", minimum=1),
    )


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
            value = cfg[key]
            plain[key] = (
                OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            )
    return plain


def run_spec(cfg: DictConfig) -> RunSpec:
    """Check everything a training run needs, before anything heavy is imported."""
    r = Reader(cfg)
    task = task_spec(r)
    if r.get("formula.name") == names.FORMULA_OF_TASK:
        if task.formula is None:
            raise ConfigError(
                f"formula: the {task.kind} task has no formula of its own; choose one, e.g. "
                f"formula=oscillation (built-ins: {', '.join(names.FORMULAS)})"
            )
        formula = task.formula
    else:
        formula = formula_spec(r)
    return RunSpec(
        approach=r.choice("approach.name", names.APPROACHES),
        alpha=Alpha(r.number("alpha.real"), r.number("alpha.imag")),
        formula=formula,
        task=task,
        model=ModelSpec(
            head=r.choice("model.head", names.HEADS),
            output=r.choice("model.output", names.OUTPUTS),
        ),
        train=train_spec(r),
        seed=r.integer("seed", minimum=0),
        tracking=tracking_spec(r),
        config=resolved(cfg),
    )


def sweep_spec(cfg: DictConfig) -> SweepSpec:
    """The ``sweep`` section of a multirun."""
    r = Reader(cfg)
    tolerance = r.positive("sweep.basin_tolerance")
    return SweepSpec(r.name("sweep.name", "a plain name"), tolerance, tracking_spec(r))
