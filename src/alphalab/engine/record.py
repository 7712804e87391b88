"""What one training run leaves in MLflow, assembled in one place for jobs and search trials:
its key, name, params, per-epoch and final metrics, and artifacts."""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml

from alphalab.config import names as config_names
from alphalab.config.spec import Alpha, RunSpec, flatten
from alphalab.tracking import names
from alphalab.tracking.store import Tracker


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
    if spec.approach == "trainable":
        alpha = f"α {start} → {Alpha(*learned)}" if learned else f"α₀ {start}"
    else:
        alpha = f"α {start}"
    return f"{spec.approach} {alpha} · seed {spec.seed}"


def run_params(spec: RunSpec) -> dict[str, Any]:
    """The contract's params, plus the rest of the resolved config flattened with dotted keys."""
    params = flatten(spec.config)
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
    return params


def run_metrics(
    spec: RunSpec, history: dict[str, list[float]], learned: Alpha, seconds: float
) -> list[tuple[str, float, int]]:
    """Per-epoch metrics (step = epoch) and the final ones, as ``(key, value, step)``."""
    metrics = [
        (key, value, step) for key, values in history.items() for step, value in enumerate(values)
    ]
    val_losses = history.get(names.VAL_LOSS) or [math.nan]
    metrics += [
        (names.FINAL_VAL_LOSS, val_losses[-1], 0),
        (names.LEARNED_REAL, learned.real, 0),
        (names.LEARNED_IMAG, learned.imag, 0),
        (names.TRAIN_SECONDS, seconds, 0),
        (names.EPOCHS_RUN, len(history.get(names.LOSS, [])), 0),
    ]
    if spec.task.true_alpha is not None:
        metrics.append((names.ALPHA_ERROR, learned.distance(spec.task.true_alpha), 0))
    return metrics


def write_artifacts(folder: Path, spec: RunSpec, model) -> None:
    """``config.yaml`` (resolved), ``weights.json`` (every weight by name) and ``model.keras``."""
    from alphalab.model.build import weights_by_name

    (folder / names.CONFIG).write_text(yaml.safe_dump(spec.config, sort_keys=False))
    (folder / names.WEIGHTS).write_text(json.dumps(weights_by_name(model), indent=2))
    model.save(folder / names.MODEL)


def log_artifacts(tracker: Tracker, run_id: str, spec: RunSpec, model) -> None:
    """Write the run's artifacts and upload them."""
    with tempfile.TemporaryDirectory(prefix="alphalab-") as folder:
        write_artifacts(Path(folder), spec, model)
        tracker.log_artifacts(run_id, Path(folder))
