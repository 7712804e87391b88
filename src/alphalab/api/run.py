"""``alphalab.sweep``, ``alphalab.load_sweep`` and ``alphalab.list_sweeps``: the main job from
Python, with the same engine, MLflow records and verdict as ``python -m experiments.run
+sweep=alpha`` (Hydra composes it, so every key keeps its name)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from alphalab.api.data import Data, data_overrides, dotted_path, formula_overrides
from alphalab.api.result import Sweep
from alphalab.config import ConfigError
from alphalab.config.paths import conf_dir, project_root
from alphalab.engine.provenance import COMMAND_ENV, IN_PROCESS
from alphalab.entry.sweep_callback import hydra_quoted

SIMPLE = re.compile(r"^[\w.+\-/:@]*$")  # a value Hydra reads back unchanged without quotes


class SweepError(RuntimeError):
    """A sweep that could not start or finish; the message is the command line's one line."""


def sweep(
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    data: Data | None = None,
    formula: str | Callable | None = None,
    model: str | Callable | None = None,
    grid: Mapping[str, Sequence[float]] | tuple[Sequence[float], Sequence[float]] | None = None,
    seeds: int | Sequence[int] | None = None,
    folds: int | None = None,
    tracking_uri: str | None = None,
    name: str | None = None,
    progress: bool = True,
) -> Sweep:
    """Run the main job, fixed alpha against learned alpha, in this process.

    Everything ``python -m experiments.run +sweep=alpha KEY=VALUE ...`` does happens here: the
    population engine, one MLflow parent run with a child per job, the refits and the verdict.
    Keyword arguments are shortcuts for config keys; ``overrides`` come last and win.

    Args:
        overrides: config keys as a mapping (``{"train.epochs": 50}``; a list value sweeps it)
            or as command-line strings (``["train.epochs=50", "+debug=fast"]``).
        data: your data: a path to a CSV or NPZ file, a pandas DataFrame with columns ``x``
            (or ``x1``, ``x2``, ...), ``y_real`` and optionally ``y_imag``, a mapping of such
            arrays, or a tuple ``(x, y_real[, y_imag])``. In-memory data is written once to
            ``data/data-<digest>.npz`` beside the SQLite store (else under ``mlruns/``) and
            read as ``task=file``.
        formula: a built-in formula's name (``oscillation``, ``complex_gain``, ``scaled``), or
            your function ``f(x, alpha_real, alpha_imag) -> (real, imag)``, as a dotted path or
            the function itself (defined with ``def`` at the top of a module or notebook).
        model: your model builder ``builder(alpha_layer, input_shape, **kwargs)``, as a dotted
            path or the function itself (``model.kwargs`` in ``overrides``).
        grid: the alpha grid: ``{"real": [...], "imag": [...]}`` or ``(reals, imags)``.
        seeds: how many seeds (``3``: seeds 0, 1, 2) or which ones.
        folds: cross-validation folds per seed (``task.folds``; 1: one split).
        tracking_uri: the MLflow store (default: ``MLFLOW_TRACKING_URI``, else the project's
            ``mlruns/mlflow.db``).
        name: the sweep's name; call again with the same name to resume it (default:
            ``alpha-<date>-<time>``).
        progress: print the progress lines and the verdict (plain lines, in a terminal and in
            a notebook alike); ``False``: print nothing.

    Returns:
        The finished ``Sweep``.

    Raises:
        SweepError: bad input (one line naming the key) or a sweep that failed; nothing was
            left RUNNING.
        KeyboardInterrupt: interrupted; its runs are closed KILLED, and the same call with the
            same ``name`` resumes it.

    Example:

    ```python
    import alphalab

    result = alphalab.sweep({"train.epochs": 5}, seeds=1, folds=1)
    print(result.verdict.headline)
    ```
    """
    try:
        args = _arguments(overrides, data, formula, model, grid, seeds, folds, tracking_uri)
    except ConfigError as exc:
        raise SweepError(str(exc)) from None
    name = _override(args, "sweep.name") or name or _new_name(tracking_uri)
    args.append(f"sweep.name={hydra_quoted(name)}")
    _run(args, progress)
    return load_sweep(name, _override(args, "tracking.uri") or tracking_uri)


def _arguments(overrides, data, formula, model, grid, seeds, folds, tracking_uri) -> list[str]:
    """``sweep``'s arguments as command-line overrides, ``overrides`` last."""
    args = ["+sweep=alpha"]
    if data is not None:
        args += data_overrides(data, _data_folder(tracking_uri))
    if formula is not None:
        args += formula_overrides(formula)
    if model is not None:
        args.append(f"model.builder={dotted_path(model, 'model')}")
    if grid is not None:
        reals, imags = (grid["real"], grid["imag"]) if isinstance(grid, Mapping) else grid
        args += [f"alpha.real={_value(list(reals))}", f"alpha.imag={_value(list(imags))}"]
    if seeds is not None:
        args.append(f"seed={_value(list(range(seeds)) if isinstance(seeds, int) else seeds)}")
    if folds is not None:
        args.append(f"task.folds={int(folds)}")
    if tracking_uri is not None:
        args.append(f"tracking.uri={hydra_quoted(tracking_uri)}")
    return args + _strings(overrides)


