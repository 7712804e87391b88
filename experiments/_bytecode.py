"""Compile the installed packages to bytecode once, on machines where Python never writes any.

With ``PYTHONDONTWRITEBYTECODE`` set (as on many container images, and on these machines) Python
never writes ``.pyc`` files, so every process that imports TensorFlow compiles it from source again
(import about 2.5x slower). uv's ``compile-bytecode`` setting fixed that at install time but, as
``[tool.uv] compile-bytecode = true``, makes every ``uv run`` re-check and recompile the whole
environment (astral-sh/uv#12202), about 1 s on each command. :func:`ensure_bytecode` does the same
compilation once per set of installed distributions instead:

- a stamp file ``.alphalab-bytecode`` in site-packages lists the ``*.dist-info`` folders (name,
  version and install time of every distribution) that were compiled, and the interpreter's
  cache tag;
- each call lists site-packages (about a millisecond) and compares; when nothing changed it
  returns at once;
- otherwise it compiles, in a child ``python -m compileall -j0`` (all cores), the whole
  site-packages the first time, afterwards only the top-level folders and modules of the
  distributions that were added or upgraded (``compileall`` skips files whose ``.pyc`` is current);
- a lock file serialises concurrent first calls (parallel workers, test subprocesses);
- it does nothing where Python writes ``.pyc`` files itself (``PYTHONDONTWRITEBYTECODE`` unset) or
  where site-packages is not writable.

``experiments/__init__.py`` calls it, so every ``python -m experiments.<name>`` runs it before
anything heavy is imported; the test session calls it too (tests/provision.py), before the first
test. ``python -m experiments._bytecode`` runs it by hand (e.g. as the last step of an image
build).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator

STAMP = ".alphalab-bytecode"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _site_packages() -> list[str]:
    """The interpreter's own site-packages folders (purelib and platlib), existing ones only."""
    paths = sysconfig.get_paths()
    found: list[str] = []
    for key in ("purelib", "platlib"):
        path = paths.get(key)
        if path and os.path.isdir(path) and path not in found:
            found.append(path)
    return found


def _header() -> str:
    return f"{sys.implementation.cache_tag} optimize={sys.flags.optimize}"


def _distributions(site: str) -> list[str]:
    """``"<name>.dist-info <mtime_ns>"`` for every installed distribution (a reinstall of the same
    version makes a new folder, so it counts as new)."""
    entries = []
    for entry in os.scandir(site):
        if entry.name.endswith(".dist-info"):
            with contextlib.suppress(OSError):
                entries.append(f"{entry.name} {entry.stat().st_mtime_ns}")
    return sorted(entries)


def _read_stamp(stamp: str) -> tuple[str, set[str]]:
    try:
        with open(stamp, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return "", set()
    return (lines[0] if lines else ""), set(lines[1:])


def _write_stamp(stamp: str, distributions: list[str]) -> None:
    partial = f"{stamp}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write("\n".join([_header(), *distributions]) + "\n")
    os.replace(partial, stamp)


def _targets(site: str, distributions: list[str]) -> list[str]:
    """Top-level folders and modules that the given distributions installed into ``site``."""
    targets: set[str] = set()
    for dist in distributions:
        try:
            record = os.path.join(site, dist.split(" ", 1)[0], "RECORD")
            with open(record, encoding="utf-8") as handle:
                rows = handle.read().splitlines()
        except OSError:
            continue
        for row in rows:
            path = row.rsplit(",", 2)[0].strip('"')
            top = path.split("/", 1)[0]
            if not path or top in ("..", "") or top.endswith((".dist-info", ".data")):
                continue
            if "/" in path and path.endswith(".py"):
                targets.add(os.path.join(site, top))
            elif path.endswith(".py"):
                targets.add(os.path.join(site, path))
    return sorted(t for t in targets if os.path.exists(t))


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): a concurrent compile only costs time
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pending(site: str) -> tuple[list[str], list[str], bool]:
    """(installed distributions, those not compiled yet, whether everything must be compiled)."""
    installed = _distributions(site)
    header, done = _read_stamp(os.path.join(site, STAMP))
    if header != _header():
        return installed, installed, True
    return installed, [d for d in installed if d not in done], False


def ensure_bytecode(*, force: bool = False, say: Callable[[str], None] = _say) -> int:
    """Compile site-packages to ``.pyc`` once per set of installed distributions.

    Returns how many site-packages folders were compiled (0 when nothing was to do). Does nothing
    unless Python itself is told not to write bytecode (``PYTHONDONTWRITEBYTECODE``, ``-B``),
    or ``force`` is true. Never raises: a failed compile leaves imports as they were.
    """
    if not (sys.dont_write_bytecode or force):
        return 0
    compiled = 0
    for site in _site_packages():
        if not os.access(site, os.W_OK):
            continue
        if not _pending(site)[1]:
            continue
        try:
            with _locked(os.path.join(site, f"{STAMP}.lock")):
                installed, todo, everything = _pending(site)  # another process may have done it
                if not todo:
                    continue
                targets = [site] if everything else _targets(site, todo)
                what = "installed packages" if everything else f"{len(todo)} new package(s)"
                say(
                    f"alphalab: compiling {what} to bytecode, once "
                    f"(Python writes none here: PYTHONDONTWRITEBYTECODE) ..."
                )
                start = time.monotonic()
                if targets:
                    subprocess.run(
                        [sys.executable, "-m", "compileall", "-qq", "-j0", *targets],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        check=False,
                    )
                _write_stamp(os.path.join(site, STAMP), installed)
                say(f"alphalab: bytecode compiled in {time.monotonic() - start:.0f} s")
                compiled += 1
        except OSError as exc:
            say(f"alphalab: could not compile bytecode in {site}: {exc}")
    return compiled


if __name__ == "__main__":
    ensure_bytecode(force=True)
