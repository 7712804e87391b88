"""Bad input, generated (PRODUCT.md "Bad input"): Hypothesis writes the command lines.

For every generated ``python -m experiments.run`` command line the pre-flight check decides, in
this process, exactly as the command does before Hydra starts: accepted, or rejected with exit
code 2 and ONE line ``alphalab: error: ...`` naming the offending key or file. While deciding,
TensorFlow, Keras and MLflow are not imported, and no MLflow store is created or opened (so no run
can be left RUNNING); an unreachable store (only 127.0.0.1, on closed ports) is rejected within
the contract's 15 s.

Three tests share the generators:

- ``test_generated_command_lines``: the whole command line through ``preflight_or_exit``, as
  ``experiments/run.py`` calls it (Hydra composes every case: about 0.2 s each);
- ``test_generated_values``: many more values, each set on a config composed once per base the
  way ``preflight`` itself checks a sweep's values (parsed by Hydra's override grammar, set on the
  composed config, then ``check`` and the store check of ``preflight_or_exit``);
- ``test_generated_keys``: generated KEYS (known keys misspelt by one edit, unknown keys with and
  without ``+``, keys under known sections, the user's own sections, keys only another option
  of a group has) and comma-separated sweeps, through ``preflight``: a key nothing reads must
  be rejected in one line naming it (alphalab.config.keys), and an accepted override must be
  in the composed config.

The "not imported" check needs an interpreter where TensorFlow, Keras and MLflow are not loaded
yet. Run alone (or first) these tests run in the pytest process; in a session where another test
already imported one of them, each test runs once in a fresh interpreter instead (one subprocess
for all its cases, never one per case).

Root can read a file whatever its mode, so a chmod-000 file is "unreadable" only when the tests
do not run as root; as root it must be accepted or rejected as its contents say.

Not generated: ``train.loss`` names other than ``mse``/``mae``, ``model.builder``/``task.loader``
paths that resolve, and formula paths to modules that import Keras; checking those imports
TensorFlow by design (``preflight.check_model_and_data``).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.abc
import importlib.machinery
import io
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CONF_DIR, ROOT

# derandomize: the same cases every run (CI); database=None: nothing written into the repo.
settings.register_profile(
    "alphalab-bad-input",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("alphalab-bad-input")
COMMAND_LINES = 25  # about 0.2 s each (Hydra composes every one)
VALUES = 300  # a few ms each

FRESH_ENV = "ALPHALAB_BAD_INPUT_FRESH"  # set in the fresh interpreter the tests re-run in
HEAVY = ("tensorflow", "keras", "mlflow")
LIMIT = 15.0  # seconds: PRODUCT.md's bound for an unreachable store
AS_ROOT = os.geteuid() == 0

OK, BAD, MAYBE = "ok", "bad", "maybe"  # must be accepted / must be rejected / either


@dataclass(frozen=True)
class Override:
    """One generated override: its text, what the result must be, and the names (keys or
    files) a rejection of it may name."""

    arg: str
    expect: str
    names: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.arg.partition("=")[0].lstrip("+~")


def quoted(value: str) -> str:
    """``value`` as a quoted string of Hydra's override grammar (read back unchanged; as
    ``sweep_callback.hydra_quoted``)."""
    out, backslashes = [], 0
    for ch in value:
        if ch == "\\":
            backslashes += 1
            continue
        if ch == "'":
            out.append("\\" * (2 * backslashes) + "\\'")
        else:
            out.append("\\" * backslashes + ch)
        backslashes = 0
    out.append("\\" * (2 * backslashes))
    return "'" + "".join(out).replace("${", "\\${") + "'"


# --- the sandbox: files, folders and stores the cases point at -------------------------------
class Sandbox:
    """A folder of good and bad data files and store locations; the current folder while the
    cases run (relative paths and relative SQLite URIs land here)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.store = folder / "store" / "mlflow.db"  # the store every case uses unless told
        data = folder / "data"
        data.mkdir()
        x = np.linspace(0.0, 6.0, 50)
        rows = "\n".join(f"{a},{np.exp(-0.5 * a) * np.cos(2 * a)}" for a in x)
        csv = "x,y_real\n" + rows + "\n"
        (data / "good.csv").write_text(csv)
        np.savez(data / "good.npz", x=x, y_real=np.cos(x), y_imag=np.sin(x))
        (data / "locked.csv").write_text(csv)
        (data / "locked.csv").chmod(0)
        (data / "locked_bad.csv").write_text("nothing,here\n1,2\n")
        (data / "locked_bad.csv").chmod(0)
        (data / "empty.csv").write_text("")
        (data / "header_only.csv").write_text("x,y_real\n")
        (data / "binary.csv").write_bytes(b"\xff\xfe\x00\x01")
        (data / "text_cell.csv").write_text("x,y_real\n0,1\n1,oops\n")
        (data / "nan.csv").write_text("x,y_real\n0,1\n1,nan\n2,3\n")
        (data / "good.txt").write_text(csv)
        (data / "not_zip.npz").write_text("not a zip file")
        (data / "pickled.npz").write_bytes(self._pickled_npz())
        (data / "folder.csv").mkdir()
        os.mkfifo(data / "fifo.csv")
        os.mkfifo(folder / "fifo.db")
        (folder / "folder.db").mkdir()
        (folder / "not_a_db.db").write_text("plain text, not SQLite")
        (folder / "a_file").write_text("a file where a folder should be")
        self.good = {"good.csv", "good.npz"} | ({"locked.csv"} if AS_ROOT else set())
        self.data = data

    @staticmethod
    def _pickled_npz() -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, x=np.array([{"a": 1}, {"b": 2}], dtype=object), y_real=[1.0, 2.0])
        return buffer.getvalue()

    def db_files(self) -> dict[Path, float]:
        """Every SQLite-looking file under the sandbox, with its modification time (the
        cases' stores are all here: ``MLFLOW_TRACKING_URI`` points here too)."""
        return {p: p.stat().st_mtime for p in self.folder.rglob("*.db") if p.is_file()}


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound, then closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def running_runs(db: Path) -> int:
    """RUNNING runs in a SQLite MLflow store, read with sqlite3 (not MLflow)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
            tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
            if "runs" not in tables:
                return 0
            return connection.execute(
                "SELECT count(*) FROM runs WHERE status='RUNNING'"
            ).fetchone()[0]
    except sqlite3.DatabaseError:
        return 0


# --- no TensorFlow, Keras or MLflow while deciding -------------------------------------------
class HeavyImport(BaseException):
    """Raised when a case imports a module it must not (a BaseException: no ``except
    Exception`` or ``except ImportError`` on the way can turn it into a config error)."""


class _Refuse(importlib.abc.Loader):
    def __init__(self, name: str):
        self.name = name

    def create_module(self, spec):
        raise HeavyImport(f"{self.name} was imported while deciding")

    def exec_module(self, module):  # pragma: no cover - create_module raises first
        raise HeavyImport(f"{self.name} was imported while deciding")


class _Blocker(importlib.abc.MetaPathFinder):
    """Finds TensorFlow, Keras and MLflow as usual (``importlib.util.find_spec`` still sees
    where they are) but refuses to load them."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in HEAVY:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _Refuse(name)
        return spec


