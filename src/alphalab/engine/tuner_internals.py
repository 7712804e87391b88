"""Every private keras-tuner internal alphalab uses, in one place; ``tests/test_internals.py``
names in one line any that moved (read as keras-tuner 1.4.8 keeps them)."""

from __future__ import annotations


def is_chief_oracle() -> bool:
    """Whether this process is the chief of a distributed search (it serves the oracle), as
    keras-tuner reads its ``KERASTUNER_*`` environment."""
    from keras_tuner.src.distribute import utils

    return utils.is_chief_oracle()


def hand_out_next(oracle, trial_id: str) -> None:
    """Let keras-tuner's grid ``oracle`` produce the successor of ``trial_id`` at once (it
    otherwise waits for the trial to end)."""
    oracle._populate_next.append(trial_id)
