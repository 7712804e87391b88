"""The ``search`` section of the config, checked without importing keras-tuner or tensorflow."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from alphalab.config import ConfigError, _choice, _get, _int, _number

TUNERS = ("random", "bayesian", "hyperband", "grid")
OBJECTIVES = ("val_loss", "loss")
SAMPLINGS = ("linear", "log")
# What each tuner needs at run time beyond keras-tuner itself (found without importing it).
NEEDS = {
    "random": ("tensorboard",),
    "grid": ("tensorboard",),
    "hyperband": ("tensorboard",),
    "bayesian": ("tensorboard", "scipy", "sklearn"),
}


@dataclass(frozen=True)
class Range:
    min: float
    max: float
    step: float | None
    sampling: str


@dataclass(frozen=True)
class SearchSpec:
    tuner: str
    name: str | None
    max_trials: int
    executions_per_trial: int
    objective: str
    directory: str | None
    reference: bool
    alpha_real: Range
    alpha_imag: Range
    num_initial_points: int | None = None
    beta: float = 1.0
    max_epochs: int | None = None
    factor: int = 3
    hyperband_iterations: int = 1


def _range(cfg: DictConfig, key: str, tuner: str) -> Range:
    low, high = _number(cfg, f"{key}.min"), _number(cfg, f"{key}.max")
    if high <= low:
        raise ConfigError(f"{key}.max: must be greater than {key}.min ({low}), got {high}")
    step = OmegaConf.select(cfg, f"{key}.step", default=None)
    if step is not None:
        step = _number(cfg, f"{key}.step")
        if step <= 0:
            raise ConfigError(f"{key}.step: must be positive, got {step}")
    elif tuner == "grid":
        raise ConfigError(f"{key}.step: the grid tuner needs a step for every range")
    sampling = _choice(cfg, f"{key}.sampling", SAMPLINGS)
    if sampling == "log" and low <= 0:
        raise ConfigError(f"{key}.min: log sampling needs a positive minimum, got {low}")
    return Range(low, high, step, sampling)


def search_spec(cfg: DictConfig) -> SearchSpec:
    tuner = _choice(cfg, "search.tuner", TUNERS)
    missing = [name for name in NEEDS[tuner] if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"search.tuner: '{tuner}' needs {', '.join(missing)}, which is not installed "
            "(uv sync installs it from the lock file)"
        )
    name = OmegaConf.select(cfg, "search.name", default=None)
    if name is not None and (not isinstance(name, str) or not name.strip() or "/" in name):
        raise ConfigError(f"search.name: expected a plain name, got {name!r}")
    max_epochs = None
    if tuner == "hyperband":
        max_epochs = _int(cfg, "search.max_epochs", minimum=1)
    initial, beta = None, 1.0
    if tuner == "bayesian":
        initial = _int(cfg, "search.num_initial_points", minimum=1)
        beta = _number(cfg, "search.beta")
        if beta < 0:
            raise ConfigError(f"search.beta: must be >= 0, got {beta}")
    directory = OmegaConf.select(cfg, "search.directory", default=None)
    return SearchSpec(
        tuner=tuner,
        name=name,
        max_trials=_int(cfg, "search.max_trials", minimum=1),
        executions_per_trial=_int(cfg, "search.executions_per_trial", minimum=1),
        objective=_choice(cfg, "search.objective", OBJECTIVES),
        directory=str(directory) if directory else None,
        reference=bool(_get(cfg, "search.reference")),
        alpha_real=_range(cfg, "search.space.alpha_real", tuner),
        alpha_imag=_range(cfg, "search.space.alpha_imag", tuner),
        num_initial_points=initial,
        beta=beta,
        max_epochs=max_epochs,
        factor=_int(cfg, "search.factor", minimum=2) if tuner == "hyperband" else 3,
        hyperband_iterations=(
            _int(cfg, "search.hyperband_iterations", minimum=1) if tuner == "hyperband" else 1
        ),
    )


def grid_size(spec: SearchSpec) -> int:
    def count(r: Range) -> int:
        return math.floor((r.max - r.min) / r.step + 1e-9) + 1 if r.step else 10

    return count(spec.alpha_real) * count(spec.alpha_imag)