@contextlib.contextmanager
def no_heavy_imports():
    already = {name for name in HEAVY if name in sys.modules}  # strict only in a fresh process
    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)
    loaded = [name for name in HEAVY if name in sys.modules and name not in already]
    assert not loaded, f"imported while deciding: {loaded}"


def in_fresh_interpreter(test: str) -> bool:
    """When this process has already imported TensorFlow, Keras or MLflow (another test did),
    run ``test`` once in a fresh interpreter and return True; else False (run it here)."""
    loaded = [name for name in HEAVY if name in sys.modules]
    if not loaded:
        return False
    assert not os.environ.get(FRESH_ENV), f"{loaded} loaded in the fresh interpreter"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", f"{__file__}::{test}", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, FRESH_ENV: "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    print(f"{test}: ran in a fresh interpreter in {time.monotonic() - started:.1f} s")
    return True


# --- deciding one case -----------------------------------------------------------------------
@dataclass
class Outcome:
    code: int | None  # None: accepted
    stderr: str
    seconds: float


def decide(run) -> Outcome:
    """Call ``run`` (a pre-flight decision) and capture what the user would see."""
    err, out = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = None
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), no_heavy_imports():
        try:
            run()
        except SystemExit as exc:
            code = exc.code
    assert out.getvalue() == "", out.getvalue()
    return Outcome(code, err.getvalue(), time.monotonic() - started)


def judge(overrides: list[Override], outcome: Outcome, sandbox: Sandbox, before: dict) -> None:
    """The properties every case must have."""
    shown = " ".join(o.arg for o in overrides)
    expects = {o.expect for o in overrides}
    if outcome.code is None:
        assert BAD not in expects, f"accepted, but should be rejected: {shown}"
        assert outcome.stderr == "", outcome.stderr
    else:
        assert outcome.code == 2, (outcome.code, outcome.stderr)
        lines = outcome.stderr.splitlines()
        assert len(lines) == 1 and outcome.stderr.endswith("\n"), outcome.stderr
        line = lines[0]
        assert line.startswith("alphalab: error: "), line
        assert expects != {OK}, f"rejected, but every override is fine: {shown}\n{line}"
        suspects = [o for o in overrides if o.expect != OK]
        names = [name for o in suspects for name in o.names]
        assert any(name in line for name in names), f"{line!r} names none of {names}"
    assert outcome.seconds < LIMIT, f"{outcome.seconds:.1f} s to decide {shown}"
    after = sandbox.db_files()
    created = sorted(str(p) for p in after if p not in before)
    assert not created, f"a store was created while deciding: {created}"
    changed = sorted(str(p) for p in after if before.get(p) != after[p])
    assert not changed, f"a store was written while deciding: {changed}"
    for db in after:
        assert running_runs(db) == 0, f"a RUNNING run in {db}"


