"""What one training run leaves in MLflow, described in one place for every run alphalab trains
(single runs, sweep jobs, population members, refinements, search trials, a search's reference,
reproductions): ``describe`` turns a run's ``Job`` and its fit's outcome into the ``RunRecord``
that ``alphalab.tracking.runs.RunWriter`` writes. To add a field to every run, add it here.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alphalab.config import names as config_names
from alphalab.config.names import Kind, Status, learns
from alphalab.config.spec import Alpha, RunSpec, flatten
from alphalab.engine.outcome import FitOutcome
from alphalab.engine.provenance import provenance
from alphalab.session import State
from alphalab.tracking import names
from alphalab.tracking.mlflow_internals import dataset_entity
from alphalab.tracking.runs import RunRecord


@dataclass
class WarmStart:
    """Every weight but alpha's, taken from another run (its ``weights.json``)."""

    run_id: str
    job_key: str
    weights: dict[str, list]


@dataclass
class Job:
    """One run to train and record: its spec, what kind of run it is, and what only that kind
    has (a trial's id, a refinement's warm start, a trial's several executions)."""

    spec: RunSpec
    kind: Kind = Kind.RUN
    key: str = ""  # identifies the job within its parent (resume); default: from its config
    warm_start: WarmStart | None = None
    executions: int = 1  # a search trial's executions_per_trial: trained side by side, averaged
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # before the run's name, e.g. "trial 03 · "

    def __post_init__(self) -> None:
        if not self.key:
            self.key = job_key(self.spec.config)
            if self.warm_start is not None:
                self.key = f"{self.kind}-{self.warm_start.job_key}"


AFTER_THE_GRID = (Kind.REFINE, Kind.CONTINUE, Kind.REFIT)  # jobs a sweep adds once its grid is done


def of_the_grid(key: str) -> bool:
    """Whether a finished job key is one of the sweep's own jobs (not a refinement, a refit or a
    continuation, whose keys start with their kind)."""
    return key.split("-", 1)[0] not in AFTER_THE_GRID


