"""The ``search`` section of the config, checked without importing keras-tuner."""

from __future__ import annotations

import importlib.util

from omegaconf import DictConfig

from alphalab.config import ConfigError, names
from alphalab.config.reader import Reader
from alphalab.config.spec import Range, SearchSpec


def _range(r: Reader, key: str) -> Range:
    low, high = r.number(f"{key}.min"), r.number(f"{key}.max")
    if high <= low:
        raise ConfigError(f"{key}.max: must be greater than {key}.min ({low}), got {high}")
    step = None if r.get(f"{key}.step") is None else r.positive(f"{key}.step")
    sampling = r.choice(f"{key}.sampling", names.SAMPLINGS)
    if sampling == "log" and low <= 0:
        raise ConfigError(f"{key}.min: log sampling needs a positive minimum, got {low}")
    return Range(low, high, step, sampling)


def _found(module: str) -> bool:
    """Whether ``module`` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def search_spec(cfg: DictConfig) -> SearchSpec:
    """The ``search`` section, checked without importing keras-tuner."""
    r = Reader(cfg)
    algorithm = r.name("search.algorithm", "a plain name")
    if not algorithm:
        raise ConfigError("search.algorithm: expected a plain name for the search, got none")
    kwargs = r.mapping("search.tuner")
    target = kwargs.pop("_target_", None)
    module = target.rpartition(".")[0] if isinstance(target, str) else ""
    if not module:
        raise ConfigError(
            f"search.tuner._target_: expected a dotted path to a keras-tuner tuner class, got "
            f"{target!r}"
        )
    if not _found(module):
        raise ConfigError(f"search.tuner._target_: cannot find module '{module}'")
    needs = r.get("search.needs") or []
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise ConfigError(f"search.needs: expected a list of module names, got {needs!r}")
    missing = [module for module in needs if not _found(module)]
    if missing:
        raise ConfigError(
            f"search.tuner: '{algorithm}' needs {', '.join(missing)}, which is not installed "
            "(uv sync installs it from the lock file)"
        )
    if r.integer("task.folds", minimum=1) > 1:
        raise ConfigError(
            "task.folds: a search selects its trials on one validation split; cross-validate "
            "a sweep instead (task.folds=1 here)"
        )
    return SearchSpec(
        algorithm=algorithm,
        tuner=target,
        tuner_kwargs=kwargs,
        name=r.name("search.name", "a plain name"),
        max_trials=r.integer("search.max_trials", minimum=1),
        population=r.integer("search.population", minimum=1),
        executions_per_trial=r.integer("search.executions_per_trial", minimum=1),
        objective=r.choice("search.objective", names.OBJECTIVES),
        directory=r.optional_text("search.directory"),
        reference=bool(r.get("search.reference")),
        alpha_real=_range(r, "search.space.alpha_real"),
        alpha_imag=_range(r, "search.space.alpha_imag"),
    )
