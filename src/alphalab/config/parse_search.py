"""The ``search`` section of the config, checked without importing keras-tuner."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

from omegaconf import DictConfig

from alphalab.config import ConfigError, names
from alphalab.config.reader import Reader
from alphalab.config.spec import Range, SearchSpec


def _range(r: Reader, key: str, tuner: str) -> Range:
    low, high = r.number(f"{key}.min"), r.number(f"{key}.max")
    if high <= low:
        raise ConfigError(f"{key}.max: must be greater than {key}.min ({low}), got {high}")
    step = None if r.get(f"{key}.step") is None else r.positive(f"{key}.step")
    if step is None and tuner == "grid":
        raise ConfigError(f"{key}.step: the grid tuner needs a step for every range")
    sampling = r.choice(f"{key}.sampling", names.SAMPLINGS)
    if sampling == "log" and low <= 0:
        raise ConfigError(f"{key}.min: log sampling needs a positive minimum, got {low}")
    return Range(low, high, step, sampling)


def search_spec(cfg: DictConfig) -> SearchSpec:
    """The ``search`` section, checked without importing keras-tuner."""
    r = Reader(cfg)
    tuner = r.choice("search.tuner", names.TUNERS)
    missing = [m for m in names.TUNER_NEEDS[tuner] if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"search.tuner: '{tuner}' needs {', '.join(missing)}, which is not installed "
            "(uv sync installs it from the lock file)"
        )
    spec = SearchSpec(
        tuner=tuner,
        name=r.name("search.name", "a plain name"),
        max_trials=r.integer("search.max_trials", minimum=1),
        executions_per_trial=r.integer("search.executions_per_trial", minimum=1),
        objective=r.choice("search.objective", names.OBJECTIVES),
        directory=r.optional_text("search.directory"),
        reference=bool(r.get("search.reference")),
        alpha_real=_range(r, "search.space.alpha_real", tuner),
        alpha_imag=_range(r, "search.space.alpha_imag", tuner),
    )
    if tuner == "bayesian":
        beta = r.number("search.beta")
        if beta < 0:
            raise ConfigError(f"search.beta: must be >= 0, got {beta}")
        initial = r.integer("search.num_initial_points", minimum=1)
        return replace(spec, num_initial_points=initial, beta=beta)
    if tuner == "hyperband":
        return replace(
            spec,
            max_epochs=r.integer("search.max_epochs", minimum=1),
            factor=r.integer("search.factor", minimum=2),
            hyperband_iterations=r.integer("search.hyperband_iterations", minimum=1),
        )
    return spec
