"""alphalab's process-wide state lives in one session that ``clear_session()`` resets: every
declared state is known and emptied, real calls fill it and a reset empties them, an open sweep
is closed rather than leaked, and no module keeps a mutable global of its own (the scan that
checks it is itself checked on a module that does)."""

from __future__ import annotations

import ast
import importlib
import textwrap

import numpy as np

from alphalab import session
from alphalab.config.parse import run_spec, sweep_spec
from alphalab.session import clear_session
from tests.conftest import client, compose
from tests.test_architecture import MODULES

# Every piece of process-wide state, by name, and what a reset means for it. A new one is
# declared as a ``session.State`` in its module and added here.
STATES = {
    "data.sources.task_data": "task data generated or read again",
    "engine.population.compiled.models": "populations traced again (at most 64 kept)",
    "engine.population.export.templates": "single-run model templates built again (at most 64)",
    "engine.record.layouts": "config.yaml layouts dumped again (at most 64)",
    "engine.sweep.open": "sweeps left open closed KILLED, their context withdrawn",
    "engine.sweep.stopped": "why the sweep stopped, forgotten",
    "entry.override_keys.references": "reference configs composed again",
    "entry.preflight.checked": "user's data and model checked again",
    "tracking.kept.children": "a summary reads the children from the store (8 parents kept)",
    "tracking.store.trackers": "clients opened again",
    "tracking.unreachable.down": "a store found down is tried again",
}

# Memoised functions of what does not change while a process runs (the installed packages, the
# checkout, conf/): not session state, and listed so that a new one is a decision.
MEMOS = {
    "alphalab.config.limits.mlflow_limits": "the installed MLflow's limits",
    "alphalab.engine.provenance._fixed": "the checkout's commit and the installed versions",
    "alphalab.entry.defaults.default_experiment": "conf/config.yaml's experiment name",
    "alphalab.entry.job_folders._dumped": "a pure function of its argument",
    "alphalab.entry.override_keys._option_shape": "a config group's keys, composed from conf/",
    "alphalab.tracking.mlflow_internals.mlflow_revisions": "the installed MLflow's schemas",
    "alphalab.tracking.curves._half_octaves": "a pure function of its argument",
}

CONTAINERS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter", "bytearray"}
CONTAINERS |= {"WeakValueDictionary", "WeakKeyDictionary", "WeakSet"}
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem"}
MUTATORS |= {"clear", "remove", "discard", "appendleft", "move_to_end", "sort", "reverse"}
MUTATORS |= {"difference_update", "intersection_update", "symmetric_difference_update"}


