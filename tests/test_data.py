"""Task data: synthetic generation, the user's CSV and NPZ files, the seeded split."""

from pathlib import Path

import numpy as np
import pytest

from alphalab.config import ConfigError
from alphalab.config.parse import run_spec
from alphalab.config.spec import FormulaSpec, TaskSpec
from alphalab.data.sources import generate, read_file
from alphalab.engine.runs import run_job
from tests.conftest import compose

OSC_TASK = TaskSpec(
    name="oscillation",
    kind="synthetic",
    true_alpha=(0.5, 2.0),
    formula=FormulaSpec("oscillation"),
    noise=0.05,
    n_samples=300,
    x_low=0.0,
    x_high=6.0,
)


def file_task(path: Path) -> TaskSpec:
    return TaskSpec(name="file", kind="file", true_alpha=None, path=path)


def test_synthetic_data_follows_the_seed():
    a, b, c = generate(OSC_TASK, 0), generate(OSC_TASK, 0), generate(OSC_TASK, 1)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y_imag, b.y_imag)
    assert not np.array_equal(a.x, c.x)
    assert a.x.shape == (300, 1) and a.y_real.shape == (300, 1) and a.x.dtype == np.float32


def test_synthetic_noise_is_what_the_task_says():
    data = generate(OSC_TASK, 3)
    clean = np.exp(-0.5 * data.x) * np.cos(2.0 * data.x)
    assert np.std(data.y_real - clean) == pytest.approx(0.05, rel=0.15)


def test_split_is_seeded_disjoint_and_complete():
    data = generate(OSC_TASK, 0)
    train, val, test = data.split(0.2, seed=4)
    again, _, _ = data.split(0.2, seed=4)
    assert test is None and len(val.x) == 60 and len(train.x) == 240
    np.testing.assert_array_equal(train.x, again.x)
    together = np.sort(np.concatenate([train.x[:, 0], val.x[:, 0]]))
    np.testing.assert_array_equal(together, np.sort(data.x[:, 0]))


def _rows(part) -> set[float]:
    return set(part.x[:, 0].tolist())


def test_test_rows_are_held_out_before_the_rest_is_split():
    data = generate(OSC_TASK, 0)
    train, val, test = data.split(0.2, seed=4, test_split=0.2)
    assert (len(test.x), len(val.x), len(train.x)) == (60, 48, 192)  # 20%, then 20% of the rest
    assert not (_rows(test) & (_rows(train) | _rows(val))) and not _rows(train) & _rows(val)
    # test_split=0 is the two-way split of before, row for row
    two_way, _, _ = data.split(0.2, seed=4, test_split=0.0)
    np.testing.assert_array_equal(two_way.x, data.split(0.2, seed=4)[0].x)


def test_split_last_tests_on_the_final_rows_and_validates_on_those_before():
    data = generate(OSC_TASK, 0)
    train, val, test = data.split(0.2, seed=4, how="last", test_split=0.2)
    np.testing.assert_array_equal(test.x, data.x[240:])
    np.testing.assert_array_equal(val.x, data.x[192:240])
    np.testing.assert_array_equal(train.x, data.x[:192])


def test_k_folds_cover_the_rest_once_each_and_never_see_the_test_rows():
    data = generate(OSC_TASK, 0)
    parts = [data.split(0.2, 4, "random", 0.2, folds=5, fold=k) for k in range(5)]
    test = _rows(parts[0][2])
    validations = [_rows(val) for _, val, _ in parts]
    assert all(_rows(t) == test for _, _, t in parts)  # one test set for every fold
    assert sum(map(len, validations)) == 240 and set().union(*validations) == _rows(data) - test
    for train, val, _ in parts:
        assert not _rows(train) & _rows(val) and not (_rows(train) | _rows(val)) & test


def test_forward_chaining_folds_never_validate_on_rows_before_their_training_rows():
    data = generate(OSC_TASK, 0)
    for k in range(4):
        train, val, test = data.split(0.2, 4, "last", 0.2, folds=4, fold=k)
        index = {v: i for i, v in enumerate(data.x[:, 0].tolist())}
        trained = [index[v] for v in train.x[:, 0].tolist()]
        validated = [index[v] for v in val.x[:, 0].tolist()]
        assert max(trained) < min(validated) and max(validated) < 240 <= min(
            index[v] for v in test.x[:, 0].tolist()
        )
        assert len(trained) == 48 * (k + 1) and len(validated) == 48


def test_csv_with_several_x_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x1,x2,y_real,y_imag,comment\n1,2,3,4,a\n5,6,7,8,b\n")
    data = read_file(file_task(path))
    np.testing.assert_array_equal(data.x, [[1, 2], [5, 6]])
    np.testing.assert_array_equal(data.y_imag, [[4], [8]])


def test_csv_without_y_imag_trains_the_real_part_only(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y_real\n0,1\n1,2\n2,3\n")
    data = read_file(file_task(path))
    assert data.y_imag is None and not data.has_imag


def test_npz_is_read_without_pickle(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(5.0), y_real=np.ones(5), y_imag=np.zeros(5))
    data = read_file(file_task(path))
    assert data.x.shape == (5, 1) and data.y_real.shape == (5, 1)


def test_npz_with_python_objects_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([{"a": 1}] * 3, dtype=object), y_real=np.ones(3))
    with pytest.raises(ConfigError, match="allow_pickle=False"):
        read_file(file_task(path))


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"y_real": np.ones(3)}, "no array 'x'"),
        ({"x": np.ones(3)}, "no 'y_real'"),
        ({"x": np.ones(3), "y_real": np.ones(4)}, "has 4 rows"),
        ({"x": np.ones(3), "y_real": np.array([1.0, np.inf, 2.0])}, "NaN or infinite"),
    ],
)
def test_bad_npz_files_name_the_file_and_problem(tmp_path, arrays, words):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ConfigError) as caught:
        read_file(file_task(path))
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_a_real_signal_with_unknown_amplitude_and_phase_needs_the_gain_head(tmp_path, store):
    """A measured real signal 1.7*exp(-0.5x)*cos(2x + 0.6): the complex-gain head absorbs the
    amplitude and phase, so alpha alone has to explain decay and frequency."""
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 6, 600))
    y = 1.7 * np.exp(-0.5 * x) * np.cos(2.0 * x + 0.6) + rng.normal(0, 0.02, x.shape)
    path = tmp_path / "signal.csv"
    path.write_text("x,y_real\n" + "\n".join(f"{a},{b}" for a, b in zip(x, y, strict=True)))
    common = [
        "task=file",
        f"task.path={path}",
        "formula=oscillation",
        f"tracking.uri={store}",
        "approach=trainable",
        "alpha.real=1.0",
        "alpha.imag=1.6",
        "train.epochs=60",
        "task.true_alpha={real: 0.5, imag: 2.0}",
    ]
    with_head = run_job(run_spec(compose([*common, "model.head=gain"])))
    without = run_job(run_spec(compose([*common, "model.head=none"])))
    assert with_head.status == "FINISHED"
    assert with_head.alpha_error < 0.05, with_head.learned_alpha
    assert with_head.final_val_loss < without.final_val_loss / 10
    stacked = run_job(run_spec(compose([*common, "model.head=gain", "model.output=stacked"])))
    assert stacked.alpha_error < 0.05, stacked.learned_alpha


def test_file_task_config_carries_the_path(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y_real\n0,1\n1,2\n")
    spec = run_spec(compose(["task=file", f"task.path={path}", "formula=scaled"]))
    assert spec.task.path == path and spec.task.true_alpha is None