# --- generators ------------------------------------------------------------------------------
def o(key: str, text: str, expect: str, *names: str) -> Override:
    return Override(f"{key}={text}", expect, (key.lstrip("+~"), *names))


def _num(x: float) -> str:
    return repr(x)


ODD_STRINGS = st.one_of(
    st.just(""),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12),
    st.just("ü✓ α=β"),
    st.just("x" * 3000),
    st.just("x" * 7000),  # past MLflow's 6000 characters of a param value
    st.just("a,b"),  # quoted: one value, not a sweep
    st.just('it\'s "quoted"'),
    st.just("back\\slash\\"),
    st.just("${not.interpolated}"),
)
INTERPOLATIONS = st.sampled_from(
    ["${nope}", "${alpha.imag}", "${oc.env:ALPHALAB_NO_SUCH_VAR}", "${now:}", "'${nope}'"]
)


def odd_values(key: str, expect_for_text: str, options=()) -> st.SearchStrategy[Override]:
    """Odd strings and interpolations for ``key``: ``expect_for_text`` for a plain string (OK
    when it happens to be one of ``options``)."""
    return st.one_of(
        ODD_STRINGS.map(lambda s: o(key, quoted(s), OK if s in options else expect_for_text)),
        INTERPOLATIONS.map(lambda s: o(key, s, MAYBE if key in FREE_TEXT or "." in s else BAD)),
        st.sampled_from(["null", "true", "[1,2]", "{a: 1}"]).map(
            lambda s: o(key, s, MAYBE if key in FREE_TEXT else BAD)
        ),
    )


FREE_TEXT = ("experiment_name", "tracking.uri", "formula.name")


def numbers(key, good, bad) -> st.SearchStrategy[Override]:
    return st.one_of(
        good.map(lambda x: o(key, _num(x), OK)),
        bad.map(lambda x: o(key, x if isinstance(x, str) else _num(x), BAD)),
        odd_values(key, BAD),
    )


def choices(key: str, options: tuple[str, ...]) -> st.SearchStrategy[Override]:
    return st.one_of(
        st.sampled_from(options).map(lambda v: o(key, v, OK)),
        st.sampled_from(["nope", "ADAM", "0", "1.5"]).map(lambda v: o(key, v, BAD)),
        odd_values(key, BAD, options),
    )


BAD_NUMBERS = st.sampled_from(["abc", "nan", "inf", "-inf", "1e400", "true", "''", "[1]", "{}"])
FINITE = st.floats(-1e6, 1e6, allow_nan=False)
VALUE_KEYS: list[st.SearchStrategy[Override]] = [
    numbers("alpha.real", FINITE, BAD_NUMBERS),
    numbers("alpha.imag", st.integers(-100, 100), BAD_NUMBERS),
    numbers("train.epochs", st.integers(1, 10**6), st.one_of(st.integers(-5, 0), st.just(1.5))),
    numbers("train.batch_size", st.integers(1, 4096), st.integers(-3, 0)),
    numbers("train.learning_rate", st.floats(1e-6, 10), st.sampled_from([0, -0.1, "nan", "x"])),
    numbers("train.validation_split", st.floats(0.01, 0.99), st.sampled_from([1, 1.5, -0.1])),
    numbers("train.steps_per_execution", st.integers(1, 64), st.sampled_from([0, -1, 2.5])),
    numbers("train.alpha_learning_rate", st.floats(1e-4, 1), st.sampled_from([0, -1, "x"])),
    numbers("seed", st.integers(0, 2**40), st.sampled_from([-1, 1.5, "x"])),
    numbers("task.noise", st.floats(0, 5), st.floats(-5, -0.01)),
    numbers("task.n_samples", st.integers(10, 10**5), st.integers(-5, 9)),
    numbers("task.test_split", st.floats(0, 0.9), st.sampled_from([1, 1.5, -0.5])),
    numbers("task.x.low", st.floats(-5.9, 5.9), st.sampled_from([6, 7, "x"])),
    numbers("verdict.baseline_margin", st.floats(0, 0.99), st.sampled_from([1, -0.1, 2])),
    numbers("task.folds", st.just(1), st.sampled_from([0, -1, 1.5])),
    choices("approach.name", ("lambda", "trainable", "tuned")),
    choices("train.optimizer", ("adam", "adamw", "rmsprop", "sgd")),
    choices("train.schedule", ("cosine", "constant")),
    st.one_of(  # other names are checked by Keras itself (importing TensorFlow, by design)
        st.sampled_from(["mse", "mae"]).map(lambda v: o("train.loss", v, OK)),
        st.sampled_from(["''", "' '", "0", "1.5", "null", "true", "[1]", "{}", "${nope}"]).map(
            lambda v: o("train.loss", v, BAD)
        ),
    ),
    choices("model.head", ("none", "gain")),
    choices("model.output", ("pair", "stacked")),
    choices("task.standardize", ("none", "x", "y", "both")),
    choices("task.split", ("random", "last")),
    choices("task.x.distribution", ("uniform", "normal")),
    choices("sweep.prune", ("true", "false")),
    st.one_of(
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1)
        .filter(lambda s: s.strip() != "")
        .map(lambda s: o("experiment_name", quoted(s), OK if len(s) <= 500 else BAD)),
        st.sampled_from(["''", "' '", "null", "[a]", "${nope}", "${alpha.real}", "e" * 501]).map(
            lambda s: o("experiment_name", s, BAD)  # 501: past MLflow's 500 characters
        ),
    ),
    st.one_of(
        st.sampled_from(["oscillation", "scaled", "complex_gain", "os.path.join"]).map(
            lambda s: o("formula.name", s, OK)
        ),
        st.sampled_from(["nodots", "no_such_pkg.fn", "...", ".a", "os.nope", "''", "null"]).map(
            lambda s: o("formula.name", s, BAD)
        ),
    ),
    st.sampled_from(["x", "os.nope", "no_such_pkg.build", "''", "42"]).map(
        lambda s: o("model.builder", s, BAD)
    ),
]


