"""Command-line overrides that Hydra cannot use, as one line naming the key (for the pre-flight
check: Hydra's own messages span several lines or name no key)."""

from __future__ import annotations

from pathlib import Path


def override_error_line(exc: BaseException) -> str:
    """An override Hydra's grammar cannot read, as one line naming its key."""
    text = str(getattr(exc, "override", "") or "")
    key = text.partition("=")[0].strip()
    lines = [line.strip() for line in str(getattr(exc, "message", exc)).splitlines()]
    reasons = [
        line
        for line in lines
        if line and not line.startswith(("Error parsing override", "See https://", "^"))
    ]
    reason = reasons[0] if reasons else "not KEY=VALUE"
    if "=" not in text:
        return f"{text}: expected KEY=VALUE ({reason})"
    return (
        f"{key}: cannot read the override {text!r} ({reason}); quote a value with spaces or "
        f"other special characters: {key}='...'"
    )


def group_value_line(overrides: list[str], conf_dir: Path) -> str | None:
    """The override that names a config group's option with something that is not a name
    (``task=5``, ``train=null``, ``=1``), as one line; None if there is none."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        if not key.lstrip("+~"):
            return f"{override.input_line}: an override needs a key (KEY=VALUE)"
        group = key.lstrip("+~").split("@")[0]
        value = override.value()
        if ("/" in group or (conf_dir / group).is_dir()) and not isinstance(value, str | list):
            folder = conf_dir / group
            options = sorted(f.stem for f in folder.glob("*.yaml")) if folder.is_dir() else []
            available = f" (available: {', '.join(options)})" if options else ""
            shown = "null" if value is None else repr(value)
            return f"{group}: expected the name of one of its options, got {shown}{available}"
    return None
