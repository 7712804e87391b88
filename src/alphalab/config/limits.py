"""MLflow's limits on what alphalab logs, checked before anything starts (an experiment name of
600 characters used to end in a 35-line traceback once the sweep had begun).

The limits are read from the installed MLflow's own source, ``mlflow/utils/validation.py``,
parsed and not imported (importing MLflow costs about a second, and config-only commands stay
free of it); without MLflow they are MLflow 3.17's. A run's name is kept in the runs table's
``name`` column, ``String(250)`` in MLflow's SQL schema (PostgreSQL enforces it; validation.py
has no constant for it). tests/test_limits.py compares every number with MLflow's.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

from alphalab.config import ConfigError
from alphalab.config.spec import RunSpec, flatten

FALLBACK = {  # MLflow 3.17.2's
    "MAX_PARAM_VAL_LENGTH": 6000,
    "MAX_TAG_VAL_LENGTH": 8000,
    "MAX_EXPERIMENT_NAME_LENGTH": 500,
    "MAX_ENTITY_KEY_LENGTH": 250,
}
RUN_NAME_CHARS = 250  # mlflow.store.tracking.dbmodels.models.SqlRun.name: String(250)
PARENT_PREFIX = "base."  # a sweep's parent logs its base config under this prefix
# Config values that name runs (and are their tag alphalab.sweep_name / search name).
RUN_NAMES = ("sweep.name", "search.name")


@cache
def mlflow_limits() -> dict[str, int]:
    """``FALLBACK``'s names with the installed MLflow's values (read from its source)."""
    limits = dict(FALLBACK)
    try:
        spec = importlib.util.find_spec("mlflow")  # a top-level name: nothing is imported
        folders = list(spec.submodule_search_locations or []) if spec else []
        source = (Path(folders[0]) / "utils" / "validation.py").read_text()
        tree = ast.parse(source)
    except (ImportError, ValueError, IndexError, OSError, SyntaxError):
        return limits
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            known = isinstance(target, ast.Name) and target.id in limits
            if known and isinstance(value, ast.Constant) and isinstance(value.value, int):
                limits[target.id] = value.value
    return limits


def _over(key: str, chars: int, limit: int, what: str) -> ConfigError:
    return ConfigError(f"{key}: {chars} characters, over MLflow's limit of {limit} for {what}")


def check_limits(spec: RunSpec) -> None:
    """Raise ConfigError, naming the key and the limit, for a name or a param value of
    ``spec``'s config past what MLflow stores: the experiment name, a sweep's or search's
    name (a run name and a tag), and every flattened config key and value (each run's params,
    the sweep parent's ``base.*``)."""
    limits = mlflow_limits()
    name = spec.tracking.experiment_name
    if len(name) > limits["MAX_EXPERIMENT_NAME_LENGTH"]:
        raise _over(
            "experiment_name", len(name), limits["MAX_EXPERIMENT_NAME_LENGTH"], "an experiment name"
        )
    params: dict[str, Any] = flatten(spec.config)
    run_name_limit = min(RUN_NAME_CHARS, limits["MAX_TAG_VAL_LENGTH"])
    for key in RUN_NAMES:
        value = params.get(key)
        if isinstance(value, str) and len(value) > run_name_limit:
            raise _over(key, len(value), run_name_limit, "a run name")
    key_limit = limits["MAX_ENTITY_KEY_LENGTH"] - len(PARENT_PREFIX)
    value_limit = limits["MAX_PARAM_VAL_LENGTH"]
    for key, value in params.items():
        if len(key) > key_limit:
            raise ConfigError(
                f"{key}: a key of {len(key)} characters, over MLflow's limit of "
                f"{limits['MAX_ENTITY_KEY_LENGTH']} for a param key (less '{PARENT_PREFIX}', "
                "which a sweep's parent puts before it)"
            )
        text = str(value)
        if len(text) > value_limit:
            raise _over(key, len(text), value_limit, "a param value")
