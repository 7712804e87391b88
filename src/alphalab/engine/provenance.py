"""What a run needs recorded to be reproduced on another machine: the code (git commit, and
whether the tree had uncommitted changes), the locked environment (a hash of ``uv.lock``), the
versions of the libraries that decide the numbers, and the command line. The data's digest is
the run's own ``data.digest`` param. Computed once per process (git costs a few milliseconds).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shlex
import subprocess
import sys
from importlib import metadata

from alphalab.config.paths import project_root

PREFIX = "provenance."
COMMAND_ENV = "ALPHALAB_COMMAND"  # set by the command a user typed; workers inherit it
IN_PROCESS = "alphalab.sweep"  # how the command starts when Python called alphalab.sweep
# The distributions whose versions are recorded; the first one installed of each tuple.
LIBRARIES = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos"),
    "keras": ("keras",),
    "keras_tuner": ("keras-tuner",),
    "mlflow": ("mlflow", "mlflow-skinny"),
    "hydra_core": ("hydra-core",),
}
UNKNOWN = "unknown"


def command_line() -> str:
    """The command the user ran (a sweep's job in another process still reports the sweep's)."""
    return os.environ.get(COMMAND_ENV) or shlex.join([os.path.basename(sys.executable), *sys.argv])


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(project_root()), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _version(distributions: tuple[str, ...]) -> str:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return UNKNOWN


def _lock_hash() -> str:
    lock = project_root() / "uv.lock"
    try:
        return "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()
    except OSError:
        return "none (no uv.lock beside the project)"


@functools.cache
def _fixed() -> dict[str, str]:
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") if commit else None
    found = {
        "git_commit": commit or UNKNOWN,
        "git_dirty": UNKNOWN if status is None else str(bool(status)).lower(),
        "uv_lock": _lock_hash(),
    }
    found.update({f"{key}_version": _version(names) for key, names in LIBRARIES.items()})
    return found


def provenance() -> dict[str, str]:
    """The ``provenance.*`` params of a run made by this process."""
    return {PREFIX + key: value for key, value in {**_fixed(), "command": command_line()}.items()}
