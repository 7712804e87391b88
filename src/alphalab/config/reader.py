"""Reading typed values out of a composed config, each failure one line naming the key."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from alphalab.config import ConfigError
from alphalab.config.paths import examples_dir, project_root
from alphalab.config.spec import Alpha

_ABSENT = object()
_READS: ContextVar[set[str] | None] = ContextVar("alphalab_reads", default=None)


@contextmanager
def recording_reads() -> Iterator[set[str]]:
    """Collect every key a Reader reads inside the block: the keys the typed spec depends on
    (``alphalab.config.keys`` and its test compare them with the keys present in ``conf/``)."""
    reads: set[str] = set()
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def register_resolvers() -> None:
    """Resolvers the YAML files use (``${alphalab_root:}``); call before Hydra composes."""
    if not OmegaConf.has_resolver("alphalab_root"):
        OmegaConf.register_new_resolver("alphalab_root", lambda: str(project_root()))
    if not OmegaConf.has_resolver("alphalab_examples"):
        OmegaConf.register_new_resolver("alphalab_examples", lambda: str(examples_dir()))


class Reader:
    """Reads typed values from a config, raising ConfigError lines that name the key."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg

    def get(self, key: str) -> Any:
        """The value at ``key`` (resolved, as plain data); an error if it is missing."""
        reads = _READS.get()
        if reads is not None:
            reads.add(key)
        try:
            value = OmegaConf.select(self.cfg, key, default=_ABSENT, throw_on_missing=True)
        except MissingMandatoryValue:
            raise ConfigError(f"{key}: is required but not set (add {key}=...)") from None
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{key}: {str(exc).splitlines()[0]}") from None
        if value is _ABSENT:
            raise ConfigError(f"{key}: missing from the config")
        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
        return value

    def number(self, key: str) -> float:
        """A finite number."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value}")
        return float(value)

    def positive(self, key: str) -> float:
        """A number greater than 0."""
        value = self.number(key)
        if value <= 0:
            raise ConfigError(f"{key}: must be positive, got {value}")
        return value

    def integer(self, key: str, minimum: int | None = None) -> int:
        """An integer, at least ``minimum`` if given."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{key}: must be at least {minimum}, got {value}")
        return value

    def boolean(self, key: str) -> bool:
        """true or false."""
        value = self.get(key)
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        """One of ``options``."""
        value = self.get(key)
        if value not in options:
            raise ConfigError(f"{key}: unknown {value!r} (choose one of: {', '.join(options)})")
        return value

    def name(self, key: str, what: str) -> str | None:
        """An optional plain name (no slashes): a sweep's or search's name."""
        value = self.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip() or "/" in value):
            raise ConfigError(f"{key}: expected {what}, got {value!r}")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        """A mapping (``{}`` when null)."""
        value = self.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return value

    def alpha(self, key: str) -> Alpha | None:
        """``{real, imag}`` as an Alpha, or None when null."""
        if self.get(key) is None:
            return None
        return Alpha(self.number(f"{key}.real"), self.number(f"{key}.imag"))

    def optional_text(self, key: str) -> str | None:
        """Text, or None when null or empty."""
        value = self.get(key)
        return str(value) if value else None
