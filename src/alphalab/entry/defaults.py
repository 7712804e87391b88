"""Defaults of commands that do not compose the Hydra config, read from ``conf/`` itself."""

from __future__ import annotations

from functools import cache

from omegaconf import OmegaConf

from alphalab.config.paths import conf_dir


@cache
def default_experiment() -> str:
    """``experiment_name`` as ``conf/config.yaml`` sets it."""
    return str(OmegaConf.load(conf_dir() / "config.yaml").experiment_name)
