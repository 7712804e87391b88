"""pytest plugin: what the selected tests need from the system, found or installed before test one.

A test declares the system tools it needs with a marker::

    @pytest.mark.needs("chromium")
    def test_ui_shows_a_real_sweep_in_a_browser(...): ...

After collection (so ``-k``/``-m``/node ids count: a deselected test needs nothing), for every tool
that the selected tests need, in the order of ``TOOLS``:

- found (``$<env>`` if set, else where Debian puts it, else on PATH): its path goes into ``$<env>``
  for the tests (``ALPHALAB_CHROMIUM``, ``ALPHALAB_POSTGRESQL_BIN``);
- missing, and this process may install packages (root, or passwordless ``sudo -n``), apt-get
  exists and ``ALPHALAB_NO_INSTALL`` is unset: ``apt-get update`` and ``apt-get install -y
  <packages>`` from Debian's archive, with one progress line;
- otherwise the session stops at once, before any test runs, with one line saying what to install.

Nothing else touches the network, and nothing is installed when no selected test needs it. Then
the installed packages are compiled to bytecode once (``experiments._bytecode.ensure_bytecode``).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest

from experiments._bytecode import ensure_bytecode

# Exit code when a needed tool is missing and cannot be installed (pytest's own codes are 0-5).
EXIT_MISSING_TOOL = 6


@dataclass(frozen=True)
class Tool:
    """A system tool: where to look for it and which Debian packages provide it."""

    label: str  # for messages
    env: str  # names it for the tests; a user's value is used as it is
    places: tuple[str, ...]  # globs where Debian's packages put it (newest version first)
    apt: tuple[str, ...]  # Debian packages that provide it
    on_path: tuple[str, ...] = ()  # executable names to look for on PATH as a last resort
    files: tuple[str, ...] = field(default=())  # for a folder: what it must contain

    def usable(self, path: str) -> bool:
        if self.files:
            return all(os.access(os.path.join(path, f), os.X_OK) for f in self.files)
        return os.path.isfile(path) and os.access(path, os.X_OK)

    def find(self) -> str | None:
        """Its path, or None. A path set in ``$env`` is the only one considered."""
        if os.environ.get(self.env):
            return os.environ[self.env] if self.usable(os.environ[self.env]) else None
        for pattern in self.places:
            for path in sorted(glob.glob(pattern), key=_version_key, reverse=True):
                if self.usable(path):
                    return path
        for name in self.on_path:
            if path := shutil.which(name):
                return path
        return None


def _version_key(path: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", path)]


TOOLS: dict[str, Tool] = {
    "chromium": Tool(
        label="Chromium",
        env="ALPHALAB_CHROMIUM",
        places=("/usr/bin/chromium",),
        apt=("chromium",),
        on_path=("chromium", "chromium-browser"),
    ),
    "postgresql": Tool(
        label="PostgreSQL's server binaries (initdb, pg_ctl, postgres)",
        env="ALPHALAB_POSTGRESQL_BIN",
        places=("/usr/lib/postgresql/*/bin",),
        apt=("postgresql",),
        files=("initdb", "pg_ctl", "postgres"),
    ),
    "slurm": Tool(
        label="SLURM's daemons (slurmctld, slurmd; sbatch and sinfo come with them)",
        env="ALPHALAB_SLURM_SBIN",
        places=("/usr/sbin",),
        apt=("slurm-wlm",),
        files=("slurmctld", "slurmd"),
    ),
}


def install_prefix() -> list[str] | None:
    """``[]`` as root, ``["sudo", "-n"]`` with passwordless sudo, None when we may not install."""
    if os.environ.get("ALPHALAB_NO_INSTALL") or not shutil.which("apt-get"):
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        done = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False)
        if done.returncode == 0:
            return ["sudo", "-n"]
    return None


def install_commands(packages: Iterable[str], prefix: list[str]) -> list[list[str]]:
    """The apt-get commands that install ``packages`` from Debian's archive."""
    apt = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    return [[*apt, "update", "-qq"], [*apt, "install", "-y", "-qq", *packages]]


