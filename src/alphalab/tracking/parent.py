"""The parent run of a sweep or a search: opened (or resumed by name) before the first child,
closed exactly once with the right status."""

from __future__ import annotations

from typing import Any

from alphalab.config.names import Status
from alphalab.tracking import names
from alphalab.tracking.store import Tracker

LEFT_RUNNING = "left RUNNING by an interrupted session; its job runs again on resume"


class ParentRun:
    """A sweep's or search's parent run; its children carry ``mlflow.parentRunId``."""

    def __init__(self, tracker: Tracker, run_id: str, name: str, finished_keys: set[str] | None):
        self.tracker, self.run_id, self.name = tracker, run_id, name
        self.resumed = finished_keys is not None
        self.finished_keys = finished_keys or set()  # job keys that FINISHED in earlier sessions
        self.closed = False

    @classmethod
    def open(cls, tracker: Tracker, name: str, kind: str, params: dict[str, Any]) -> ParentRun:
        """Resume the parent called ``name`` (children a killed process left RUNNING become
        KILLED), or create it with ``params``."""
        found = tracker.find_parent(name)
        if found is None:
            run_id = tracker.create_run(name, {names.KIND: kind, names.SWEEP_NAME: name})
            tracker.log_params(run_id, params)
            return cls(tracker, run_id, name, None)
        run_id = found.info.run_id
        tracker.reopen(run_id)
        finished = set()
        for child in tracker.children(run_id):
            if child.info.status == Status.RUNNING:
                tracker.finish(child.info.run_id, Status.KILLED, LEFT_RUNNING)
            elif child.info.status == Status.FINISHED and names.JOB_KEY in child.data.tags:
                finished.add(child.data.tags[names.JOB_KEY])
        return cls(tracker, run_id, name, finished)

    def close(self, status: str = Status.FINISHED, error: str | None = None) -> None:
        """End the parent run (once; later calls do nothing)."""
        if not self.closed:
            self.closed = True
            self.tracker.finish(self.run_id, status, error)
