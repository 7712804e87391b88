"""Every private internal of MLflow, keras-tuner and Keras that alphalab uses is still where its
one module (``tracking/mlflow_internals.py``, ``engine/tuner_internals.py``,
``model/keras_internals.py``) reaches for it. When one moves, its check fails with one line
naming what moved, in which version, and the module to fix."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest

from alphalab.tracking.mlflow_internals import BULK_REVISIONS, mlflow_revisions

MLFLOW = "alphalab/tracking/mlflow_internals.py"
TUNER = "alphalab/engine/tuner_internals.py"
KERAS = "alphalab/model/keras_internals.py"


def reach(path: str):
    """The object at a dotted path: a module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise ImportError(path)


def holds(library: str, what: str, module: str, check: Callable[[], object]) -> None:
    """Fail in one line if ``check`` raises or answers False."""
    version = importlib.import_module(library.replace("-", "_")).__version__
    try:
        ok = check()
    except Exception as exc:  # noqa: BLE001 - whatever moved, say it in one line
        ok, why = False, f" ({type(exc).__name__}: {exc})"
    else:
        why = ""
    if ok is False:
        pytest.fail(f"{library} {version}: {what} moved{why}; update {module}", pytrace=False)


@pytest.fixture(scope="module")
def sql_client(tmp_path_factory):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}")


MLFLOW_PATHS = [
    "mlflow.store.tracking.sqlalchemy_store.SqlAlchemyStore._engine_map",
    "mlflow.store.tracking.dbmodels.models.SqlRun",
    "mlflow.store.tracking.dbmodels.models.SqlTag",
    "mlflow.store.tracking.dbmodels.models.SqlParam",
    "mlflow.store.tracking.dbmodels.models.SqlMetric",
    "mlflow.store.tracking.dbmodels.models.SqlLatestMetric",
    "mlflow.store.tracking.dbmodels.models.SqlDataset",
    "mlflow.store.tracking.dbmodels.models.SqlInput",
    "mlflow.store.tracking.dbmodels.models.SqlInputTag",
    "mlflow.utils.file_utils.local_file_uri_to_path",
    "mlflow.utils.uri.append_to_uri_path",
    "mlflow.utils.uri.resolve_uri_if_local",
    "mlflow.data.dataset.Dataset._to_mlflow_entity",
]


@pytest.mark.parametrize("path", MLFLOW_PATHS)
def test_mlflows_internals_are_where_alphalab_reaches(path):
    holds("mlflow", path, MLFLOW, lambda: reach(path))


def test_mlflows_store_is_behind_its_client(sql_client):
    from alphalab.tracking.mlflow_internals import bulk_store, metric_history_bulk, tables

    holds(
        "mlflow", "MlflowClient._tracking_client.store", MLFLOW, lambda: bulk_store(sql_client, "")
    )
    store = sql_client._tracking_client.store
    holds("mlflow", "SqlAlchemyStore.get_metric_history_bulk", MLFLOW,
          lambda: metric_history_bulk(store, [], "loss") == [])  # fmt: skip
    holds("mlflow", "its SQL tables' names", MLFLOW, lambda: len(tables()) == 8)
    holds("mlflow", "its migration scripts (store/db_migrations/versions)", MLFLOW,
          lambda: len(mlflow_revisions()[1]) == 1)  # fmt: skip


def test_mlflows_sessions_are_as_the_bulk_writer_opens_them(sql_client):
    from alphalab.tracking.mlflow_internals import session

    if not mlflow_revisions()[1] <= BULK_REVISIONS:
        pytest.skip("the bulk writer does not run on this MLflow's schema")
    store = sql_client._tracking_client.store

    def both() -> bool:
        for write in (False, True):
            with session(store, write=write) as opened:
                opened.connection()
        return True

    holds("mlflow", "SqlAlchemyStore.ManagedSessionMaker(read_only=...)", MLFLOW, both)


def test_keras_tuners_internals_are_where_alphalab_reaches():
    import keras_tuner

    from alphalab.engine.tuner_internals import hand_out_next, is_chief_oracle

    chief = "keras_tuner.src.distribute.utils.is_chief_oracle"
    holds("keras-tuner", chief, TUNER, lambda: reach(chief) and is_chief_oracle() is False)
    oracle = keras_tuner.oracles.GridSearchOracle(keras_tuner.Objective("loss", "min"))
    holds("keras-tuner", "GridSearchOracle._populate_next", TUNER,
          lambda: hand_out_next(oracle, "0") or oracle._populate_next == ["0"])  # fmt: skip


def test_keras_internals_are_where_alphalab_reaches():
    import keras

    from alphalab.model.keras_internals import flattened_layers, slot_lists, variable_index

    for path in ("keras.src.backend.common.global_state", "keras.src.utils.naming.reset_uids"):
        holds("keras", path, KERAS, lambda path=path: reach(path))
    inner = keras.Sequential([keras.layers.Dense(2, name="inner")])
    model = keras.Sequential([keras.Input((3,)), inner, keras.layers.Dense(1, name="outer")])

    def walked() -> bool:  # into the nested model too
        return {"inner", "outer"} <= {layer.name for layer in flattened_layers(model)}

    holds("keras", "Model._flatten_layers", KERAS, walked)
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    last, count = model.trainable_variables[-1], len(model.trainable_variables)
    holds("keras", "Optimizer._get_variable_index", KERAS,
          lambda: variable_index(optimizer, last) == count - 1)  # fmt: skip
    holds("keras", "Optimizer._trainable_variables and its slot lists (Adam's _momentums)", KERAS,
          lambda: set(slot_lists(optimizer)) == {"_momentums", "_velocities"})  # fmt: skip


def test_mlflows_requirement_check_is_where_alphalab_skips_it():
    """A sweep's logged models skip MLflow's scan of every installed distribution (results/
    compare.py); if the function moved, that scan (about 1 s) is back."""
    from alphalab.results.compare import SCAN

    path = f"mlflow.utils.environment.{SCAN}"
    holds("mlflow", path, "alphalab/results/compare.py", lambda: callable(reach(path)))