def _run(args: list[str], progress: bool) -> None:
    """Preflight, then the multirun, as ``experiments/run.py`` does; every failure becomes a
    ``SweepError`` and every interruption closes its runs."""
    from alphalab.engine.sweep import close_interrupted
    from alphalab.entry import run
    from alphalab.entry.inprocess import multirun
    from alphalab.entry.preflight import Failed, preflight_or_exit

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up lines
    command = os.environ.get(COMMAND_ENV)
    os.environ[COMMAND_ENV] = shlex.join([IN_PROCESS, *args])  # the runs' provenance
    quiet = open(os.devnull, "w") if not progress else None  # noqa: SIM115 - closed below
    try:
        with contextlib.redirect_stdout(quiet) if quiet else contextlib.nullcontext():
            preflight_or_exit(conf_dir(), "config", args)
            multirun(args, run.main)
    except Failed as exc:
        close_interrupted()
        raise SweepError(exc.message) from None
    except SystemExit as exc:
        close_interrupted()
        raise SweepError(f"the sweep stopped (exit code {exc.code})") from None
    except BaseException:
        close_interrupted()
        raise
    finally:
        if quiet:
            quiet.close()
        if command is None:
            os.environ.pop(COMMAND_ENV, None)
        else:
            os.environ[COMMAND_ENV] = command
        _reset_keras()


def _reset_keras() -> None:
    """Keras's global state (layer names, graphs) back to a fresh process's."""
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()


def load_sweep(
    name_or_run_id: str | None = None,
    tracking_uri: str | None = None,
    experiment_name: str | None = None,
) -> Sweep:
    """A past sweep or search, read back from MLflow.

    Args:
        name_or_run_id: the sweep's name (``sweep.name``) or its parent run id; None: the latest.
        tracking_uri: the store (default: ``MLFLOW_TRACKING_URI``, else the project's).
        experiment_name: the MLflow experiment (default: ``experiment_name`` in ``conf/``).

    Returns:
        The ``Sweep``.

    Raises:
        LookupError: no such store, experiment, sweep or search (the message says where it
            looked).
    """
    from alphalab.results.compare import find_parent

    tracker = _open_store(tracking_uri, experiment_name)
    return Sweep(tracker, find_parent(tracker, name_or_run_id))


def _open_store(tracking_uri: str | None, experiment_name: str | None):
    """The store's Tracker for the experiment; LookupError when either does not exist (a
    missing SQLite file is not created)."""
    from alphalab.entry.defaults import default_experiment
    from alphalab.tracking.store import Tracker

    return Tracker(tracking_uri, experiment_name or default_experiment(), create=False)


def list_sweeps(tracking_uri: str | None = None, experiment_name: str | None = None):
    """Every sweep and search in the store, oldest first.

    Args:
        tracking_uri: the store (default: ``MLFLOW_TRACKING_URI``, else the project's).
        experiment_name: the MLflow experiment (default: ``experiment_name`` in ``conf/``).

    Returns:
        A pandas DataFrame with columns ``name``, ``kind`` (sweep or search), ``started``,
        ``status``, ``jobs``, ``outcome``, ``headline`` and ``run_id``.
    """
    import pandas as pd

    from alphalab.results.compare import parents
    from alphalab.tracking import names

    columns = ["name", "kind", "started", "status", "jobs", "outcome", "headline", "run_id"]
    try:
        tracker = _open_store(tracking_uri, experiment_name)
    except LookupError:
        return pd.DataFrame(columns=columns)
    rows = []
    for run in parents(tracker):
        tags, params = run.data.tags, run.data.params
        headline = re.search(r"\*\*(.+?)\*\*", tags.get(names.NOTE, ""), flags=re.DOTALL)
        jobs = params.get("jobs") or params.get("search.max_trials")
        rows.append(
            {
                "name": tags.get(names.SWEEP_NAME, run.info.run_name),
                "kind": tags.get(names.KIND, ""),
                "started": pd.Timestamp(run.info.start_time, unit="ms"),
                "status": run.info.status,
                "jobs": int(jobs) if jobs and str(jobs).isdigit() else None,
                "outcome": tags.get(names.VERDICT_TAG),
                "headline": headline.group(1) if headline else None,
                "run_id": run.info.run_id,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _data_folder(tracking_uri: str | None) -> Path:
    """Where in-memory data is written: beside a SQLite store, else in the project's mlruns/."""
    from alphalab.tracking.store import resolve_uri, sqlite_path

    db = sqlite_path(resolve_uri(tracking_uri))
    return (db.parent if db is not None else project_root() / "mlruns") / "data"


def _strings(overrides: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """Overrides as Hydra's command-line strings."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        raise ConfigError("overrides: a mapping or a list of strings, not one string")
    if isinstance(overrides, Mapping):
        return [f"{key}={_value(value)}" for key, value in overrides.items()]
    return [str(item) for item in overrides]


def _value(value: Any) -> str:
    """A Python value in Hydra's override grammar: a list sweeps, a mapping is a dict."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | range):
        return ",".join(_value(v) for v in value)
    if isinstance(value, Path):
        value = str(value)
    text = str(value)
    return text if isinstance(value, int | float) or SIMPLE.match(text) else hydra_quoted(text)


def _override(args: list[str], key: str) -> str | None:
    """The last value ``args`` give ``key`` (unquoted), if any."""
    found = None
    for arg in args:
        name, _, value = arg.partition("=")
        if name.lstrip("+~") == key:
            found = value[1:-1] if value[:1] == value[-1:] == "'" else value
    return found


def _new_name(tracking_uri: str | None) -> str:
    """``alpha-<date>-<time>``, with a suffix when a sweep of that name exists already."""
    base = f"alpha-{datetime.now():%Y%m%d-%H%M%S}"
    taken = set()
    with contextlib.suppress(Exception):
        taken = set(list_sweeps(tracking_uri)["name"])
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    return name