def store_uris(sandbox: Sandbox) -> st.SearchStrategy[Override]:
    """``tracking.uri`` of every scheme; network ones only to closed ports on 127.0.0.1."""
    f = sandbox.folder

    def uri(text: str, expect: str) -> Override:
        return o("tracking.uri", quoted(text), expect)

    fresh = st.integers(0, 10**6).map(lambda n: uri(f"sqlite:///{f}/fresh{n}/mlflow.db", OK))
    relative = st.sampled_from(["sqlite:///rel.db", "sqlite:///sub/dir/mlflow.db"])
    bad_sqlite = st.sampled_from(
        [
            "sqlite:////proc/alphalab-generated.db",
            "sqlite:////dev/null",
            f"sqlite:///{f}/fifo.db",
            f"sqlite:///{f}/folder.db",
            f"sqlite:///{f}/not_a_db.db",
            f"sqlite:///{f}/a_file/mlflow.db",
            f"sqlite:///{f}/{'n' * 300}.db",
            "sqlite://",
            "sqlite:///",
            "sqlite:////",
            "sqlite:///:memory:",
        ]
    )
    closed = st.builds(closed_port)
    network = st.one_of(
        closed.map(lambda p: uri(f"http://127.0.0.1:{p}", BAD)),
        closed.map(lambda p: uri(f"https://127.0.0.1:{p}/", BAD)),
        closed.map(lambda p: uri(f"postgresql://alphalab:secret@127.0.0.1:{p}/mlflow", BAD)),
        closed.map(lambda p: uri(f"postgresql+psycopg://u:pw@127.0.0.1:{p}/mlflow", BAD)),
        closed.map(lambda p: uri(f"postgres://u:pw@127.0.0.1:{p}/mlflow", BAD)),
        closed.map(lambda p: uri(f"mysql://u@127.0.0.1:{p}/mlflow", BAD)),
        st.sampled_from(["http://127.0.0.1:abc", "http://", "https://127.0.0.1:99999"]).map(
            lambda s: uri(s, BAD)
        ),
        st.sampled_from(["postgresql://127.0.0.1:abc/x", "postgresql+nodriver://127.0.0.1/x"]).map(
            lambda s: uri(s, BAD)
        ),
    )
    known = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "file", "postgres")
    schemes = st.one_of(
        st.sampled_from(["file:/tmp/x", f"file://{f}/mlruns", "databricks", "databricks://x"]),
        st.from_regex(r"\A[a-z][a-z0-9+.-]{0,8}\Z")
        .filter(lambda s: s.split("+")[0] not in known)
        .map(lambda s: f"{s}://127.0.0.1/x"),
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1).filter(
            lambda s: "://" not in s and s.strip() != ""
        ),
    )
    return st.one_of(
        fresh,
        relative.map(lambda s: uri(s, OK)),
        st.sampled_from(["''", "null"]).map(lambda s: o("tracking.uri", s, OK)),  # the env's
        bad_sqlite.map(lambda s: uri(s, BAD)),
        network,
        schemes.map(lambda s: uri(s, BAD)),
        INTERPOLATIONS.map(lambda s: o("tracking.uri", s, MAYBE)),
    )


def data_paths(sandbox: Sandbox) -> st.SearchStrategy[Override]:
    """``task.path`` (with ``task=file``): good, missing, unreadable and special files."""
    d = sandbox.data

    def path(p: str) -> Override:
        name = Path(p).name
        if name in sandbox.good:
            return o("task.path", quoted(p), OK)
        return o("task.path", quoted(p), BAD, p, str(sandbox.folder / p))

    named = st.sampled_from(sorted(p.name for p in d.iterdir()) + ["missing.csv", "missing.npz"])
    return st.one_of(
        named.map(lambda n: path(str(d / n))),
        named.map(lambda n: path(f"data/{n}")),  # relative to the folder the command starts in
        st.sampled_from(
            ["/dev/null", "/proc", str(d), f"{d}/good.csv/x.csv", "a" * 5000 + ".csv"]
        ).map(path),
        st.sampled_from(["''", "${nope}", "null", "[1,2]", "~nobody/x.csv"]).map(
            lambda s: o("task.path", s, BAD)
        ),
    )


