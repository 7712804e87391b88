"""The docs site builds with ``mkdocs build --strict``; every Python snippet in it runs, page by
page, as a reader would paste it; every ``python -m experiments.run`` command printed in it (and
in README.md) is accepted by the same checks the command runs before training."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import CONF_DIR, ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
INCLUDE = re.compile(r'^\s*--8<--\s+"([^"]+)"\s*$', re.M)


def blocks(page: Path, language: str) -> list[str]:
    """The page's fenced blocks in ``language``, includes (``--8<-- "file"``) read in."""
    found = []
    for match in FENCE.finditer(page.read_text()):
        if match["lang"] != language:
            continue
        body = textwrap.dedent(match["body"])
        found.append(INCLUDE.sub(lambda m: (ROOT / m[1]).read_text(), body))
    return found


def commands(text: str) -> list[list[str]]:
    """Every ``python -m experiments.run ...`` command in ``bash`` blocks, as arguments."""
    found = []
    for match in FENCE.finditer(text):
        if match["lang"] not in ("bash", "sh", "console", "shell"):
            continue
        joined = textwrap.dedent(match["body"]).replace("\\\n", " ")
        variables: dict[str, str] = {}  # NAME="..." lines of the block, as bash expands them
        for line in joined.splitlines():
            line = line.split(" #")[0].strip().removeprefix("$ ")
            assigned = re.fullmatch(r"(\w+)=(.*)", line)
            if assigned:
                variables[assigned[1]] = " ".join(shlex.split(assigned[2]))
            if "-m experiments.run" not in line:
                continue
            line = re.sub(r"\$(\w+)", lambda m, known=variables: known.get(m[1], m[0]), line)
            words = shlex.split(line)
            at = words.index("experiments.run")
            found.append(words[at + 1 :])
    return found


def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "reference" / "api" / "index.html").exists()


SNIPPET_PAGES = [p for p in PAGES if blocks(p, "python")]


@pytest.mark.slow
@pytest.mark.parametrize("page", SNIPPET_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_python_snippet_runs(page, tmp_path):
    """The page's snippets in order, in one fresh interpreter (as one notebook), in an empty
    folder with a project root of its own (its store, its Hydra folders)."""
    script = "\n\n".join(blocks(page, "python"))
    env = {**os.environ, "ALPHALAB_ROOT": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "examples"), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, f"{page.name}:\n{result.stderr[-3000:]}"


INLINE = re.compile(r"`(?:uv run )?python -m experiments\.run( [^`]*)?`")


def inline_commands(text: str) -> list[list[str]]:
    """``python -m experiments.run ...`` in inline code, outside fenced blocks (tables, prose);
    ``...`` stands for "the rest of your command" and is left out."""
    prose = FENCE.sub("", text)
    found = []
    for match in INLINE.finditer(prose):
        words = shlex.split((match[1] or "").replace("\\|", "|"))
        found.append([w for w in words if w != "..."])
    return found


def printed_commands() -> list[list[str]]:
    found = []
    for page in [ROOT / "README.md", *PAGES]:
        for args in commands(page.read_text()) + inline_commands(page.read_text()):
            if args not in found:
                found.append(args)
    return found


def test_the_docs_print_commands():
    assert len(printed_commands()) >= 20


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory):
    """A reader's folder: the data files and modules the docs' commands name."""
    import numpy as np

    folder = tmp_path_factory.mktemp("reader")
    x = np.linspace(0, 6, 200)
    real, imag = np.exp(-0.5 * x) * np.cos(2 * x), np.exp(-0.5 * x) * np.sin(2 * x)
    table = "x,y_real,y_imag\n" + "".join(
        f"{a},{b},{c}\n" for a, b, c in zip(x, real, imag, strict=True)
    )
    for name in ("data.csv", "measurements.csv", "my_data.csv"):
        (folder / name).write_text(table)
    np.savez(folder / "data.npz", x=x, y_real=real, y_imag=imag)
    return folder


@pytest.mark.parametrize("args", printed_commands(), ids=shlex.join)
def test_every_printed_command_is_accepted(args, reader_folder, monkeypatch):
    """What the command checks before it trains (composition, every swept value, the data
    files, the user's modules), without training: a command printed in the docs works as
    printed."""
    from alphalab.config import ConfigError
    from alphalab.entry.preflight import preflight

    monkeypatch.chdir(reader_folder)
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    args = [a for a in args if not a.startswith("tracking.uri=postgresql")]  # no server here
    try:
        preflight(CONF_DIR, "config", args)
    except ConfigError as exc:
        pytest.fail(f"{shlex.join(args)}: {exc}")
