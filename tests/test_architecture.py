"""The shape of the code: stages as folders, imports only going down, no cycle (deferred imports
included), Hydra and OmegaConf only in the config and entry layers, every public name documented.

Read from the source with ``ast``: nothing is imported, so the checks cover imports inside
functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "alphalab"

# The pipeline, top to bottom: a module may import its own stage and the stages above it.
# ``alphalab.session`` (the process-wide state, which every stage keeps there) imports nothing.
STAGES = [
    "alphalab.session",
    "alphalab.config",
    ("alphalab.formulas", "alphalab.layers", "alphalab.losses", "alphalab.optimizers"),
    "alphalab.data",
    "alphalab.model",
    "alphalab.tracking",
    "alphalab.results",
    "alphalab.engine",
    "alphalab.entry",
    "alphalab.api",
]
HYDRA_LAYERS = ("alphalab.config", "alphalab.entry")
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage_of(module: str) -> int:
    for rank, stage in enumerate(STAGES):
        for prefix in (stage,) if isinstance(stage, str) else stage:
            if module == prefix or module.startswith(prefix + "."):
                return rank
    raise AssertionError(f"{module} belongs to no stage: add it to STAGES")


def imports_of(module: str) -> set[str]:
    """Every module ``module`` imports, anywhere in its body (top-level names of packages)."""
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from alphalab.x import y`` may name a submodule y; the package itself counts
            # only when a name comes from its own body (``from alphalab import formulas`` does
            # not run the root's lazy ``__getattr__``, so it is no edge to ``alphalab.api``)
            submodules = {
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            }
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found


def internal_imports(module: str) -> set[str]:
    return {name for name in imports_of(module) if name in MODULES and name != module}


def test_every_module_belongs_to_a_stage():
    for module in MODULES:
        if module != "alphalab":
            stage_of(module)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "alphalab"))
def test_imports_only_go_down_the_pipeline(module):
    upward = [
        other
        for other in internal_imports(module)
        if other != "alphalab" and stage_of(other) > stage_of(module)
    ]
    assert upward == [], f"{module} (stage {stage_of(module)}) imports a later stage: {upward}"


def test_no_import_cycle_not_even_a_deferred_one():
    graph = {module: internal_imports(module) for module in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                cycles.append(path[path.index(other) :] + [other])
            elif other not in state:
                visit(other, [*path, other])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_only_the_config_and_entry_layers_see_hydra_or_omegaconf():
    offenders = {
        module: sorted(n for n in imports_of(module) if n.split(".")[0] in ("hydra", "omegaconf"))
        for module in MODULES
        if not module.startswith(HYDRA_LAYERS)
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_no_module_is_longer_than_a_sitting_allows():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _undocumented(tree: ast.Module) -> list[str]:
    missing = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            if ast.get_docstring(node) is None:
                missing.append(node.name)
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    public = not item.name.startswith("_") if hasattr(item, "name") else False
                    is_def = isinstance(item, ast.FunctionDef)
                    if is_def and public and ast.get_docstring(item) is None:
                        missing.append(f"{node.name}.{item.name}")
    return missing


def test_every_public_class_and_function_says_what_it_is_for():
    missing = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        if ast.get_docstring(tree) is None:
            missing[module] = ["(module)"]
        names = _undocumented(tree)
        if names:
            missing.setdefault(module, []).extend(names)
    assert missing == {}