def group_choices() -> st.SearchStrategy[list[Override]]:
    """Config groups: known options, unknown ones, wrong types (command lines only)."""
    good = st.sampled_from(
        [
            "approach=lambda",
            "approach=tuned",
            "task=complex_gain",
            "task=scaled",
            "formula=oscillation",
            "formula=scaled",
            "+search=random",
            "+search=grid",
            "+debug=fast",
            "hydra/launcher=joblib",
        ]
    ).map(lambda a: [Override(a, OK, (a.partition("=")[0].lstrip("+"),))])
    bad = st.sampled_from(
        [
            "approach=magic",
            "task=nope",
            "formula=zz",
            "+search=nope",
            "+sweep=nope",
            "hydra/launcher=nope",
            "task=5",
            "train=null",
            "approach=''",
            "formula=custom",
            "task=loader",
            "alpha.reel=1",
            "train.epoch=3",
            "~seed",
            "~alpha",
            "alpha=1",
            "=1",
            "a b=c",
            "train.epochs",
            "task.x=5",
        ]
    ).map(lambda a: [Override(a, BAD, _names_of(a))])
    unread = st.sampled_from(["+foo=1", "+alpha.extra=x", "+train.unknown=[1]"]).map(
        lambda a: [Override(a, BAD, _names_of(a))]  # keys nothing reads
    )
    return st.one_of(good, bad, unread)


def _names_of(arg: str) -> tuple[str, ...]:
    key = arg.partition("=")[0].lstrip("+~")
    extra = {"formula": ("formula.name",), "task": ("task.loader",), "alpha": ("alpha.real",)}
    return (key or arg, *extra.get(key, ()), *(("task.x.low",) if key == "task.x" else ()))


def command_lines(sandbox: Sandbox) -> st.SearchStrategy[list[Override]]:
    one = st.one_of(
        st.one_of(*VALUE_KEYS).map(lambda x: [x]),
        store_uris(sandbox).map(lambda x: [x]),
        data_paths(sandbox).map(
            lambda x: [Override("task=file", OK, ("task",)), Override("formula=scaled", OK, ()), x]
        ),
        group_choices(),
        st.just([Override("+sweep=alpha", OK, ("sweep",))]),
    )
    return st.lists(one, min_size=1, max_size=3).map(_unique)


def _unique(groups: list[list[Override]]) -> list[Override]:
    """Flatten, one override per key (Hydra rejects some repeated keys outright)."""
    seen, out = set(), []
    for group in groups:
        if any(x.key in seen for x in group):
            continue
        seen.update(x.key for x in group)
        out += group
    return out


# --- the tests -------------------------------------------------------------------------------
@contextlib.contextmanager
def sandboxed(tmp_path: Path):
    sandbox = Sandbox(tmp_path)
    cwd, env = os.getcwd(), os.environ.get("MLFLOW_TRACKING_URI")
    os.chdir(tmp_path)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{sandbox.store}"
    # MLflow is never called while deciding; if it were, it must not retry for minutes.
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "3"
    try:
        yield sandbox
    finally:
        os.chdir(cwd)
        if env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env
        for name in ("locked.csv", "locked_bad.csv"):
            (sandbox.data / name).chmod(stat.S_IRUSR | stat.S_IWUSR)


COUNTS: dict[str, int] = {}


@pytest.mark.slow  # generated inputs in a fresh interpreter: 1-2 min
def test_generated_command_lines(tmp_path):
    if in_fresh_interpreter("test_generated_command_lines"):
        return
    from alphalab.config.reader import register_resolvers
    from alphalab.entry.preflight import preflight_or_exit

    register_resolvers()  # as experiments/run.py does first
    with sandboxed(tmp_path) as sandbox:

        @settings(PROFILE, max_examples=COMMAND_LINES)
        @given(command_lines(sandbox))
        def case(overrides: list[Override]):
            argv = [x.arg for x in overrides]
            if not any(x.key == "tracking.uri" for x in overrides):
                argv.append(f"tracking.uri={quoted(f'sqlite:///{sandbox.store}')}")
            before = sandbox.db_files()
            outcome = decide(lambda: preflight_or_exit(CONF_DIR, "config", argv))
            judge(overrides, outcome, sandbox, before)
            COUNTS["command lines"] = COUNTS.get("command lines", 0) + 1

        started = time.monotonic()
        case()
        print(f"{COUNTS['command lines']} command lines in {time.monotonic() - started:.1f} s")