def hint(names: Iterable[str], deselect: str = "") -> str:
    """The one line that says what to install (or which path to fix)."""
    tools = [TOOLS[name] for name in names]
    named = [t for t in tools if os.environ.get(t.env)]
    if named:
        paths = ", ".join(f"{t.env}={os.environ[t.env]}" for t in named)
        what = " and ".join(t.label for t in named)
        return f"alphalab: the selected tests need {what}, but {paths} is not there"
    labels = " and ".join(t.label for t in tools)
    packages = " ".join(p for t in tools for p in t.apt)
    envs = " or ".join(f"${t.env}" for t in tools)
    also = f", or leave those tests out with {deselect}" if deselect else ""
    return (
        f"alphalab: the selected tests need {labels}: run `sudo apt-get install {packages}` "
        f"(Debian/Ubuntu), or set {envs} to yours{also}"
    )


def needed(items: Iterable[pytest.Item]) -> dict[str, list[pytest.Item]]:
    """Tool name -> the selected tests that need it."""
    found: dict[str, list[pytest.Item]] = {}
    for item in items:
        names = [n for mark in item.iter_markers("needs") for n in mark.args]
        for name in dict.fromkeys(names):
            if name not in TOOLS:
                raise pytest.UsageError(f"{item.nodeid}: unknown tool {name!r} in needs()")
            found.setdefault(name, []).append(item)
    return found


def deselect_hint(items: Iterable[pytest.Item]) -> str:
    """How to run without these tests: ``-m 'not slow'`` if that covers them, else their ids."""
    items = list(items)
    if all(item.get_closest_marker("slow") for item in items):
        return "-m 'not slow'"
    return " ".join(f"--deselect {item.nodeid}" for item in items[:3])


def provision(
    names: Iterable[str],
    *,
    say: Callable[[str], None],
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    prefix: Callable[[], list[str] | None] = install_prefix,
) -> list[str]:
    """Find or install the named tools; return those still missing. Found paths go to ``$env``."""
    names = [name for name in TOOLS if name in set(names)]
    # A path the user named that is not there: installing would not change that path.
    installable = [
        TOOLS[n] for n in names if TOOLS[n].find() is None and not os.environ.get(TOOLS[n].env)
    ]
    if installable and (how := prefix()) is not None:
        packages = [p for t in installable for p in t.apt]
        say(
            f"alphalab: installing {' '.join(packages)} from Debian for the selected tests "
            f"({' '.join(how + ['apt-get install'])}, about a minute) ..."
        )
        for command in install_commands(packages, how):
            done = run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or [""]
                say(f"alphalab: `{' '.join(command)}` failed: {tail[0]}")
                break
    still_missing = []
    for name in names:
        path = TOOLS[name].find()
        if path is None:
            still_missing.append(name)
        else:
            os.environ[TOOLS[name].env] = path
    return still_missing


# --- pytest hooks -------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs(*tools): system tools the test needs (" + ", ".join(TOOLS) + "); found, or "
        "installed from Debian when running as root or with passwordless sudo, before any test",
    )
    # Tests read these at import: name what is already there before collection.
    for tool in TOOLS.values():
        if not os.environ.get(tool.env) and (path := tool.find()):
            os.environ[tool.env] = path


def _say(config: pytest.Config) -> Callable[[str], None]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return lambda line: print(line, flush=True)
    return lambda line: reporter.write_line(line)


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_xdist_controller(config: pytest.Config) -> bool:
    return getattr(config.option, "dist", "no") != "no" and not _is_xdist_worker(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Under pytest-xdist the controller collects nothing itself: collect here, so that the
    provisioning below runs once, in the process that can stop the session with one line, before
    any worker runs a test. The workers collect and run the tests as usual."""
    if _is_xdist_controller(session.config):
        session.perform_collect()
        session.items = []


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or not session.items:
        return
    if _is_xdist_worker(session.config):  # the controller provisioned; name what it installed
        for tool in TOOLS.values():
            if not os.environ.get(tool.env) and (path := tool.find()):
                os.environ[tool.env] = path
        return
    say = _say(session.config)
    needs = needed(session.items)
    missing = provision(needs, say=say)
    if missing:
        users = [item for name in missing for item in needs[name]]
        pytest.exit(hint(missing, deselect_hint(users)), returncode=EXIT_MISSING_TOOL)
    ensure_bytecode(say=say)
