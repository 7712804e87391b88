"""Bad input is rejected before Hydra starts.

``preflight`` composes the config the way Hydra will (every value of every swept key) and checks
it with ``alphalab.config``, without importing tensorflow or mlflow, so that bad input costs well
under a second and ends with one line and exit code 2, before any run is created. Every
override's key must be one that alphalab reads (``alphalab.config.keys``: a key nothing reads
would silently run another experiment than the one typed).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from omegaconf import DictConfig

from alphalab.config import ConfigError
from alphalab.config.folders import check_output_folders
from alphalab.config.limits import check_limits
from alphalab.config.names import PLAIN_LOSSES
from alphalab.config.overrides import group_value_line, override_error_line
from alphalab.config.parse import run_spec, sweep_spec, tracking_spec
from alphalab.config.parse_search import search_spec
from alphalab.config.reader import Reader, register_resolvers
from alphalab.config.spec import RunSpec
from alphalab.entry.override_keys import check_added_keys, unknown_key_line
from alphalab.session import State

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1

# Hydra flags that print something instead of running: leave those to Hydra.
_INFO_FLAGS = {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--shell-completion",
    "-sc",
    "--resolve",
    "--package",
    "-p",
    "--config-dir",
    "-cd",
    "--config-name",
    "-cn",
    "--config-path",
    "-cp",
    "--experimental-rerun",
}
_MULTIRUN_FLAGS = {"--multirun", "-m"}
# Hydra launchers that come with one of alphalab's extras (pyproject.toml).
LAUNCHER_EXTRAS = {"ray": "ray", "submitit_local": "slurm", "submitit_slurm": "slurm"}


class Failed(SystemExit):
    """The command stops with ``code`` after its one line, ``message`` (code that calls alphalab
    in process, such as ``alphalab.sweep``, catches it and raises the message)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(code)
        self.message = message


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """Print one ``alphalab: error:`` line and exit with ``code``."""
    print(f"alphalab: error: {message}", file=sys.stderr, flush=True)
    raise Failed(message, code)


def hydra_error_line(exc: BaseException) -> str:
    """Hydra's multi-line composition errors, reduced to one line naming the key."""
    text = str(exc).strip()
    missing = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
    if missing:
        group, option = missing.groups()
        options = re.findall(r"^\t(\S+)$", text, flags=re.MULTILINE)
        available = f" (available: {', '.join(options)})" if options else ""
        extra = LAUNCHER_EXTRAS.get(option) if group == "hydra/launcher" else None
        if extra:  # an optional engine that is not installed
            return f"{group}: '{option}' is not installed: uv sync --extra {extra}{available}"
        return f"{group}: unknown option '{option}'{available}"
    override = re.search(r"Could not override '([^']+)'", text)
    if override and ("not in struct" in text or "To append to your config" in text):
        return f"{override.group(1)}: no such config key"
    if "Could not append to config" in text or "Could not override" in text:
        return " ".join(line.strip() for line in text.splitlines()[:2] if line.strip())
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)