def test_generated_values(tmp_path):
    if in_fresh_interpreter("test_generated_values"):
        return
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    from alphalab.config import ConfigError
    from alphalab.config.parse import tracking_spec
    from alphalab.config.reader import Reader, register_resolvers
    from alphalab.entry.preflight import check, check_store_or_exit, fail, preflight

    register_resolvers()
    with sandboxed(tmp_path) as sandbox:
        store = f"tracking.uri={quoted(f'sqlite:///{sandbox.store}')}"
        good_file = quoted(str(sandbox.data / "good.csv"))
        bases = {  # composed once each, by the pre-flight check itself
            "default": [store],
            "file": ["task=file", "formula=oscillation", f"task.path={good_file}", store],
            "search": ["+search=random", store],
            "scaled": ["task=scaled", "approach=lambda", store],
        }
        composed = {name: preflight(CONF_DIR, "config", argv) for name, argv in bases.items()}
        for cfg in composed.values():  # Hydra's own section: no job reads it, copying it is slow
            with open_dict(cfg):
                del cfg["hydra"]
        parser = OverridesParser.create()

        def variant_of(base: str, overrides: list[Override]):
            cfg = copy.deepcopy(composed[base])
            for x in overrides:
                parsed = parser.parse_override(x.arg)
                # as Hydra applies a command-line value to the composed config
                OmegaConf.update(cfg, parsed.key_or_group, parsed.value(), merge=True)
            return cfg

        def decision(base: str, overrides: list[Override]):
            try:
                cfg = variant_of(base, overrides)
            except (HydraException, OmegaConfBaseException) as exc:
                # a value Hydra itself would refuse while composing: the command-line test
                # covers how that is reported; here it is one case fewer
                return exc
            try:  # what preflight_or_exit does with the composed config
                check(cfg)
                uri = tracking_spec(Reader(cfg)).uri
            except ConfigError as exc:
                fail(str(exc))
            check_store_or_exit(uri)

        paths = data_paths(sandbox)
        cases = st.one_of(
            st.tuples(
                st.sampled_from(["default", "search", "scaled"]),
                st.lists(st.one_of(*VALUE_KEYS, store_uris(sandbox)), min_size=1, max_size=2),
            ),
            st.tuples(st.just("file"), st.lists(paths, min_size=1, max_size=1)),
        )

        @settings(PROFILE, max_examples=VALUES)
        @given(cases)
        def case(base_and_overrides):
            base, overrides = base_and_overrides
            overrides = _unique([[x] for x in overrides])
            if base == "search":  # a search takes one fold only
                overrides = [x for x in overrides if x.key != "task.folds"] or overrides[:0]
            before = sandbox.db_files()
            refused = []
            outcome = decide(lambda: refused.append(decision(base, overrides)))
            if refused and refused[0] is not None:
                return
            judge(overrides, outcome, sandbox, before)
            COUNTS["values"] = COUNTS.get("values", 0) + 1

        started = time.monotonic()
        case()
        print(f"{COUNTS['values']} values in {time.monotonic() - started:.1f} s")


# --- generated keys: misspelt, unknown, under known sections, open, read only elsewhere ------
KEY_CASES = 30  # about 0.3-0.6 s each (Hydra composes every one)
IDENT = st.from_regex(r"\A[a-z][a-z_]{0,9}\Z")
# sections whose keys are the user's own (alphalab.config.keys.OPEN); on these bases only the
# tuner's are read: the others need a user's builder or formula (which would import TensorFlow)
OPEN_SECTIONS = ("model.kwargs", "formula.kwargs", "task.formula.kwargs", "search.tuner")
READ_OPEN = ("search.tuner",)
# keys that only another option of a config group has
ELSEWHERE = (
    "task.path",
    "task.loader",
    "task.kwargs.year",
    "search.max_trials",
    "search.space.alpha_real.min",
    "hydra.launcher.engine",
    "hydra.launcher.ray.init.num_cpus",
    "hydra.launcher.n_jobs",
)


def one_edit(key: str) -> st.SearchStrategy[str]:
    """``key`` misspelt by one insertion, deletion, substitution or transposition."""
    letters = "abcdefghijklmnopqrstuvwxyz_."

    def edit(args) -> str:
        kind, i, ch = args
        i %= len(key)
        if kind == "insert":
            return key[:i] + ch + key[i:]
        if kind == "delete":
            return key[:i] + key[i + 1 :]
        if kind == "substitute":
            return key[:i] + ch + key[i + 1 :]
        j = min(i + 1, len(key) - 1)
        return key[:i] + key[j] + key[i] + key[j + 1 :]

    kinds = st.sampled_from(["insert", "delete", "substitute", "transpose"])
    return st.tuples(kinds, st.integers(0, 60), st.sampled_from(letters)).map(edit)


def flat_keys(node, prefix: str = "") -> set[str]:
    """Every dotted key of plain nested data (sections and values)."""
    out = set()
    if isinstance(node, dict):
        for key, value in node.items():
            out.add(f"{prefix}{key}")
            out |= flat_keys(value, f"{prefix}{key}.")
    return out


@dataclass(frozen=True)
class KeyCase:
    """A generated override on a base command, and the value it should leave in the config."""

    base: str
    override: Override
    plus: bool


