"""Turn a composed Hydra config into a checked ``RunSpec``, or one ``ConfigError`` line.

Nothing here imports tensorflow, keras or mlflow: rejecting bad input must stay fast.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from alphalab import catalog


class ConfigError(ValueError):
    """Bad user input. ``str(error)`` is one line naming the key or file and the problem."""


def project_root() -> Path:
    """The alphalab checkout: the folder holding ``conf/`` (``ALPHALAB_ROOT`` overrides it)."""
    if os.environ.get("ALPHALAB_ROOT"):
        return Path(os.environ["ALPHALAB_ROOT"]).resolve()
    candidate = Path(__file__).resolve().parents[2]
    return candidate if (candidate / "conf").is_dir() else Path.cwd()


def register_resolvers() -> None:
    """Resolvers the YAML files use; call before Hydra composes (idempotent)."""
    if not OmegaConf.has_resolver("alphalab_root"):
        OmegaConf.register_new_resolver("alphalab_root", lambda: str(project_root()))


@dataclass(frozen=True)
class FormulaSpec:
    name: str  # built-in name or dotted path
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        return self.name in catalog.FORMULAS


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str  # "synthetic" or "file"
    true_alpha: tuple[float, float] | None
    formula: FormulaSpec | None = None  # synthetic: the formula that generates the data
    noise: float = 0.0
    n_samples: int = 0
    x_low: float = 0.0
    x_high: float = 1.0
    x_columns: int = 1
    x_distribution: str = "uniform"
    path: Path | None = None


@dataclass(frozen=True)
class TrainSpec:
    epochs: int
    batch_size: int
    learning_rate: float
    validation_split: float
    optimizer: str
    schedule: str
    steps_per_execution: int

    def total_steps(self, n_train: int) -> int:
        """Optimizer steps over the whole fit (what a decaying schedule spans)."""
        return self.epochs * math.ceil(n_train / self.batch_size)


@dataclass(frozen=True)
class RunSpec:
    approach: str
    alpha: tuple[float, float]
    formula: FormulaSpec
    task: TaskSpec
    head: str
    output: str
    train: TrainSpec
    seed: int
    experiment_name: str
    tracking_uri: str | None
    artifact_location: str | None


OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
SCHEDULES = ("cosine", "constant")


_ABSENT = object()


def _get(cfg: DictConfig, key: str) -> Any:
    try:
        value = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=True)
    except MissingMandatoryValue:
        raise ConfigError(f"{key}: is required but not set (add {key}=...)") from None
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{key}: {str(exc).splitlines()[0]}") from None
    if value is _ABSENT:
        raise ConfigError(f"{key}: missing from the config")
    return value


def _number(cfg: DictConfig, key: str) -> float:
    value = _get(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {value}")
    return float(value)


def _int(cfg: DictConfig, key: str, minimum: int | None = None) -> int:
    value = _get(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key}: must be at least {minimum}, got {value}")
    return value


def _choice(cfg: DictConfig, key: str, options: tuple[str, ...]) -> str:
    value = _get(cfg, key)
    if value not in options:
        raise ConfigError(f"{key}: unknown {value!r} (choose one of: {', '.join(options)})")
    return value


def _pair(cfg: DictConfig, key: str) -> tuple[float, float] | None:
    node = _get(cfg, key)
    if node is None:
        return None
    return _number(cfg, f"{key}.real"), _number(cfg, f"{key}.imag")


def formula_spec(cfg: DictConfig, key: str = "formula") -> FormulaSpec:
    """Check a formula node (``name`` and ``kwargs``); import a user's dotted path to prove it."""
    name = _get(cfg, f"{key}.name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{key}.name: expected a formula name or a dotted path, got {name!r}")
    kwargs_node = OmegaConf.select(cfg, f"{key}.kwargs", default=None)
    kwargs = OmegaConf.to_container(kwargs_node, resolve=True) if kwargs_node is not None else {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{key}.kwargs: expected a mapping, got {kwargs!r}")
    if name in catalog.FORMULAS:
        if name == "scaled":
            for basis in ("f", "g"):
                chosen = kwargs.get(basis, "sin" if basis == "f" else "cos")
                if chosen not in catalog.BASIS_FUNCTIONS:
                    raise ConfigError(
                        f"{key}.kwargs.{basis}: unknown {chosen!r} "
                        f"(choose one of: {', '.join(catalog.BASIS_FUNCTIONS)})"
                    )
        elif kwargs:
            raise ConfigError(f"{key}.kwargs: formula '{name}' takes no arguments, got {kwargs}")
        return FormulaSpec(name, kwargs)
    if "." not in name:
        raise ConfigError(
            f"{key}.name: unknown formula {name!r} (built-ins: {', '.join(catalog.FORMULAS)}; "
            "or give a dotted path to your own function)"
        )
    try:
        catalog.import_callable(name)
    except ValueError as exc:
        raise ConfigError(f"{key}.name: {exc}") from None
    return FormulaSpec(name, kwargs)


def task_spec(cfg: DictConfig) -> TaskSpec:
    name = _get(cfg, "task.name")
    kind = _choice(cfg, "task.kind", ("synthetic", "file"))
    true_alpha = _pair(cfg, "task.true_alpha")
    if kind == "file":
        raw_path = _get(cfg, "task.path")
        if not raw_path:
            raise ConfigError("task.path: is required for the file task (add task.path=FILE)")
        path = Path(str(raw_path)).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            raise ConfigError(f"task.path: file not found: {path}")
        if path.suffix.lower() not in (".csv", ".npz"):
            raise ConfigError(f"task.path: {path.name}: expected a .csv or .npz file")
        return TaskSpec(name=str(name), kind=kind, true_alpha=true_alpha, path=path)
    if true_alpha is None:
        raise ConfigError("task.true_alpha: a synthetic task needs a true alpha")
    noise = _number(cfg, "task.noise")
    if noise < 0:
        raise ConfigError(f"task.noise: must be >= 0, got {noise}")
    x_low, x_high = _number(cfg, "task.x.low"), _number(cfg, "task.x.high")
    if x_high <= x_low:
        raise ConfigError(f"task.x.high: must be greater than task.x.low ({x_low}), got {x_high}")
    return TaskSpec(
        name=str(name),
        kind=kind,
        true_alpha=true_alpha,
        formula=formula_spec(cfg, "task.formula"),
        noise=noise,
        n_samples=_int(cfg, "task.n_samples", minimum=10),
        x_low=x_low,
        x_high=x_high,
        x_columns=_int(cfg, "task.x.columns", minimum=1),
        x_distribution=_choice(cfg, "task.x.distribution", ("uniform", "normal")),
    )


def train_spec(cfg: DictConfig) -> TrainSpec:
    epochs = _int(cfg, "train.epochs")
    if epochs <= 0:
        raise ConfigError(f"train.epochs: must be a positive integer, got {epochs}")
    batch_size = _int(cfg, "train.batch_size")
    if batch_size <= 0:
        raise ConfigError(f"train.batch_size: must be a positive integer, got {batch_size}")
    learning_rate = _number(cfg, "train.learning_rate")
    if learning_rate <= 0:
        raise ConfigError(f"train.learning_rate: must be positive, got {learning_rate}")
    split = _number(cfg, "train.validation_split")
    if not 0 < split < 1:
        raise ConfigError(f"train.validation_split: must lie strictly between 0 and 1, got {split}")
    return TrainSpec(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        validation_split=split,
        optimizer=_choice(cfg, "train.optimizer", OPTIMIZERS),
        schedule=_choice(cfg, "train.schedule", SCHEDULES),
        steps_per_execution=_int(cfg, "train.steps_per_execution", minimum=1),
    )


def run_spec(cfg: DictConfig) -> RunSpec:
    """Check everything a training run needs, before anything heavy is imported."""
    task = task_spec(cfg)
    formula_node = _get(cfg, "formula.name")
    if formula_node == "task":
        if task.formula is None:
            raise ConfigError(
                "formula: the file task has no formula of its own; choose one, e.g. "
                f"formula=oscillation (built-ins: {', '.join(catalog.FORMULAS)})"
            )
        formula = task.formula
    else:
        formula = formula_spec(cfg)
    seed = _int(cfg, "seed", minimum=0)
    experiment_name = _get(cfg, "experiment_name")
    if not isinstance(experiment_name, str) or not experiment_name.strip():
        raise ConfigError(f"experiment_name: expected a non-empty name, got {experiment_name!r}")
    uri = OmegaConf.select(cfg, "tracking.uri", default=None)
    artifact_location = OmegaConf.select(cfg, "tracking.artifact_location", default=None)
    return RunSpec(
        approach=_choice(cfg, "approach.name", catalog.APPROACHES),
        alpha=(_number(cfg, "alpha.real"), _number(cfg, "alpha.imag")),
        formula=formula,
        task=task,
        head=_choice(cfg, "model.head", catalog.HEADS),
        output=_choice(cfg, "model.output", catalog.OUTPUTS),
        train=train_spec(cfg),
        seed=seed,
        experiment_name=experiment_name,
        tracking_uri=str(uri) if uri else None,
        artifact_location=str(artifact_location) if artifact_location else None,
    )


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a resolved config into dotted keys (lists kept whole)."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}." if prefix or key else ""))
        if not node and prefix:
            out[prefix.rstrip(".")] = {}
        return out
    out[prefix.rstrip(".")] = node
    return out