def _is_container(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        return name in CONTAINERS
    return False


def _receiver(node: ast.expr) -> str | None:
    """The name a mutation reaches: ``X`` of ``X[k]``/``X.add()``, ``a`` of ``self.a[k]``."""
    while isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _mutated(tree: ast.Module) -> set[str]:
    """Names (and attribute names) the code mutates in place."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in MUTATORS:
                found.add(_receiver(node.func.value))
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = getattr(node, "targets", None) or [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript):
                    found.add(_receiver(target.value))
    return found - {None}


def mutable_globals(source: str) -> set[str]:
    """Module-level names, and class attributes, bound to a container that the module mutates
    (or names it rebinds through ``global``): process-wide state outside the session."""
    tree = ast.parse(source)
    mutated = _mutated(tree)
    found = {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    classes = [(node, f"{node.name}.") for node in tree.body if isinstance(node, ast.ClassDef)]
    for scope, prefix in [(tree, ""), *classes]:
        for node in scope.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and _is_container(node.value):
                targets = getattr(node, "targets", None) or [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                found |= {prefix + name for name in names & mutated}
    return found


def memoised(source: str, module: str) -> set[str]:
    """Functions decorated with ``functools.cache`` or ``lru_cache``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
                if name in ("cache", "lru_cache"):
                    found.add(f"{module}.{node.name}")
    return found


def declared_states() -> list[tuple[str, str]]:
    """(state name, declaring module) of every ``State("...")`` in the package's source."""
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            is_state = isinstance(node, ast.Call) and getattr(node.func, "id", None) == "State"
            if is_state and node.args and isinstance(node.args[0], ast.Constant):
                found.append((node.args[0].value, module))
    return found


def _import_every_state() -> None:
    for _, module in declared_states():
        importlib.import_module(module)


# --- what is declared ---------------------------------------------------------------------


def test_every_state_is_known_and_named_after_its_module():
    declared = declared_states()
    assert sorted(name for name, _ in declared) == sorted(STATES)  # and none declared twice
    for name, module in declared:
        assert f"alphalab.{name.rsplit('.', 1)[0]}" == module, f"{name} declared in {module}"
    _import_every_state()
    assert set(session.current().declared) >= set(STATES)


def test_no_module_keeps_a_mutable_global_outside_the_session():
    found = {
        f"{module}.{name}"
        for module, path in MODULES.items()
        for name in mutable_globals(path.read_text())
    }
    assert found == set(), "declare it as a session.State (alphalab/session.py)"


def test_every_memo_is_a_decision():
    found = set().union(*(memoised(path.read_text(), m) for m, path in MODULES.items()))
    assert found == set(MEMOS)


def test_the_scan_finds_state_kept_outside_the_session():
    source = textwrap.dedent(
        """
        _FLAGS = {"-m", "--multirun"}  # a constant: read, never changed
        _SEEN: set[str] = set()
        _BY_KEY = {}
        _LAST = None
        _ORDER = []

        class Registry:
            known = {}

            def add(self, key):
                self.known[key] = True

        def remember(key, value):
            global _LAST
            _SEEN.add(key)
            _BY_KEY[key] = value
            _LAST = value
            return key in _FLAGS

        def forget(key):
            del _ORDER[0]
        """
    )
    assert mutable_globals(source) == {"_SEEN", "_BY_KEY", "_LAST", "_ORDER", "Registry.known"}
    assert memoised("from functools import cache\n@cache\ndef f(): return 1\n", "m") == {"m.f"}


# --- what a reset does --------------------------------------------------------------------


class _LeftOpen:
    """Stands for a ``SweepSession`` a test left open: records that the reset closed it."""

    closed = False

    def interrupted(self) -> None:
        self.closed = True


def test_clear_session_empties_every_state():
    _import_every_state()
    left_open = _LeftOpen()
    for name, state in session.current().declared.items():
        value = state.get()
        if name == "engine.sweep.open":
            value.append(left_open)
        elif isinstance(value, dict):
            value["filled"] = "by the test"
        elif isinstance(value, set):
            value.add("filled")
        else:
            value.append("filled")
        assert len(state.get()) == 1
    clear_session()
    leftover = {n: s.get() for n, s in session.current().declared.items() if len(s.get())}
    assert leftover == {}
    assert left_open.closed  # not dropped while it may be open


def test_task_data_is_read_again_after_a_reset(tmp_path):
    from alphalab.config.spec import TaskSpec
    from alphalab.data.sources import load_task

    path = tmp_path / "data.csv"
    path.write_text("x,y_real\n0,1\n1,2\n2,3\n")
    task = TaskSpec(name="file", kind="file", true_alpha=None, path=path)
    first = load_task(task, 0)
    path.write_text("x,y_real\n0,5\n1,6\n2,7\n")
    assert load_task(task, 0) is first  # read once per session
    clear_session()
    np.testing.assert_array_equal(load_task(task, 0).y_real.ravel(), [5, 6, 7])


def test_a_small_fit_fills_the_caches_and_a_reset_empties_them(store):
    from alphalab.engine.runs import run_job

    run_job(run_spec(compose(["+debug=fast", "approach=trainable", f"tracking.uri={store}"])))
    declared = session.current().declared
    filled = {name for name, state in declared.items() if len(state.get())}
    assert filled >= {
        "data.sources.task_data",
        "engine.population.compiled.models",
        "engine.population.export.templates",
        "engine.record.layouts",
        "tracking.store.trackers",
    }
    compiled = next(iter(declared["engine.population.compiled.models"].get().values()))
    clear_session()
    assert {name for name, state in declared.items() if len(state.get())} == set()
    run_job(run_spec(compose(["+debug=fast", "approach=trainable", f"tracking.uri={store}"])))
    assert next(iter(declared["engine.population.compiled.models"].get().values())) is not compiled


def test_a_sweep_left_open_is_closed_killed_by_a_reset(store, tmp_path, capsys):
    from alphalab.engine.context import SweepContext
    from alphalab.engine.sweep import SweepSession

    spec = sweep_spec(compose(["+debug=fast", f"tracking.uri={store}"]))
    left = SweepSession(spec, "left-open", total=2)
    left.start({}, launcher="basic", workers=1, state_dir=str(tmp_path / "state"))
    assert SweepContext.from_env() is not None
    clear_session()
    parent = client(store).get_run(left.parent.run_id)
    assert parent.info.status == "KILLED"
    assert SweepContext.from_env() is None  # as in a fresh process
    assert "sweep 'left-open' interrupted" in capsys.readouterr().err
