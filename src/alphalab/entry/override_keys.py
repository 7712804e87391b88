"""The pre-flight check's half of ``alphalab.config.keys``: every override key of a command is
one that alphalab (or Hydra) reads, else one line naming it and the nearest known key.

Hydra itself refuses ``KEY=VALUE`` for a key that is not in the config, but suggests
``+KEY=VALUE``, which it then accepts and nothing reads. Here a refused key is explained
(``unknown_key_line``) and every ``+KEY`` is judged (``check_added_keys``) against the config
composed from the command's group choices alone. Composing other options of a group, to say
where a key is read, happens only for a key that is rejected, once per option and process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from omegaconf import DictConfig, OmegaConf

from alphalab.config import ConfigError
from alphalab.config.keys import ADD, READ, Shape, add_hint, judge, shape_of
from alphalab.session import State

Compose = Callable[[list[str]], DictConfig]


def _options(group: str) -> list[str]:
    """A config group's options ([] when ``group`` is none), as Hydra lists them."""
    from hydra.core.global_hydra import GlobalHydra

    try:
        return list(GlobalHydra.instance().config_loader().get_group_options(group))
    except Exception:  # noqa: BLE001 - not a group (or not a readable one)
        return []


@lru_cache(maxsize=256)
def _option_shape(conf_dir: str, config_name: str, group: str, option: str) -> Shape | None:
    """The keys of the config composed with ``group=option`` (or ``+group=option`` for an
    optional group); None if it does not compose (an engine that is not installed)."""
    from hydra import compose

    for form in (f"{group}={option}", f"+{group}={option}"):
        try:
            return shape_of(compose(config_name, overrides=[form], return_hydra_config=True))
        except Exception:  # noqa: BLE001, S112 - try the other form, else no shape
            continue
    return None


def _parsed(overrides: list[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(overrides)


def _is_group(key: str, chosen: dict) -> bool:
    return "/" in key or "@" in key or key in chosen or bool(_options(key))


def _group_overrides(overrides: list[str]) -> list[str]:
    """The overrides that choose config groups' options (they decide which keys exist)."""
    out = []
    for override in _parsed(overrides):
        key = override.key_or_group
        if not override.is_delete() and ("/" in key or "@" in key or _options(key)):
            out.append(override.input_line)
    return out


def _reference(
    overrides: list[str], compose: Compose, conf_dir: str, config_name: str
) -> tuple[Shape, dict[str, str]]:
    """The keys and group choices of the config composed from ``overrides``' group choices
    alone (composed once per process for each set of choices)."""
    groups = tuple(_group_overrides(overrides))
    key, references = (conf_dir, config_name, groups), _REFERENCES.get()
    if key not in references:
        reference = compose(list(groups))
        choices = OmegaConf.to_container(reference.hydra.runtime.choices)
        references[key] = shape_of(reference), {k: v for k, v in choices.items() if v}
    return references[key]


# {(conf dir, config name, group choices): (shape, choices)}; a reset forgets them (composed again).
_REFERENCES: State[dict[tuple, tuple[Shape, dict[str, str]]]] = State(
    "entry.override_keys.references", dict
)


def _judge(key: str, reference: tuple[Shape, dict[str, str]], conf_dir: str, config_name: str):
    shape, chosen = reference
    return judge(
        key,
        shape,
        chosen,
        _options,
        lambda group, option: _option_shape(conf_dir, config_name, group, option),
    )


def check_added_keys(
    overrides: list[str], cfg: DictConfig, compose: Compose, conf_dir: str, config_name: str
) -> None:
    """Raise ConfigError for a ``+KEY``/``++KEY`` override that nothing reads (Hydra accepted
    it: ``cfg`` is the config with it)."""
    chosen = dict(cfg.hydra.runtime.choices)
    added = [
        o.key_or_group
        for o in _parsed(overrides)
        if (o.is_add() or o.is_force_add()) and not _is_group(o.key_or_group, chosen)
    ]
    if not added:
        return
    reference = _reference(overrides, compose, conf_dir, config_name)
    for key in added:
        _, line = _judge(key, reference, conf_dir, config_name)
        if line:
            raise ConfigError(line)


_REFUSED = re.compile(r"Could not override '([^']+)'")


def unknown_key_line(
    text: str, overrides: list[str], compose: Compose, conf_dir: str, config_name: str
) -> str | None:
    """For Hydra's "Could not override 'KEY'" (no such key): where KEY is read, the nearest
    known key, or, for a key that is read once added, the ``+KEY`` to type; None for any other
    error."""
    refused = _REFUSED.search(text)
    if not refused or not ("not in struct" in text or "To append to your config" in text):
        return None
    key = refused.group(1)
    try:
        reference = _reference(overrides, compose, conf_dir, config_name)
    except ConfigError:
        return None
    found, line = _judge(key, reference, conf_dir, config_name)
    if found == ADD:
        value = next(
            (o.input_line.partition("=")[2] for o in _parsed(overrides) if o.key_or_group == key),
            "...",
        )
        return add_hint(key, value)
    return None if found == READ else line
