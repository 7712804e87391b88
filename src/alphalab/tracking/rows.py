"""Rows of MLflow's SQL tables as its store writes them, for the MLflow version alphalab pins:
metrics (MLflow's sanitising of NaN and infinities, its dropping of exact duplicates, the newest
value per key) and params or tags. ``tracking.runs`` inserts them in bulk."""

from __future__ import annotations

import math
from typing import Any

from alphalab.tracking.store import to_param


def sanitize(value: float) -> tuple[bool, float]:
    """A metric as MLflow's SQL store keeps it: NaN as 0 with is_nan, infinities as +-max."""
    if math.isnan(value):
        return True, 0.0
    if math.isinf(value):
        return False, 1.7976931348623157e308 if value > 0 else -1.7976931348623157e308
    return False, float(value)


def metric_rows(run_id: str, values, now: int) -> tuple[list[dict], list[dict]]:
    """The ``metrics`` rows MLflow writes for ``(key, value, step)`` triples of one run (exact
    duplicates dropped, as MLflow does), and its newest row per key, for ``latest_metrics``."""
    rows, newest, seen = [], {}, set()
    for key, value, step in values:
        is_nan, stored = sanitize(float(value))
        if (key, stored, is_nan, step) in seen:  # MLflow drops exact duplicates
            continue
        seen.add((key, stored, is_nan, step))
        row = {"key": key, "value": stored, "timestamp": now, "step": int(step)}
        row |= {"is_nan": is_nan, "run_uuid": run_id}
        rows.append(row)
        old = newest.get(key)
        if old is None or (row["step"], row["value"]) > (old["step"], old["value"]):
            newest[key] = row
    return rows, list(newest.values())


def param_row(run_id: str, key: str, value: Any) -> dict:
    """A ``params`` or ``tags`` row (the value as MLflow keeps it)."""
    return {"key": key, "value": to_param(value), "run_uuid": run_id}
