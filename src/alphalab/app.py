"""What ``python -m experiments.run`` does around Hydra: check input first, then dispatch.

``preflight`` composes the config the way Hydra will (every value of every swept key) and checks
it with ``alphalab.config``, without importing tensorflow or mlflow, so that bad input costs well
under a second and ends with one line and exit code 2, before any run is created.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

from omegaconf import DictConfig

from alphalab.config import ConfigError, register_resolvers, run_spec

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


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    print(f"alphalab: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def hydra_error_line(exc: BaseException) -> str:
    """Hydra's multi-line composition errors, reduced to one line naming the key."""
    text = str(exc).strip()
    missing = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
    if missing:
        group, option = missing.groups()
        options = re.findall(r"^\t(\S+)$", text, flags=re.MULTILINE)
        available = f" (available: {', '.join(options)})" if options else ""
        return f"{group}: unknown option '{option}'{available}"
    override = re.search(r"Could not override '([^']+)'", text)
    if override and ("not in struct" in text or "To append to your config" in text):
        key = override.group(1)
        return f"{key}: no such config key (add a new key with +{key}=...)"
    if "Could not append to config" in text or "Could not override" in text:
        return " ".join(line.strip() for line in text.splitlines()[:2] if line.strip())
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)


def _sweep_values(overrides: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split command-line overrides into fixed ones and ``{key: [values...]}`` sweeps."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    fixed, sweeps = [], {}
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_sweep_override():
            sweeps[override.get_key_element()] = list(override.sweep_string_iterator())
        else:
            fixed.append(override.input_line)
    return fixed, sweeps


def preflight(conf_dir: Path, config_name: str, argv: list[str]) -> None:
    """Raise ConfigError if any job the command line describes would be rejected."""
    if any(arg.split("=")[0] in _INFO_FLAGS for arg in argv):
        return
    overrides = [arg for arg in argv if arg not in _MULTIRUN_FLAGS]
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register_resolvers()
    try:
        fixed, sweeps = _sweep_values(overrides)
    except HydraException as exc:
        raise ConfigError(hydra_error_line(exc)) from None

    def composed(choice: dict[str, str]) -> DictConfig:
        chosen = fixed + [f"{key}={value}" for key, value in choice.items()]
        try:
            return compose(config_name, overrides=chosen, return_hydra_config=True)
        except (HydraException, OmegaConfBaseException) as exc:
            raise ConfigError(hydra_error_line(exc)) from None

    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        first = {key: values[0] for key, values in sweeps.items()}
        cfg = composed(first)
        # Sweeps that a config file defines (e.g. +sweep=alpha), unless the command line set them.
        params = cfg.hydra.sweeper.get("params") or {}
        if params:
            file_sweeps = [f"{k}={v}" for k, v in params.items() if k not in sweeps]
            _, more = _sweep_values(file_sweeps)
            for key, values in more.items():
                sweeps[key] = values
                first[key] = values[0]
            for key, value in params.items():
                if key not in sweeps:
                    first[key] = str(value)
        check(composed(first))
        for key, values in sweeps.items():
            for value in values[1:]:
                check(composed({**first, key: value}))


def check(cfg: DictConfig) -> None:
    """Everything a job of this config will check before training."""
    spec = run_spec(cfg)
    if spec.task.kind == "file":
        from alphalab.data import read_file

        read_file(spec.task)
    if cfg.get("search") is not None:
        from alphalab.search_config import search_spec

        search_spec(cfg)


def preflight_or_exit(conf_dir: Path, config_name: str, argv: list[str]) -> None:
    try:
        preflight(conf_dir, config_name, argv)
    except ConfigError as exc:
        fail(str(exc))


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def main(cfg: DictConfig) -> float:
    """The Hydra task function: returns the validation loss a sweeper would minimise."""
    import os

    from alphalab import tracking

    multirun = _in_multirun()
    parent_id = os.environ.get(tracking.ENV_PARENT)
    try:
        if cfg.get("search") is not None:
            from alphalab.search import run_search

            return run_search(cfg)
        from alphalab.jobs import run_job

        result = run_job(cfg)
    except ConfigError as exc:
        if multirun and parent_id:
            from alphalab.jobs import record_rejected

            record_rejected(cfg, str(exc), parent_id)
            print(f"alphalab: job rejected: {exc}", flush=True)
            return math.inf
        fail(str(exc))
    if multirun and parent_id:
        from alphalab.sweep import report_progress
        from alphalab.tracking import tracker_for

        report_progress(result, tracker_for(result.tracking_uri, result.experiment_name))
    else:
        from alphalab.report import describe_single_run

        print(describe_single_run(result, cfg), flush=True)
        if result.status != "FINISHED":
            fail(f"run '{result.name}' {result.status}: {result.error}", EXIT_RUN_FAILED)
    return result.final_val_loss if result.status == "FINISHED" else math.inf
