"""Run a logged run again from the config it recorded, as a new run, and say whether its metrics
match: the same code path as the original job, trained in a fresh process."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from alphalab.config import ConfigError
from alphalab.config.names import Kind, Status
from alphalab.config.spec import TrackingSpec
from alphalab.engine.provenance import PREFIX, provenance
from alphalab.engine.runs import JobResult, run_job
from alphalab.entry.recorded import recorded_spec
from alphalab.tracking import names
from alphalab.tracking.lock import open_client
from alphalab.tracking.store import Tracker

# The final metrics compared, and how close counts as the same (training on CPU with the same
# seed repeats itself up to float rounding; a different machine or library may not).
COMPARED = (names.FINAL_VAL_LOSS, names.LEARNED_REAL, names.LEARNED_IMAG, names.ALPHA_ERROR)
TOLERANCE = 1e-6
REPRODUCES = "alphalab.reproduces"
# Provenance that may explain a difference when it changed.
CHANGED = ("git_commit", "git_dirty", "uv_lock", "tensorflow_version", "keras_version")


@dataclass
class Reproduction:
    """The original run, the new one, and how their metrics compare."""

    original_id: str
    result: JobResult
    differences: list[str]
    changed: list[str]

    @property
    def matches(self) -> bool:
        """Whether every compared metric agrees within the tolerance."""
        return self.result.status == Status.FINISHED and not self.differences

    def report(self) -> str:
        """What ``python -m experiments.reproduce`` prints."""
        lines = [f"alphalab: reproduced run {self.original_id} as run {self.result.run_id}"]
        lines.append(self.result.describe())
        if self.matches:
            lines.append(f"metrics match (within {TOLERANCE:g} relative): {', '.join(COMPARED)}")
        else:
            lines.append("metrics DIFFER: " + "; ".join(self.differences or [self.result.status]))
        if self.changed:
            lines.append("since the original run: " + "; ".join(self.changed))
        return "\n".join(lines)


def _close(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def reproduce(uri: str, run_id: str) -> Reproduction:
    """Train run ``run_id`` of the store at ``uri`` again; raise ConfigError (one line) when it
    is not a training run that can be rerun on its own."""
    from mlflow.exceptions import MlflowException

    client = open_client(uri)
    try:
        original = client.get_run(run_id)
    except MlflowException:
        raise ConfigError(f"RUN_ID: no run {run_id} in {uri}") from None
    tags = original.data.tags
    if names.FINAL_VAL_LOSS not in original.data.metrics or "approach" not in original.data.params:
        kind = tags.get(names.KIND, Kind.RUN)
        raise ConfigError(f"RUN_ID: {run_id} is a {kind} without a training of its own to rerun")
    if names.WARM_START in tags:
        raise ConfigError(
            f"RUN_ID: {run_id} was warm-started from run {tags[names.WARM_START]}; "
            "reproduce reruns runs trained from scratch"
        )
    experiment = client.get_experiment(original.info.experiment_id).name
    tracker = Tracker(uri, experiment)
    spec = recorded_spec(tracker, run_id)
    spec = replace(spec, tracking=TrackingSpec(uri, experiment, None))
    result = run_job(spec, kind=Kind.REPRODUCTION)
    tracker.set_tags(result.run_id, {REPRODUCES: run_id})
    new = tracker.client.get_run(result.run_id).data.metrics
    differences = [
        f"{key} {original.data.metrics[key]:.6g} then, {new.get(key, math.nan):.6g} now"
        for key in COMPARED
        if key in original.data.metrics
        and not _close(original.data.metrics[key], new.get(key, math.nan))
    ]
    then = original.data.params
    changed = [
        f"{key} {then[PREFIX + key]} -> {value}"
        for key, value in ((k[len(PREFIX) :], v) for k, v in provenance().items())
        if key in CHANGED and PREFIX + key in then and then[PREFIX + key] != value
    ]
    return Reproduction(run_id, result, differences, changed)
