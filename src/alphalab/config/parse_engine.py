"""The population launcher's engine (``hydra.launcher.engine`` and its settings) as an
EngineSpec, checked before the sweep opens its parent run."""

from __future__ import annotations

import importlib.util

from omegaconf import DictConfig

from alphalab.config import ConfigError
from alphalab.config.names import ENGINE_EXTRAS, Engine
from alphalab.config.reader import Reader
from alphalab.config.spec import EngineSpec

KEY = "hydra.launcher"


def engine_spec(cfg: DictConfig) -> EngineSpec:
    """``hydra.launcher.engine`` (``local``, ``ray``, ``submitit_local``, ``submitit_slurm``),
    ``max_members``, ``ray.address``/``ray.init``/``ray.task`` and ``submitit``; an engine whose
    extra is not installed is one line naming the extra."""
    r = Reader(cfg)
    engine = r.choice(f"{KEY}.engine", tuple(Engine))
    max_members = None
    if r.get(f"{KEY}.max_members") is not None:
        max_members = r.integer(f"{KEY}.max_members", minimum=1)
    address = r.get(f"{KEY}.ray.address")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ConfigError(
            f"{KEY}.ray.address: expected an address like 'auto' or "
            f"'ray://host:10001', got {address!r}"
        )
    if engine in ENGINE_EXTRAS:
        extra, module = ENGINE_EXTRAS[Engine(engine)]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"{KEY}.engine: '{engine}' needs {module}, which is not installed: "
                f"uv sync --extra {extra}"
            )
    return EngineSpec(
        engine=engine,
        max_members=max_members,
        ray_address=address,
        ray_init=r.mapping(f"{KEY}.ray.init"),
        ray_task=r.mapping(f"{KEY}.ray.task"),
        submitit=r.mapping(f"{KEY}.submitit"),
    )
