"""The user's own things a config names, checked: a formula (built-in or a dotted path to
their function), a data file, a dotted path to their builder or loader."""

from __future__ import annotations

import stat
from pathlib import Path

from alphalab.config import ConfigError, names
from alphalab.config.paths import import_callable
from alphalab.config.reader import Reader
from alphalab.config.spec import FormulaSpec


def formula_spec(r: Reader, key: str = "formula") -> FormulaSpec:
    """Check a formula node (``name`` and ``kwargs``); import a user's dotted path to prove it."""
    name = r.get(f"{key}.name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{key}.name: expected a formula name or a dotted path, got {name!r}")
    kwargs = r.mapping(f"{key}.kwargs")
    if name in names.FORMULAS:
        if name == "scaled":
            for basis, chosen in kwargs.items():
                if basis not in ("f", "g") or chosen not in names.BASIS_FUNCTIONS:
                    raise ConfigError(
                        f"{key}.kwargs.{basis}: unknown {chosen!r} "
                        f"(f and g choose one of: {', '.join(names.BASIS_FUNCTIONS)})"
                    )
        elif kwargs:
            raise ConfigError(
                f"{key}.kwargs.{next(iter(kwargs))}: formula '{name}' takes no arguments, got "
                f"{kwargs}"
            )
        return FormulaSpec(name, kwargs)
    if "." not in name:
        raise ConfigError(
            f"{key}.name: unknown formula {name!r} (built-ins: {', '.join(names.FORMULAS)}; "
            "or give a dotted path to your own function)"
        )
    try:
        import_callable(name)
    except ValueError as exc:
        raise ConfigError(f"{key}.name: {exc}") from None
    return FormulaSpec(name, kwargs)


def data_path(r: Reader, key: str) -> Path:
    """The user's data file: absolute, existing, with a suffix alphalab reads."""
    raw = r.get(key)
    if not raw:
        raise ConfigError(f"{key}: is required for the file task (add {key}=FILE)")
    path = Path(str(raw)).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"{key}: file not found: {path}") from None
    except OSError as exc:  # a name too long, a folder on the way that is a file, ...
        raise ConfigError(f"{key}: cannot read {path} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):  # a folder, /dev/null, a pipe (reading one would wait forever)
        raise ConfigError(f"{key}: not a regular file: {path}")
    if path.suffix.lower() not in names.DATA_SUFFIXES:
        raise ConfigError(f"{key}: {path.name}: expected a .csv or .npz file")
    return path


def dotted_path(r: Reader, key: str, what: str) -> str:
    """A dotted path to the user's function, imported to prove it resolves."""
    path = r.get(key)
    if not isinstance(path, str) or "." not in path:
        raise ConfigError(f"{key}: expected a dotted path to {what} (package.module.name)")
    try:
        import_callable(path)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    return path