def key_cases(bases: dict[str, set[str]], groups: set[str]) -> st.SearchStrategy[KeyCase]:
    """Overrides of generated keys on each base command (its keys in ``bases``)."""

    def expect(base: str, key: str, plus: bool) -> str:
        keys = bases[base]
        parts = key.split(".")
        sections = [".".join(parts[:i]) for i in range(1, len(parts))]
        if key in groups or not all(parts):
            return MAYBE if all(parts) else BAD
        if key in keys:
            return BAD if plus else MAYBE  # "+" on a present key; else the value decides
        if any(s in READ_OPEN and s in keys for s in sections):
            return OK if plus else BAD  # read once added with a "+"
        if key.startswith("hydra.") and sections[-1] in keys:
            return MAYBE  # one of Hydra's own Dict sections, or not
        return BAD

    def case(base: str, key: str, plus: bool, value: str) -> KeyCase:
        arg = f"{'+' if plus else ''}{key}={value}"
        return KeyCase(base, Override(arg, expect(base, key, plus), (key,)), plus)

    known = sorted(k for k in bases["default"] if not k.startswith("hydra."))
    base = st.sampled_from(sorted(bases))
    plus = st.booleans()
    misspelt = st.sampled_from(known).flatmap(one_edit)
    under = st.tuples(
        st.sampled_from(["", "train.", "task.", "model.", "alpha.", "sweep.", "hydra.job."]), IDENT
    ).map("".join)
    open_key = st.tuples(st.sampled_from(OPEN_SECTIONS), IDENT).map(".".join)
    valid = st.sampled_from(VALID)
    return st.one_of(
        valid.map(lambda kv: KeyCase("default", o(kv[0], kv[1], OK), False)),
        valid.map(lambda kv: KeyCase("default", o(f"++{kv[0]}", kv[1], OK), True)),
        st.builds(case, base, misspelt, plus, st.just("1")),
        st.builds(case, base, under, plus, st.just("1")),
        st.builds(case, base, st.sampled_from(ELSEWHERE), plus, st.just("2")),
        st.builds(case, base, open_key, plus, st.sampled_from(["3", "x", "'ü ✓'", "'a,b'"])),
        st.builds(  # a long value is a param past MLflow's limit
            lambda b, k: KeyCase(b, o(f"+{k}", "v" * 7000, BAD), True), base, open_key
        ),
    )


VALID = [  # known keys, each with a value that changes the config
    ("train.epochs", "7"),
    ("alpha.real", "0.25"),
    ("seed", "3"),
    ("task.noise", "0.2"),
    ("model.head", "gain"),
    ("experiment_name", quoted("ü ✓, it's")),
    ("task.true_alpha.imag", "-1"),
]
SWEPT = [  # comma-separated values: a sweep, every value checked
    o("train.epochs", "1,2", OK),
    o("train.epochs", "1,0", BAD),
    o("alpha.real", "0.5,abc", BAD),
    o("task.noise", "0.1,-1", BAD),
    o("seed", "0,1.5", BAD),
    o("experiment_name", "a,b", OK),
    o("train.epoch", "1,2", BAD),
    o("experiment_name", f"a,{'e' * 501}", BAD),
]


@pytest.mark.slow  # generated inputs in a fresh interpreter: 1-2 min
def test_generated_keys(tmp_path):
    if in_fresh_interpreter("test_generated_keys"):
        return
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from alphalab.config import ConfigError
    from alphalab.config.reader import register_resolvers
    from alphalab.entry.preflight import fail, preflight

    register_resolvers()
    parser = OverridesParser.create()
    with sandboxed(tmp_path) as sandbox:
        store = f"tracking.uri={quoted(f'sqlite:///{sandbox.store}')}"
        commands = {"default": [store], "search": ["+search=random", store]}
        bases = {
            name: flat_keys(OmegaConf.to_container(preflight(CONF_DIR, "config", argv)))
            for name, argv in commands.items()
        }
        groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
        found: dict[str, int] = {}

        def run(argv: list[str], overrides: list[Override]) -> None:
            composed = {}

            def decision():
                try:
                    composed["cfg"] = preflight(CONF_DIR, "config", argv)
                except ConfigError as exc:
                    fail(str(exc))

            before = sandbox.db_files()
            outcome = decide(decision)
            judge(overrides, outcome, sandbox, before)
            x = overrides[-1]
            if outcome.code is None:  # accepted: the value is in the config
                parsed = parser.parse_override(x.arg)
                value = parsed.value()
                first = value.list[0] if parsed.is_sweep_override() else value
                assert OmegaConf.select(composed["cfg"], x.key) == first, x.arg
            kind = "accepted" if outcome.code is None else "rejected"
            found[kind] = found.get(kind, 0) + 1
            COUNTS["keys"] = COUNTS.get("keys", 0) + 1

        @settings(PROFILE, max_examples=KEY_CASES)
        @given(key_cases(bases, groups))
        def case(generated: KeyCase):
            run([*commands[generated.base], generated.override.arg], [generated.override])

        started = time.monotonic()
        case()
        for swept in SWEPT:
            run([store, swept.arg], [swept])
        print(
            f"{COUNTS['keys']} generated keys and sweeps in {time.monotonic() - started:.1f} s: "
            + ", ".join(f"{n} {kind}" for kind, n in sorted(found.items()))
        )