def job_key(config: dict[str, Any]) -> str:
    """Identifies a job's computation (approach, alpha, task, model, training, seed) in a sweep."""
    content = {
        key: value
        for key, value in flatten(config).items()
        if key.split(".")[0] not in config_names.NOT_PART_OF_JOB
    }
    return hashlib.sha1(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_name(spec: RunSpec, learned: tuple[float, float] | None = None) -> str:
    """``lambda α 0.6+2.2i · seed 0``; ``trainable α 1+1.5i → 0.493+2i · seed 0`` once learned."""
    start = str(spec.alpha)
    if learns(spec.approach):
        alpha = f"α {start} → {Alpha(*learned)}" if learned else f"α₀ {start}"
    else:
        alpha = f"α {start}"
    return f"{spec.approach} {alpha} · seed {spec.seed}"


def run_params(spec: RunSpec, data: dict[str, str] | None = None) -> dict[str, Any]:
    """The contract's params, plus the rest of the resolved config flattened with dotted keys,
    what the run records about its data, and its provenance (``provenance.*``)."""
    params = {**flatten(spec.config), **(data or {}), **provenance()}
    params.update(
        approach=spec.approach,
        formula=spec.formula.name,
        task=spec.task.name,
        alpha_real=spec.alpha.real,
        alpha_imag=spec.alpha.imag,
        seed=spec.seed,
    )
    if spec.task.true_alpha is not None:
        params[names.TRUE_REAL], params[names.TRUE_IMAG] = spec.task.true_alpha
    if spec.task.fold is not None:
        params["fold"] = spec.task.fold
    return params


# A run has converged unless, over the last CONVERGED_BUDGET of its learning-rate budget (under a
# cosine schedule that is the last ~40% of its epochs, which get 90% less rate than the first),
# its validation loss still fell by more than CONVERGED_DROP of its final value, or its learned
# alpha still moved by more than ALPHA_MOVE * max(1, |alpha|). A window of plain epochs would be
# blind under a cosine schedule: its last epochs barely move anything, converged or not.
CONVERGED_BUDGET = 0.1
CONVERGED_DROP = 0.02
ALPHA_MOVE = 0.01


# The fraction s of a cosine schedule's steps that spends 90% of its learning-rate budget
# (the budget spent by fraction s is s + sin(pi s) / pi).
COSINE_SPENT_90 = next(
    k / 1000 for k in range(1001) if k / 1000 + math.sin(math.pi * k / 1000) / math.pi >= 0.9
)


def window_start(epochs: int, schedule: str) -> int:
    """The first epoch of the last ``CONVERGED_BUDGET`` of the learning-rate budget."""
    if schedule != "cosine":
        return max(0, epochs - max(2, math.ceil(CONVERGED_BUDGET * epochs)))
    return min(int(COSINE_SPENT_90 * epochs), max(0, epochs - 2))


def converged(history: dict[str, list[float]], schedule: str) -> bool:
    """Whether the validation loss and the learned alpha had settled by the end of the run."""
    losses = history.get(names.VAL_LOSS) or history.get(names.LOSS, [])  # a refit: no validation
    start = max(window_start(len(losses), schedule), 1)
    window = losses[start - 1 :]
    if len(window) < 2 or not all(map(math.isfinite, window)):
        return False  # too short to tell, or diverged
    if window[0] - window[-1] > CONVERGED_DROP * abs(window[-1]):
        return False
    reals, imags = history.get(names.ALPHA_REAL), history.get(names.ALPHA_IMAG)
    if reals and imags:
        moved = Alpha(reals[-1], imags[-1]).distance((reals[start - 1], imags[start - 1]))
        return moved <= ALPHA_MOVE * max(1.0, abs(complex(reals[-1], imags[-1])))
    return True


def run_metrics(
    spec: RunSpec,
    history: dict[str, list[float]],
    learned: Alpha,
    seconds: float,
    baseline: float,
) -> list[tuple[str, float, int]]:
    """Per-epoch metrics (step = epoch) and the final ones, as ``(key, value, step)``."""
    metrics = [
        (key, value, step) for key, values in history.items() for step, value in enumerate(values)
    ]
    if spec.validated:  # a refit has no validation rows: no validation figures
        val_losses = history.get(names.VAL_LOSS) or [math.nan]
        metrics += [(names.FINAL_VAL_LOSS, val_losses[-1], 0), (names.BASELINE, baseline, 0)]
    metrics += [
        (names.LEARNED_REAL, learned.real, 0),
        (names.LEARNED_IMAG, learned.imag, 0),
        (names.TRAIN_SECONDS, seconds, 0),
        (names.EPOCHS_RUN, len(history.get(names.LOSS, [])), 0),
        (names.CONVERGED, float(converged(history, spec.train.schedule)), 0),
    ]
    if spec.task.true_alpha is not None:
        metrics.append((names.ALPHA_ERROR, learned.distance(spec.task.true_alpha), 0))
    return metrics


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's where installed
_VARYING = (("approach", "name"), ("alpha", "real"), ("alpha", "imag"), ("seed",))
_MARK = "alphalab-config-value-{}"
# A config's text with its varying values marked, by the rest; a reset drops them (dumped again).
_LAYOUTS: State[dict[str, str]] = State("engine.record.layouts", dict)


def config_yaml(spec: RunSpec) -> str:
    """The resolved config as ``config.yaml`` holds it. A population writes thousands that
    differ only in approach, alpha and seed: the text of the rest is dumped once and those
    values written into it, as the dumper writes each of them alone."""
    config, values = dict(spec.config), []
    for i, path in enumerate(_VARYING):
        node = config
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                break
            node[key] = node = dict(node[key])
        else:
            if isinstance(node.get(path[-1]), (str, int, float)) and path[-1] in node:
                values.append(node[path[-1]])
                node[path[-1]] = _MARK.format(i)
                continue
        values.append(None)
    key, layouts = repr(config), _LAYOUTS.get()
    if key not in layouts:
        if len(layouts) >= 64:
            layouts.pop(next(iter(layouts)))
        layouts[key] = yaml.dump(config, Dumper=_DUMPER, sort_keys=False)
    text = layouts[key]
    for i, value in enumerate(values):
        if value is not None:
            scalar = yaml.dump(value, Dumper=_DUMPER).removesuffix("\n...\n").rstrip("\n")
            text = text.replace(_MARK.format(i), scalar, 1)
    return text


def dataset_inputs(spec: RunSpec, data) -> list:
    """What the run trained, selected and was scored on, as MLflow's dataset inputs: one per
    part (training, validation, test), named after the task, with each part's digest and tags
    saying the context and how the rows were split (``data``: ``engine.fit.PreparedData``)."""
    import numpy as np
    from mlflow.data import from_numpy
    from mlflow.entities import DatasetInput, InputTag

    task = spec.task
    split = f"{task.split}, test {task.test_split:g}"
    if task.folds > 1:
        split += f", fold {task.fold} of {task.folds}"
    else:
        split += f", validation {spec.train.validation_split:g} of the rest"
    out = []
    for context, part in (
        ("training", data.train),
        ("validation", data.validation),
        ("test", data.test),
    ):
        if part is None:
            continue
        targets = np.concatenate(list(part.parts().values()), axis=-1)
        dataset = from_numpy(part.x, targets=targets, name=task.name, digest=part.digest())
        tags = [InputTag("mlflow.data.context", context), InputTag("alphalab.split", split)]
        out.append(DatasetInput(dataset_entity(dataset), tags))
    return out


def describe(
    job: Job,
    data_params: dict[str, str],
    baseline: float,
    outcome: FitOutcome | None = None,
    *,
    test_baseline: float = math.nan,
    population: int = 1,
    inputs: list | None = None,
    files: Callable[[Path], None] | None = None,
    final_metrics: dict[str, float] | None = None,
    final_tags: dict[str, str] | None = None,
) -> RunRecord:
    """The run's record: as it is opened (without ``outcome``: name, tags, params), or whole,
    after its fit (``outcome``), with the artifacts ``files`` writes and what the kind adds at
    the end (a trial's ``tuner_score`` and keras-tuner status)."""
    spec = job.spec
    tags = {names.KIND: job.kind, names.JOB_KEY: job.key, names.APPROACH: spec.approach}
    params = {**run_params(spec, data_params), **job.params}
    tags.update(job.tags)
    if job.warm_start is not None:
        tags[names.WARM_START] = params["warm_start"] = job.warm_start.run_id
    if population > 1:
        tags[names.POPULATION] = str(population)
    record = RunRecord(job.label + run_name(spec), tags, params, inputs=list(inputs or []))
    if outcome is None:
        return record
    learned = outcome.learned(spec.alpha)
    shown = learned if learns(spec.approach) and outcome.history else None
    record.name = job.label + run_name(spec, shown)
    record.metrics = run_metrics(spec, outcome.history, learned, outcome.seconds, baseline)
    if math.isfinite(test_baseline):  # the run has test rows
        record.metrics += [
            (names.FINAL_TEST_LOSS, outcome.test_loss, 0),
            (names.TEST_BASELINE, test_baseline, 0),
        ]
    record.metrics += [(key, value, 0) for key, value in (final_metrics or {}).items()]
    record.final_tags = dict(final_tags or {})
    if outcome.pruned_at is not None:
        record.final_tags[names.PRUNED] = str(outcome.pruned_at)
    if outcome.crash:
        record.status, record.error = Status.FAILED, outcome.crash
    elif outcome.error:
        record.status, record.error = Status.FAILED, f"diverged: {outcome.error}"
    else:
        record.status = Status.FINISHED
    record.files = files if outcome.weights is not None else None
    return record
