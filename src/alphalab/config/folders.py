"""Every folder a command writes into, checked before anything starts: ``hydra.run.dir`` (one
run) or ``hydra.sweep.dir`` (a multirun), ``tracking.artifact_location`` (a local one) and
``search.directory``. An unwritable one used to be found only once training had begun.

Nothing is left behind: a folder that does not exist yet is not made; its nearest existing
parent is checked instead, with a probe folder made and removed at once (permissions alone do
not tell: root may write anywhere but a read-only file system or ``/proc``).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from alphalab.config import ConfigError

NAME_MAX = 255  # bytes in one file name (Linux, macOS)
PATH_MAX = 4096


def folder_problem(folder: str | Path) -> str | None:
    """Why ``folder`` cannot be made (with its parents) and written into, or None."""
    path = Path(folder).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if len(os.fsencode(path)) >= PATH_MAX:
        return f"the path is longer than {PATH_MAX} bytes"
    long = next((p for p in path.parts if len(os.fsencode(p)) > NAME_MAX), None)
    if long is not None:
        return f"a name longer than {NAME_MAX} bytes ({long[:40]}...)"
    existing = path
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"no permission to write in {existing}"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".alphalab-probe-", dir=existing))
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return f"cannot write in {existing} ({reason})"
        return f"cannot make a folder in {existing} ({reason})"
    return None


def _local(location: str) -> str | None:
    """A local folder named by a path or a ``file:`` URI; None for a remote store (s3://...)."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return parsed.path
    return location if not parsed.scheme or len(parsed.scheme) == 1 else None


def output_folders(cfg: DictConfig, multirun: bool) -> list[tuple[str, str]]:
    """``(key, folder)`` for every folder the command writes into that its config names."""
    keys = ["hydra.sweep.dir" if multirun else "hydra.run.dir", "tracking.artifact_location"]
    if cfg.get("search") is not None:
        keys.append("search.directory")
    out = []
    for key in keys:
        try:
            value = OmegaConf.select(cfg, key, default=None)
        except OmegaConfBaseException:  # e.g. ${hydra:job.name}: resolved by Hydra at run time
            continue
        folder = _local(str(value)) if value else None
        if folder:
            out.append((key, folder))
    return out


def check_output_folders(cfg: DictConfig, multirun: bool) -> None:
    """Raise ConfigError naming the key and the folder that cannot be written."""
    for key, folder in output_folders(cfg, multirun):
        problem = folder_problem(folder)
        if problem:
            raise ConfigError(f"{key}: cannot write the folder {folder}: {problem}")
