"""What a sweep's launching process hands to its jobs, which may run in other processes.

One environment variable carries it (workers inherit the environment), and two small files in
the sweep's Hydra folder replace store queries on every job: the job keys that FINISHED before
this session (resume without asking the store) and one line per job done (progress counts).
Nothing here imports tensorflow or mlflow.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from alphalab.config.spec import TrackingSpec

ENV = "ALPHALAB_SWEEP"


def resume_hint(name: str) -> str:
    """How to resume the sweep called ``name`` (from Python: the same call with its name)."""
    from alphalab.engine.provenance import COMMAND_ENV, IN_PROCESS

    if os.environ.get(COMMAND_ENV, "").startswith(IN_PROCESS):
        return f"resume with the same call plus name={name!r}"
    return f"resume with the same command plus sweep.name={name}"


@dataclass(frozen=True)
class SweepContext:
    """The running sweep as its jobs see it."""

    parent_id: str
    total: int
    started: float  # time.time() when this session of the sweep started
    done_at_start: int  # jobs finished in earlier sessions (resume)
    state_dir: str
    tracking: TrackingSpec  # the parent's store and experiment
    name: str = ""  # the sweep's name (resume with sweep.name=NAME)

    @property
    def resume_hint(self) -> str:
        """How to resume the sweep ("" without its name)."""
        return resume_hint(self.name) if self.name else ""

    @classmethod
    def from_env(cls) -> SweepContext | None:
        """The context the launching process published, None outside a sweep."""
        raw = os.environ.get(ENV)
        if not raw:
            return None
        fields = json.loads(raw)
        return cls(**{**fields, "tracking": TrackingSpec(**fields["tracking"])})

    def to_env(self) -> None:
        """Publish the context to this process's environment (inherited by workers)."""
        os.environ[ENV] = json.dumps(asdict(self))

    @staticmethod
    def clear_env() -> None:
        """Withdraw the context when the sweep ends."""
        os.environ.pop(ENV, None)

    @property
    def _finished_file(self) -> Path:
        return Path(self.state_dir) / "finished-before.txt"

    @property
    def _done_file(self) -> Path:
        return Path(self.state_dir) / "done.txt"

    def write_finished(self, job_keys: set[str]) -> None:
        """Start a session: the jobs finished before it, and none done yet."""
        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        self._finished_file.write_text("".join(f"{key}\n" for key in sorted(job_keys)))
        self._done_file.write_text("")

    def finished_before(self, job_key: str) -> bool | None:
        """Whether the job FINISHED in an earlier session; None when this process cannot tell."""
        try:
            return job_key in self._finished_file.read_text().split()
        except OSError:
            return None

    def mark_done(self, *job_keys: str) -> int:
        """Record jobs done (from any process); return how many distinct jobs are done."""
        with self._done_file.open("a") as handle:  # O_APPEND: whole lines, in one write
            handle.write("".join(f"{key}\n" for key in job_keys))
        done = set(self._done_file.read_text().split())
        return len(done | set(self._finished_file.read_text().split()))
