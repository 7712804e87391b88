"""Config composition and bad input: one line naming the key, exit code 2, no run created."""

from pathlib import Path

import pytest

from alphalab.config import ConfigError
from alphalab.config.parse import run_spec
from tests.conftest import CONF_DIR, compose, error_lines, run_experiment, runs_in


def test_default_config_is_a_trainable_run_on_the_oscillation_task():
    spec = run_spec(compose())
    assert spec.approach == "trainable"
    assert spec.task.name == "oscillation" and spec.task.true_alpha == (0.5, 2.0)
    assert spec.formula.name == "oscillation"  # formula=task: the task's own formula
    assert spec.head == "none" and spec.output == "pair"
    assert spec.train.epochs > 0 and 0 < spec.train.validation_split < 1


def test_overrides_reach_the_spec():
    spec = run_spec(
        compose(
            [
                "approach=lambda",
                "alpha.real=0.25",
                "alpha.imag=-3",
                "formula=scaled",
                "formula.kwargs.f=tanh",
                "model.head=gain",
                "model.output=stacked",
                "seed=7",
            ]
        )
    )
    assert spec.approach == "lambda" and spec.alpha == (0.25, -3.0)
    assert spec.formula.name == "scaled" and spec.formula.kwargs == {"f": "tanh", "g": "cos"}
    assert (spec.head, spec.output, spec.seed) == ("gain", "stacked", 7)


def test_each_task_brings_its_own_formula():
    for task, formula in [("complex_gain", "complex_gain"), ("scaled", "scaled")]:
        assert run_spec(compose([f"task={task}"])).formula.name == formula


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "no_y.csv": "x,y_imag\n1,2\n3,4\n",
        "nan.csv": "x,y_real,y_imag\n0,1,2\n1,nan,3\n2,1,1\n",
        "text.csv": "x,y_real\n0,1\n1,oops\n",
        "no_x.csv": "t,y_real\n0,1\n1,2\n",
    }
    out = {}
    for name, text in files.items():
        out[name] = tmp_path / name
        out[name].write_text(text)
    return out


# (overrides, the key or file the message must name, words the message must contain)
# Unknown group options and keys: Hydra rejects them while composing.
BAD_NAMES = [
    (["approach=magic"], "approach", "unknown option 'magic'"),
    (["formula=nope"], "formula", "unknown option 'nope'"),
    (["task=nope"], "task", "unknown option 'nope'"),
    (["alpha.reel=1"], "alpha.reel", "no such key; did you mean alpha.real?"),
    (["+search=nope"], "search", "unknown option 'nope'"),
]
# Bad values and files: alphalab's own check rejects them.
BAD_VALUES = [
    (["alpha.real=abc"], "alpha.real", "expected a number"),
    (["alpha.imag=nan"], "alpha.imag", "finite"),
    (["alpha.real=inf"], "alpha.real", "finite"),
    (["train.epochs=0"], "train.epochs", "positive"),
    (["train.batch_size=-4"], "train.batch_size", "positive"),
    (["train.validation_split=1.5"], "train.validation_split", "in [0, 1)"),
    (["train.validation_split=-0.1"], "train.validation_split", "in [0, 1)"),
    (["train.validation_split=0", "approach=tuned"], "train.validation_split", "tuned"),
    (["task=file", "task.path=missing.csv", "formula=oscillation"], "task.path", "not found"),
    (["task=file", "task.path={no_y.csv}", "formula=oscillation"], "no_y.csv", "no 'y_real'"),
    (["task=file", "task.path={no_x.csv}", "formula=oscillation"], "no_x.csv", "no 'x' column"),
    (["task=file", "task.path={nan.csv}", "formula=oscillation"], "nan.csv", "NaN"),
    (["task=file", "task.path={text.csv}", "formula=oscillation"], "text.csv", "not a number"),
    (["task=file", "task.path={nan.csv}"], "formula", "choose one"),
    (["formula=custom"], "formula.name", "required"),
    (
        ["formula=custom", "formula.name=tests.user_formulas.NOT_CALLABLE"],
        "formula.name",
        "not callable",
    ),
    (["formula=custom", "formula.name=no_such_pkg.fn"], "formula.name", "cannot import"),
    (["formula.name=nonsense"], "formula.name", "unknown formula"),
    (["model.head=big"], "model.head", "unknown 'big'"),
    (["+search=random", "search.max_trials=0"], "search.max_trials", "at least 1"),
    (["+search=random", "search.population=0"], "search.population", "at least 1"),
    (
        ["+search=random", "search.tuner._target_=no_such_tuners.Search"],
        "search.tuner._target_",
        "cannot find module 'no_such_tuners'",
    ),
    (["+search=bayesian", "search.needs=[no_such_module]"], "search.tuner", "needs no_such_module"),
    (
        ["+search=random", "search.space.alpha_imag.min=5"],
        "search.space.alpha_imag.max",
        "greater than",
    ),
    (
        ["+search=random", "search.space.alpha_real.sampling=log"],
        "search.space.alpha_real.min",
        "positive minimum",
    ),
]