# --- the defects the generated cases found, one focused test each ------------------------------
def _rejected(argv: list[str], tmp_path: Path) -> str:
    """The one line ``preflight_or_exit`` prints for ``argv`` (it must reject it)."""
    from alphalab.entry.preflight import preflight_or_exit

    db = tmp_path / "mlflow.db"
    store = f"tracking.uri={quoted(f'sqlite:///{db}')}"
    has_store = any(a.startswith("tracking.uri=") for a in argv)
    outcome = decide(
        lambda: preflight_or_exit(CONF_DIR, "config", argv + [store] * (not has_store))
    )
    assert outcome.code == 2, outcome
    (line,) = outcome.stderr.splitlines()
    return line.removeprefix("alphalab: error: ")


def test_an_interpolation_that_does_not_resolve_names_its_key(tmp_path):
    # was: InterpolationKeyError / InterpolationResolutionError tracebacks
    for value in ("${nope}", "${oc.env:ALPHALAB_NO_SUCH_VAR}", "${now:}"):
        assert _rejected([f"alpha.real={value}"], tmp_path).startswith("alpha.real: ")
    assert _rejected(["experiment_name=${x}"], tmp_path).startswith("experiment_name: ")
    line = _rejected(["tracking.uri=${oc.env:ALPHALAB_NO_SUCH_VAR}"], tmp_path)
    assert line.startswith("tracking.uri: ")


def test_a_data_path_that_is_not_a_regular_file_is_one_line(tmp_path):
    # was: "file not found" for /dev/null and folders, and an OSError traceback for a long name
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "folder.csv").mkdir()
    file_task = ["task=file", "formula=oscillation"]
    for path in ("/dev/null", tmp_path / "pipe.csv", tmp_path / "folder.csv"):
        line = _rejected([*file_task, f"task.path={path}"], tmp_path)
        assert line == f"task.path: not a regular file: {path}"
    line = _rejected([*file_task, f"task.path=/tmp/{'a' * 5000}.csv"], tmp_path)
    assert line.startswith("task.path: cannot read /tmp/aaa") and "File name too long" in line


def test_a_sqlite_store_that_is_not_a_regular_file_is_one_line(tmp_path):
    # was: /dev/null accepted (MLflow failed later), a named pipe waited forever
    from alphalab.tracking.precheck import store_problem

    os.mkfifo(tmp_path / "pipe.db")
    for db in ("/dev/null", tmp_path / "pipe.db", tmp_path):
        problem = store_problem(f"sqlite:///{db}")
        assert problem is not None and f"{db} is not a regular file" in problem
    assert "expected sqlite:///path" in store_problem("sqlite:///")  # was: ". is not an SQLite"


def test_an_http_uri_with_a_bad_port_is_one_line(tmp_path):
    # was: http.client.InvalidURL traceback
    line = _rejected(["tracking.uri=http://127.0.0.1:abc"], tmp_path)
    assert line.startswith("tracking.uri: http://127.0.0.1:abc: not a valid URL (nonnumeric port")


def test_an_override_hydra_cannot_read_names_its_key(tmp_path):
    # was: "mismatched input '[' expecting <EOF>" (no key), "LexerNoViableAltException: ..."
    line = _rejected(["tracking.uri=http://[::1"], tmp_path)
    assert line.startswith("tracking.uri: cannot read the override 'tracking.uri=http://[::1'")
    assert _rejected(["alpha.real=é"], tmp_path).startswith("alpha.real: cannot read the override")
    assert _rejected(["train.epochs"], tmp_path).startswith("train.epochs: expected KEY=VALUE")


def test_a_config_group_given_a_value_that_is_not_a_name_is_one_line(tmp_path):
    # was: ValueError "Config group override must be a string or a list" traceback
    assert _rejected(["task=5"], tmp_path).startswith(
        "task: expected the name of one of its options, got 5 (available: complex_gain, file"
    )
    assert _rejected(["train=null"], tmp_path).startswith("train: expected the name of one")
    assert _rejected(["=1"], tmp_path) == "=1: an override needs a key (KEY=VALUE)"


def test_a_bad_sweep_section_is_rejected_before_hydra_starts(tmp_path):
    # was: accepted by the pre-flight check, rejected only by the sweep's callback after Hydra
    # had started (and imported what a sweep imports)
    assert _rejected(["+sweep=alpha", "sweep.name=a/b"], tmp_path).startswith("sweep.name: ")
    assert _rejected(["+sweep=alpha", "sweep.refine=-1"], tmp_path).startswith("sweep.refine: ")
    line = _rejected(["-m", "seed=0,1", "sweep.basin_tolerance=x"], tmp_path)
    assert line.startswith("sweep.basin_tolerance: expected a number")
