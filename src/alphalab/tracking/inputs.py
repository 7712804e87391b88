"""The dataset rows of many runs at once: what MLflow's ``log_inputs`` writes into its SQL tables
(``datasets``, ``inputs``, ``input_tags``) on the schemas of ``mlflow_internals.BULK_REVISIONS``;
the bulk writer (``tracking.runs``) inserts them with the runs. ``tests/test_children.py`` checks
them against the client's rows."""

from __future__ import annotations

import uuid

from alphalab.tracking.mlflow_internals import session, tables


def input_rows(store, experiment_id: str, children: list) -> dict[str, list[dict]]:
    """The rows MLflow's ``log_inputs`` writes for ``children`` (``RunRecord``s with their
    ``inputs``) on the SQL ``store``: each dataset once per experiment (by name and digest),
    and an input with its tags per run and dataset."""
    dataset_table = tables()["datasets"]
    wanted = {(i.dataset.name, i.dataset.digest): i.dataset for c in children for i in c.inputs}
    if not wanted:
        return {}
    experiment = int(experiment_id)

    def known() -> dict[tuple[str, str], str]:
        with session(store) as reading:
            return {
                (d.name, d.digest): d.dataset_uuid
                for d in reading.query(dataset_table)
                .filter(dataset_table.experiment_id == experiment)
                .filter(dataset_table.digest.in_([digest for _, digest in wanted]))
            }

    found = known()
    missing = [
        {
            "dataset_uuid": uuid.uuid4().hex,
            "experiment_id": experiment,
            "name": dataset.name,
            "digest": dataset.digest,
            "dataset_source_type": dataset.source_type,
            "dataset_source": dataset.source,
            "dataset_schema": dataset.schema,
            "dataset_profile": dataset.profile,
        }
        for key, dataset in wanted.items()
        if key not in found
    ]
    if missing:  # in a transaction of their own: another process may create the same meanwhile
        _insert_new(store, missing)
        found = known()
    inputs, tags = [], []
    for child in children:
        seen = set()
        for given in child.inputs:
            key = (given.dataset.name, given.dataset.digest)
            if key in seen:  # MLflow keeps the first of two inputs of one dataset
                continue
            seen.add(key)
            input_uuid = uuid.uuid4().hex
            inputs.append(
                {
                    "input_uuid": input_uuid,
                    "source_type": "DATASET",
                    "source_id": found[key],
                    "destination_type": "RUN",
                    "destination_id": child.run_id,
                    "step": 0,
                }
            )
            tags += [
                {"input_uuid": input_uuid, "name": t.key, "value": t.value} for t in given.tags
            ]
    return {"inputs": inputs, "input_tags": tags}


def _insert_new(store, rows: list[dict]) -> None:
    """Insert datasets, skipping any another process inserted first (its unique key is the
    experiment, name and digest)."""
    dataset_table = tables()["datasets"]
    with session(store, write=True) as writing:
        dialect = writing.bind.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:  # another SQL database: as MLflow's client would, one at a time
            from sqlalchemy import insert

            writing.execute(insert(dataset_table), rows)
            return
        writing.execute(insert(dataset_table).on_conflict_do_nothing(), rows)
