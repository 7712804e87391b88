"""keras-tuner's distributed mode: one chief serves the oracle, N workers run the trials.

keras-tuner reads its role from the environment (``KERASTUNER_TUNER_ID``: ``chief``, ``tuner0``,
..., ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``). alphalab adds what MLflow needs: the
chief opens (or resumes) the search's parent run before it serves the oracle; each worker waits
for that parent, logs its trials as children of it and leaves it open; once every trial is done
the chief runs the one reference (trainable) run, compares, and closes the parent. All processes
must be given the same ``search.name`` (how workers find the parent) and the same store.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from alphalab.config import ConfigError
from alphalab.config.names import Status
from alphalab.config.spec import SearchSpec
from alphalab.tracking.store import Tracker

ROLE_ENV, IP_ENV, PORT_ENV = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
WAIT_FOR_CHIEF = 600.0  # how long a worker waits for the chief to open the search
POLL = 1.0


def role() -> str | None:
    """``chief`` or a worker's id in a distributed search; None for an ordinary search."""
    tuner_id = os.environ.get(ROLE_ENV)
    if not tuner_id and not os.environ.get(IP_ENV):
        return None
    missing = [key for key in (ROLE_ENV, IP_ENV, PORT_ENV) if not os.environ.get(key)]
    if missing:
        raise ConfigError(f"{missing[0]}: keras-tuner's distributed mode needs it set too")
    return "chief" if "chief" in tuner_id else tuner_id


def check_name(search: SearchSpec, tuner_id: str | None) -> None:
    """A distributed search needs a name given to the chief and to every worker."""
    if tuner_id is not None and not search.name:
        raise ConfigError(
            "search.name: a distributed search needs the same search.name in the chief and in "
            "every worker"
        )


def wait_for_parent(tracker: Tracker, name: str, tuner_id: str, timeout: float = WAIT_FOR_CHIEF):
    """The RUNNING parent run the chief opened for search ``name``; raise TimeoutError if none
    appears within ``timeout`` seconds (a worker started after the chief had finished)."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        found = tracker.find_parent(name)
        if found is not None and found.info.status == Status.RUNNING:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"worker {tuner_id}: no running search '{name}' in {tracker.uri} after "
                f"{timeout:.0f} s; start the chief ({ROLE_ENV}=chief) with the same search.name"
            )
        if not announced:
            print(f"alphalab: worker {tuner_id} waits for the chief to open '{name}'", flush=True)
            announced = True
        time.sleep(POLL)


def worker_directory(directory: Path, name: str, tuner_id: str) -> Path:
    """A worker's own, fresh keras-tuner folder (the search's state lives with the chief; a
    worker sharing it would overwrite or reload the chief's files)."""
    folder = directory / "workers" / name / tuner_id
    shutil.rmtree(folder, ignore_errors=True)
    return folder
