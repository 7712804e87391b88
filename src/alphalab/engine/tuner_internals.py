"""Every private keras-tuner internal alphalab uses, in one place; ``tests/test_internals.py``
names in one line any that moved (read as keras-tuner 1.4.8 keeps them). Each falls back to
keras-tuner's public behaviour when it is gone."""

from __future__ import annotations

import os


def is_chief_oracle() -> bool:
    """Whether this process is the chief of a distributed search (it serves the oracle), as
    keras-tuner reads its ``KERASTUNER_*`` environment."""
    try:
        from keras_tuner.src.distribute import utils
    except ImportError:  # the environment keras-tuner's distributed mode documents
        tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
        return "KERASTUNER_ORACLE_IP" in os.environ and "chief" in tuner_id
    return utils.is_chief_oracle()


def hand_out_next(oracle, trial_id: str) -> None:
    """Let keras-tuner's grid ``oracle`` produce the successor of ``trial_id`` at once (it
    otherwise waits for the trial to end: where this is gone, fewer trials train at once)."""
    queue = getattr(oracle, "_populate_next", None)
    if isinstance(queue, list):
        queue.append(trial_id)
