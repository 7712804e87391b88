"""Where a task's data comes from: generated from a formula at a known alpha, the user's CSV or
NPZ file, or the user's loader function. Files are read with numpy only, so bad files are
rejected before TensorFlow loads."""

from __future__ import annotations

import numpy as np

from alphalab.config import ConfigError
from alphalab.config.paths import import_callable
from alphalab.config.spec import TaskSpec
from alphalab.data.arrays import read_csv, read_npz, to_task_data
from alphalab.data.task_data import TaskData
from alphalab.session import State

# {(repr(task), seed): TaskData}; a reset drops them (generated or read again: a file that
# changed since is read as it is now).
_CACHE: State[dict[tuple[str, int], TaskData]] = State("data.sources.task_data", dict)


def load_task(task: TaskSpec, seed: int) -> TaskData:
    """The task's data for ``seed``; generated or read once per process and reused."""
    key, cache = (repr(task), seed), _CACHE.get()
    if key not in cache:
        if task.kind == "file":
            cache[key] = read_file(task)
        elif task.kind == "loader":
            cache[key] = call_loader(task)
        else:
            cache[key] = generate(task, seed)
    return cache[key]


def generate(task: TaskSpec, seed: int) -> TaskData:
    """Draw x, apply the task's formula at its true alpha, add Gaussian noise; all from ``seed``."""
    from keras import ops

    from alphalab import formulas

    assert task.formula is not None and task.true_alpha is not None
    rng = np.random.default_rng(seed)
    shape = (task.n_samples, task.x_columns)
    if task.x_distribution == "uniform":
        x = rng.uniform(task.x_low, task.x_high, size=shape)
    else:
        center, scale = (task.x_low + task.x_high) / 2, (task.x_high - task.x_low) / 4
        x = rng.normal(center, scale, size=shape)
    x = x.astype("float32")
    fn = formulas.resolve(task.formula.name)
    real, imag = fn(x, *task.true_alpha, **task.formula.kwargs)
    real = np.asarray(ops.convert_to_numpy(real), dtype="float32").reshape(task.n_samples, -1)
    imag = np.asarray(ops.convert_to_numpy(imag), dtype="float32").reshape(task.n_samples, -1)
    real += (task.noise * rng.standard_normal(real.shape)).astype("float32")
    imag += (task.noise * rng.standard_normal(imag.shape)).astype("float32")
    return TaskData(x=x, y_real=real, y_imag=imag, true_alpha=task.true_alpha)


def read_file(task: TaskSpec) -> TaskData:
    """Read the user's CSV or NPZ; raise ConfigError naming the file and what is wrong."""
    assert task.path is not None
    path = task.path
    arrays = read_npz(path) if path.suffix.lower() == ".npz" else read_csv(path)
    return to_task_data(str(path), arrays, task.true_alpha)


def call_loader(task: TaskSpec) -> TaskData:
    """Call the user's loader with ``task.kwargs``; its mapping is checked like an NPZ file."""
    assert task.loader is not None
    source = f"task.loader: {task.loader}"
    try:
        arrays = import_callable(task.loader)(**task.loader_kwargs)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code can fail in any way
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(f"{source} raised {type(exc).__name__}: {first}") from None
    return to_task_data(source, arrays, task.true_alpha)
