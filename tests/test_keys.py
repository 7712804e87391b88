"""A key that nothing reads is bad input (alphalab.config.keys): conf/ and the typed spec agree
on which keys exist, and an override of any other key stops in one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from alphalab.config import ConfigError
from alphalab.config.keys import OPEN, shape_of, verdict
from alphalab.config.parse import run_spec, sweep_spec
from alphalab.config.parse_search import search_spec
from alphalab.config.reader import recording_reads
from tests.conftest import CONF_DIR, ROOT, compose

OPTIONAL = ("sweep", "search", "debug")  # groups added with a "+", not in the defaults list


def variants(data: Path) -> list[list[str]]:
    """Every option of every config group in conf/, each with every switch on that makes the
    spec read more (pruning, a user's builder), and what the option itself requires."""
    needs = {
        "task=file": [f"task.path={data}", "formula=oscillation"],
        "task=loader": ["task.loader=os.path.join", "formula=oscillation"],
        "formula=custom": ["formula.name=os.path.join"],
    }
    out = []
    for group in sorted(p for p in CONF_DIR.iterdir() if p.is_dir()):
        for option in sorted(group.glob("*.yaml")):
            chosen = f"{group.name}={option.stem}"
            plus = "+" if group.name in OPTIONAL else ""
            switches = ["sweep.prune=true", "model.builder=os.path.join"]
            out.append([plus + chosen, *needs.get(chosen, []), *switches])
    return out


def covered(key: str, reads: set[str]) -> bool:
    """A key is read when the spec reads it, or reads an open section it is in, whole."""
    parts = key.split(".")
    sections = {".".join(parts[:i]) for i in range(1, len(parts))}
    return key in reads or any(s in reads and s in OPEN for s in sections)


@pytest.fixture(scope="module")
def composed(tmp_path_factory) -> list[tuple[list[str], object]]:
    """Each variant's overrides and its composed config (composed once for the module)."""
    data = tmp_path_factory.mktemp("data") / "data.csv"
    data.write_text("x,y_real\n0,1\n1,2\n")
    return [(overrides, compose(overrides)) for overrides in variants(data)]


def test_every_key_in_conf_is_read_by_the_typed_spec(composed):
    seen_open: set[str] = set()
    for overrides, cfg in composed:
        with recording_reads() as reads:
            run_spec(cfg)
            sweep_spec(cfg)
            if cfg.get("search") is not None:
                search_spec(cfg)
        keys, opened = shape_of(cfg)
        leaves = {k for k in keys if not any(other.startswith(k + ".") for other in keys)}
        unread = sorted(k for k in leaves if not covered(k, reads))
        assert not unread, f"{overrides[0]}: present in conf/ but nothing reads {unread}"
        assert opened <= reads, f"{overrides[0]}: open sections not read whole"
        seen_open |= opened
    assert seen_open == set(OPEN), "an OPEN section that no option of conf/ has"


def test_the_examples_set_only_keys_that_are_read(composed):
    keys, opened = set(), set()
    for _, cfg in composed:
        shape = shape_of(cfg)
        keys |= shape[0]
        opened |= shape[1]
    for path in sorted((ROOT / "examples").glob("*/*.yaml")):
        plain = OmegaConf.to_container(OmegaConf.load(path))
        plain.pop("defaults", None)
        plain.pop("hydra", None)
        file_keys = shape_of(OmegaConf.create(plain))[0]
        unread = [k for k in file_keys if verdict(k, (frozenset(keys), frozenset(opened))) is None]
        assert not unread, f"{path.name} sets keys nothing reads: {unread}"


def rejected(argv: list[str]) -> str:
    from alphalab.entry.preflight import preflight

    with pytest.raises(ConfigError) as caught:
        preflight(CONF_DIR, "config", argv)
    return str(caught.value)


NOT_READ = [
    (["train.epoch=3"], "train.epoch: no such key; did you mean train.epochs?"),
    (["+train.epoch=3"], "train.epoch: no such key; did you mean train.epochs?"),
    (["++train.epoch=3"], "train.epoch: no such key; did you mean train.epochs?"),
    (["-m", "train.epoch=1,2"], "train.epoch: no such key; did you mean train.epochs?"),
    (["seeds=1"], "seeds: no such key; did you mean seed?"),
    (["+nogroup=x"], "nogroup: no such key"),
    (["task.path=data.csv"], "task.path is read only with task=file"),
    (["+task.path=data.csv"], "task.path is read only with task=file"),
    (["+task.kwargs.year=2020"], "task.kwargs.year is read only with task=loader"),
    (
        ["task=file", "task.path=x.csv", "task.noise=0.2"],
        "task.noise is read only with task=complex_gain (or task=oscillation, task=scaled)",
    ),
    (["search.max_trials=3"], "search.max_trials is read only with +search=bayesian (or"),
    (["hydra.launcher.engine=ray"], "hydra.launcher.engine is read only with hydra/launcher=pop"),
    (
        ["+hydra.launcher.ray.init.num_cpus=2"],  # the basic launcher has no ray section
        "hydra.launcher.ray.init.num_cpus is read only with hydra/launcher=population (or",
    ),
    (["+hydra.nothing=1"], "hydra.nothing: no such key"),
    # read once added: the "+" hint is offered only here
    (["model.kwargs.units=4"], "model.kwargs.units: not in this config yet; add it with +model"),
    (["+search=random", "search.tuner.seed=3"], "search.tuner.seed: not in this config yet;"),
    # present, but read only with another value of another key
    (["+model.kwargs.units=4"], "model.kwargs.units: read only with model.builder"),
    (["+formula.kwargs.f=tanh"], "formula.kwargs.f: read only with a formula other than"),
    (["+task.formula.kwargs.a=1"], "task.formula.kwargs.a: formula 'oscillation' takes no"),
    # present, but read only by a sweep: one job (or a search) would ignore them
    (["sweep.refine=3"], "sweep.refine: read only by a sweep (+sweep=alpha, or -m"),
    (["verdict.rope=0.05"], "verdict.rope: read only by a sweep"),
    (["+search=random", "sweep.name=x"], "sweep.name: read only by a sweep"),
]


@pytest.mark.parametrize(("argv", "line"), NOT_READ)
def test_a_key_nothing_reads_is_one_line_naming_it(argv, line):
    message = rejected(argv)
    assert message.startswith(line), message
    assert "\n" not in message
    key = line.split(" ")[0].rstrip(":")
    if "not in this config yet" not in line:
        assert f"+{key}" not in message  # never the "+key" hint for a key nothing reads


READ = [
    (["+search=random", "+search.tuner.seed=3"], "search.tuner.seed", 3),
    (["hydra/launcher=population", "+hydra.launcher.ray.init.num_cpus=2"], None, None),
    (["+sweep=alpha", "+hydra.launcher.ray.init.num_cpus=2"], None, None),
    (["+hydra.callbacks.seen._target_=tests.user_callbacks.Seen"], None, None),
    (["++hydra.job.env_set.ALPHALAB_X=1"], None, None),
    (["+debug=fast"], "train.epochs", 3),
    (["++train.epochs=5"], "train.epochs", 5),
    (["+sweep=alpha", "sweep.refine=2"], "sweep.refine", 2),
    (["-m", "seed=0,1", "sweep.prune=true"], "sweep.prune", True),
    (["+search=random", "verdict.rope=0.05"], "verdict.rope", 0.05),
]


@pytest.mark.parametrize(("argv", "key", "value"), READ)
def test_hydra_s_real_plus_uses_keep_working(argv, key, value):
    from alphalab.entry.preflight import preflight

    cfg = preflight(CONF_DIR, "config", argv)
    if key is not None:
        assert OmegaConf.select(cfg, key) == value


def test_a_null_section_is_filled_key_by_key(tmp_path):
    from alphalab.entry.preflight import preflight

    data = tmp_path / "data.csv"
    data.write_text("x,y_real\n" + "".join(f"{i},{i % 3}\n" for i in range(30)))
    file_task = ["task=file", f"task.path={data}", "formula=oscillation"]
    line = rejected([*file_task, "task.true_alpha.real=0.5"])
    assert (
        line
        == "task.true_alpha.real: not in this config yet; add it with +task.true_alpha.real=0.5"
    )
    filled = ["+task.true_alpha.real=0.5", "+task.true_alpha.imag=2"]
    cfg = preflight(CONF_DIR, "config", [*file_task, *filled])
    assert run_spec(cfg).task.true_alpha == (0.5, 2.0)


def test_an_example_group_on_the_search_path_is_a_group(monkeypatch):
    from alphalab.entry import preflight as module

    monkeypatch.setattr(module, "check", lambda cfg: None)  # its model imports TensorFlow
    cfg = module.preflight(CONF_DIR, "config", ["+sunspots=sweep", "+model.kwargs.extra=1"])
    assert cfg.task.loader == "examples.sunspots.data.load" and cfg.model.kwargs.extra == 1