def _expand(overrides: list[str], files: dict[str, Path]) -> list[str]:
    out = []
    for override in overrides:
        for name, path in files.items():
            override = override.replace("{" + name + "}", str(path))
        out.append(override)
    return out


@pytest.mark.parametrize(("overrides", "key", "words"), BAD_VALUES)
def test_bad_value_is_rejected_in_process(overrides, key, words, bad_files):
    from alphalab.entry.preflight import check

    with pytest.raises(ConfigError) as caught:
        check(compose(_expand(overrides, bad_files)))
    message = str(caught.value)
    assert key in message and words in message and "\n" not in message


@pytest.mark.parametrize(("overrides", "key", "words"), BAD_NAMES)
def test_an_unknown_name_is_rejected_in_process(overrides, key, words):
    from alphalab.entry.preflight import preflight

    with pytest.raises(ConfigError) as caught:
        preflight(CONF_DIR, "config", overrides)
    message = str(caught.value)
    assert key in message and words in message and "\n" not in message


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "key", "words"), BAD_NAMES + BAD_VALUES)
def test_bad_input_on_the_command_line(tmp_path, overrides, key, words, bad_files):
    result = run_experiment(tmp_path, *_expand(overrides, bad_files))
    assert result.returncode == 2, result.stderr[-2000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-2000:]
    assert key in lines[0] and words in lines[0]
    assert "Traceback" not in result.stderr
    assert "tensorflow" not in result.stderr.lower()  # rejected before tensorflow was imported
    assert runs_in(tmp_path) == []


def test_a_bad_value_inside_a_sweep_list_is_rejected_before_any_job(tmp_path):
    result = run_experiment(tmp_path, "+sweep=alpha", "alpha.real=0.5,abc")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "alphalab: error: alpha.real: expected a number, got 'abc'"
    ]
    assert runs_in(tmp_path) == []


def test_help_names_every_group_option_key_and_launcher(capsys):
    from alphalab.entry.help import help_text

    text = help_text(CONF_DIR)
    for group in (p for p in CONF_DIR.iterdir() if p.is_dir()):
        for option in group.glob("*.yaml"):
            assert option.stem in text, f"--help leaves out {group.name}={option.stem}"
    keys = [
        "approach", "model.builder", "model.kwargs", "task.loader", "task.kwargs", "task.split",
        "task.folds", "task.test_split", "task.standardize", "sweep.refine", "sweep.prune",
        "sweep.prune_eta", "sweep.prune_grace", "verdict.rope", "train.alpha_learning_rate",
        "train.loss", "search.population", "tracking.uri", "experiment_name", "seed",
    ]  # fmt: skip
    for key in keys:
        assert f"{key}=" in text or f"{key} " in text, f"--help leaves out {key}"
    for launcher in ("population", "basic", "joblib", "ray", "submitit_local", "submitit_slurm"):
        assert launcher in text
    assert "tuned" in text and "hydra.launcher.engine" in text
    assert max(map(len, text.splitlines())) <= 100


def test_cfg_job_of_a_sweep_shows_its_grid_and_first_job(capsys):
    from alphalab.entry.show import show_sweep_config

    args = ["+sweep=alpha", "alpha.imag=1,2", "--cfg", "job"]
    assert show_sweep_config(CONF_DIR, "config", args)
    out = capsys.readouterr().out
    assert "# a sweep of 48 jobs, each on 5 folds (240 fits)" in out  # 2 x 4 x 2 x 3 seeds
    assert "#   alpha.imag  1, 2" in out and "#   seed        0, 1, 2" in out
    assert "imag: 1\n" in out and "name: lambda" in out  # the first job's values
    assert not show_sweep_config(CONF_DIR, "config", ["--cfg", "job"])  # one run: Hydra's
