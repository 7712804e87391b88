"""A key that nothing reads is bad input (PRODUCT.md "Bad input"): ``train.epoch=3`` or
``+task.path=data.csv`` with a built-in task must stop before anything starts, never run the
default experiment instead.

What "read" means. An override ``KEY=VALUE``, ``+KEY=VALUE`` or ``++KEY=VALUE`` whose KEY is
not a config group is read when, in the config composed from the command's own group choices
(without its ``+KEY`` additions), one of these holds:

- KEY is present, as a value or a section;
- a section on KEY's path is open: one of ``OPEN`` (the keyword arguments alphalab hands to a
  user's builder, loader or formula, or to a keras-tuner class), or, under ``hydra.``, a mapping
  that Hydra's own schema types as a plain ``Dict`` (``hydra.launcher.ray.init``,
  ``hydra.callbacks``, ``hydra.job.env_set``, ...), whose contents are passed on as they are;
- the nearest section on KEY's path is null here (``task.true_alpha`` of ``task=file``) and
  another option of the config group has KEY (``task.true_alpha.real``): the section is filled.

Anything else is rejected in one line: "KEY is read only with GROUP=OPTION" when another option
of a config group on KEY's path has it (found by composing that group's options, not from a
list), else "KEY: no such key; did you mean NEAREST?". A ``+KEY`` hint is offered only for a key
that is read (an open or null section, where Hydra needs the ``+`` to add it).

"Present means read" is kept true by tests/test_keys.py: every key present in any option of
``conf/`` is read by the typed spec (``alphalab.config.parse*``, via ``Reader``), and every
``OPEN`` section is read whole.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from omegaconf import DictConfig, OmegaConf

# Sections whose keys are the user's own: passed as keyword arguments to the user's builder
# (model.kwargs), loader (task.kwargs) or formula (formula.kwargs, task.formula.kwargs; the
# built-in formulas check theirs), or to the keras-tuner tuner class (search.tuner).
OPEN = ("model.kwargs", "task.kwargs", "formula.kwargs", "task.formula.kwargs", "search.tuner")

READ, ADD = "read", "add"  # present / read once added with a "+"

# (group, option) -> the keys present in the config composed with that option, and the open
# sections among them
Shape = tuple[frozenset[str], frozenset[str]]
Composer = Callable[[str, str], Shape | None]


def shape_of(cfg: DictConfig) -> Shape:
    """Every key present in ``cfg`` (sections and values, dotted) and its open sections."""
    keys: set[str] = set()
    opened: set[str] = set()

    def walk(node: dict, prefix: str) -> None:
        for name, value in node.items():
            key = f"{prefix}{name}"
            keys.add(key)
            if isinstance(value, dict):
                if key in OPEN or (key.startswith("hydra.") and _is_plain_dict(cfg, key)):
                    opened.add(key)
                walk(value, f"{key}.")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return frozenset(keys), frozenset(opened)


def _is_plain_dict(cfg: DictConfig, key: str) -> bool:
    """A mapping Hydra's schema types as ``Dict`` (not one of its dataclasses)."""
    try:
        return OmegaConf.get_type(OmegaConf.select(cfg, key)) is dict
    except Exception:  # noqa: BLE001 - a section that does not resolve is not open
        return False


def verdict(key: str, shape: Shape) -> str | None:
    """READ when ``key`` is present in ``shape``; ADD when it is read once added with ``+``
    (under an open section); None otherwise."""
    keys, opened = shape
    if key in keys:
        return READ
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        section = ".".join(parts[:i])
        if section in opened:
            return ADD
        if section in keys:  # the nearest present section decides
            return None
    return None


def _null_section(key: str, keys: frozenset[str]) -> bool:
    """Whether the nearest present section on ``key``'s path is empty here (null)."""
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        section = ".".join(parts[:i])
        if section in keys:
            return not any(k.startswith(section + ".") for k in keys)
    return False


def groups_on_path(key: str, groups: Callable[[str], list[str]]) -> list[str]:
    """The config groups a key may belong to (``task`` for task.path, ``hydra/launcher`` for
    hydra.launcher.engine)."""
    parts = key.split(".")
    return [g for i in range(1, len(parts)) if groups(g := "/".join(parts[:i]))]


def judge(
    key: str,
    shape: Shape,
    chosen: dict[str, str],
    groups: Callable[[str], list[str]],
    compose_option: Composer,
) -> tuple[str, str | None]:
    """``(READ or ADD, None)`` for a key that is read (see the module's docstring), else
    ``("", line)``: the one line saying where it is read, or the nearest known key.

    ``chosen``: the command's group choices; ``groups(name)``: a group's options ([] for none);
    ``compose_option(group, option)``: the shape of the config with that option (or None)."""
    found = verdict(key, shape)
    if found:
        return found, None
    elsewhere: dict[str, list[str]] = {}
    for group in groups_on_path(key, groups):
        for option in groups(group):
            if chosen.get(group) == option:
                continue
            other = compose_option(group, option)
            if other is not None and verdict(key, other) is not None:
                elsewhere.setdefault(group, []).append(option)
    if elsewhere and _null_section(key, shape[0]):
        return ADD, None  # task.true_alpha.real with task=file: the null section is filled
    if elsewhere:
        group, options = next(iter(elsewhere.items()))
        plus = "" if group in chosen else "+"
        where = [f"{plus}{group}={option}" for option in options]
        more = f" (or {', '.join(where[1:])})" if len(where) > 1 else ""
        return "", f"{key} is read only with {where[0]}{more}"
    return "", f"{key}: no such key{_nearest(key, shape)}"


def _nearest(key: str, shape: Shape) -> str:
    """``; did you mean train.epochs?``, or the keys of the section it is in, or nothing."""
    keys = [k for k in shape[0] if k.startswith("hydra.") == key.startswith("hydra.")]
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]}?"
    section = key.rpartition(".")[0]
    if section:
        names = sorted(k[len(section) + 1 :] for k in keys if k.rpartition(".")[0] == section)
        if names and len(names) <= 12:
            return f" ({section} has: {', '.join(names)})"
    return ""


def add_hint(key: str, value: str) -> str:
    """The line for a read key that Hydra refused because it is not there yet."""
    return f"{key}: not in this config yet; add it with +{key}={value}"