def sweep_values(overrides: list[str]) -> tuple[list[str], dict[str, list]]:
    """Split command-line overrides into fixed ones and ``{key: [Override values...]}`` sweeps
    (each value kept both as Hydra parsed it and as text)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    fixed, sweeps = [], {}
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_sweep_override():
            texts = list(override.sweep_string_iterator())
            values = list(override.sweep_iterator())
            sweeps[override.get_key_element()] = list(zip(texts, values, strict=True))
        else:
            fixed.append(override.input_line)
    return fixed, sweeps


def preflight(conf_dir: Path, config_name: str, argv: list[str]) -> DictConfig | None:
    """Raise ConfigError if any job the command line describes would be rejected; return the
    first job's config (None for Hydra's informational flags).

    Every value of every swept key is checked against the first values of the others: a config
    group's options are composed by Hydra, a plain value is set on the composed config (cheaper:
    composing is the slow part of a check)."""
    if any(arg.split("=")[0] in _INFO_FLAGS for arg in argv):
        return None
    overrides = [arg for arg in argv if arg not in _MULTIRUN_FLAGS]
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    register_resolvers()
    from hydra.errors import OverrideParseException

    try:
        fixed, sweeps = sweep_values(overrides)
    except OverrideParseException as exc:
        raise ConfigError(override_error_line(exc)) from None
    except HydraException as exc:
        raise ConfigError(hydra_error_line(exc)) from None

    def composed_as(chosen: list[str]) -> DictConfig:
        try:
            return compose(config_name, overrides=chosen, return_hydra_config=True)
        except (HydraException, OmegaConfBaseException) as exc:
            line = unknown_key_line(str(exc), chosen, compose_plain, str(conf_dir), config_name)
            raise ConfigError(line or hydra_error_line(exc)) from None
        except ValueError:  # "Config group override must be a string or a list"
            line = group_value_line(chosen, conf_dir)
            if line is None:
                raise
            raise ConfigError(line) from None
        except OSError as exc:  # Hydra looks for a config group named like each key
            key = max((o.partition("=")[0] for o in chosen), key=len)
            raise ConfigError(f"{key}: not a key Hydra can read ({exc.strerror})") from None

    def compose_plain(chosen: list[str]) -> DictConfig:
        try:
            return compose(config_name, overrides=chosen, return_hydra_config=True)
        except (HydraException, OmegaConfBaseException, ValueError, OSError) as exc:
            raise ConfigError(hydra_error_line(exc)) from None

    def composed(choice: dict[str, str]) -> DictConfig:
        return composed_as(fixed + [f"{key}={value}" for key, value in choice.items()])

    def is_group(key: str) -> bool:
        return "/" in key or (conf_dir / key.lstrip("+~")).is_dir()

    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        first = {key: values[0][0] for key, values in sweeps.items()}
        cfg = composed(first)
        # Sweeps that a config file defines (e.g. +sweep=alpha), unless the command line set them.
        params = cfg.hydra.sweeper.get("params") or {}
        if params:
            file_sweeps = [f"{k}={v}" for k, v in params.items() if k not in sweeps]
            _, more = sweep_values(file_sweeps)
            for key, values in more.items():
                sweeps[key] = values
                first[key] = values[0][0]
            for key, value in params.items():
                if key not in sweeps:
                    first[key] = str(value)
            cfg = composed(first)
        chosen = fixed + [f"{key}={value}" for key, value in first.items()]
        check_added_keys(chosen, cfg, compose_plain, str(conf_dir), config_name)
        check(cfg)
        for key, values in sweeps.items():
            for text, value in values[1:]:
                if is_group(key):
                    check(composed({**first, key: text}))
                    continue
                variant = cfg.copy()
                with open_dict(variant):
                    OmegaConf.update(variant, key.lstrip("+"), value, merge=False)
                check(variant)
        mode = OmegaConf.select(cfg, "hydra.mode")
        multirun = any(arg in _MULTIRUN_FLAGS for arg in argv) or bool(sweeps)
        multirun = multirun or getattr(mode, "name", mode) == "MULTIRUN"
        if multirun:
            sweep_spec(cfg)  # the sweep's own section: checked again before its parent opens
        else:
            check_one_job_keys(fixed, searching=cfg.get("search") is not None)
        check_output_folders(cfg, multirun)
    return cfg


def check_one_job_keys(overrides: list[str], searching: bool) -> None:
    """A command that runs one job (or a search) reads no ``sweep.*`` key, and one job no
    ``verdict.*`` key either: set on its command line, they would change nothing."""
    for override in overrides:
        key = override.partition("=")[0].lstrip("+~")
        if key.startswith("sweep."):
            where = "a search" if searching else "one job"
        elif key.startswith("verdict.") and not searching:
            where = "one job"
        else:
            continue
        raise ConfigError(
            f"{key}: read only by a sweep (+sweep=alpha, or -m with a swept key); this command "
            f"runs {where}"
        )


def check(cfg: DictConfig) -> None:
    """Everything a job of this config will check before training."""
    spec = run_spec(cfg)
    check_limits(spec)
    if spec.model.builder or spec.task.kind == "loader" or spec.train.loss not in PLAIN_LOSSES:
        check_model_and_data(spec)
    elif spec.task.kind == "file":
        from alphalab.data.sources import read_file

        read_file(spec.task)
    if cfg.get("search") is not None:
        from alphalab.engine import distributed

        distributed.check_name(search_spec(cfg), distributed.role())


# The (approach, formula, task, model, loss, seed) whose data and model passed; a reset forgets
# them (checked again).
_CHECKED: State[set[str]] = State("entry.preflight.checked", set)


def check_model_and_data(spec: RunSpec) -> None:
    """Load the data, check the loss and build the model as the job will (this imports
    TensorFlow): a user's loader, loss or builder is rejected before the first epoch."""
    key = repr((spec.approach, spec.formula, spec.task, spec.model, spec.train.loss, spec.seed))
    if key in _CHECKED.get():
        return
    from alphalab.engine.fit import prepare_data
    from alphalab.losses import check_loss
    from alphalab.model.build import build

    try:
        check_loss(spec.train.loss)
    except ValueError as exc:
        raise ConfigError(f"train.loss: {exc} (any name keras.losses.get knows)") from None
    data = prepare_data(spec)
    shape, has_imag = data.train.input_shape, data.train.has_imag
    build(spec.approach, spec.formula, spec.alpha, spec.model, shape, has_imag)
    _CHECKED.get().add(key)


def preflight_or_exit(conf_dir: Path, config_name: str, argv: list[str]) -> None:
    """Answer ``--help`` or reject bad input; return only when the command should run."""
    if argv and argv[0] in ("--help", "-h"):
        from alphalab.entry.help import help_text

        print(help_text(conf_dir), end="")
        raise SystemExit(0)
    try:
        cfg = preflight(conf_dir, config_name, argv)
    except ConfigError as exc:
        fail(str(exc))
    if cfg is not None:
        check_store_or_exit(tracking_spec(Reader(cfg)).uri)


def check_store_or_exit(configured_uri: str | None) -> None:
    """Before anything trains: the store must answer, else one line naming ``tracking.uri``
    (MLflow itself would retry an unreachable store for minutes)."""
    from alphalab.tracking.precheck import store_problem
    from alphalab.tracking.store import resolve_uri

    problem = store_problem(resolve_uri(configured_uri))
    if problem is not None:
        fail(f"tracking.uri: {problem}")
