"""A logged run's spec, rebuilt from the ``config.yaml`` it recorded (refinements start from
logged runs; ``experiments.reproduce`` runs one again)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from alphalab.config.parse import run_spec
from alphalab.config.spec import RunSpec
from alphalab.tracking import names
from alphalab.tracking.store import Tracker


def recorded_config(tracker: Tracker, run_id: str):
    """The resolved config a run recorded, as a DictConfig."""
    with tempfile.TemporaryDirectory(prefix="alphalab-config-") as tmp:
        local = tracker.client.download_artifacts(run_id, names.CONFIG, tmp)
        return OmegaConf.create(Path(local).read_text())


def recorded_spec(tracker: Tracker, run_id: str) -> RunSpec:
    """The RunSpec a logged run was trained with."""
    return run_spec(recorded_config(tracker, run_id))
