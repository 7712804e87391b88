"""Every list of names the configuration may use, in one place and free of TensorFlow.

The modules that map a name to code (``alphalab.formulas``, ``alphalab.model.compile``) check
their tables against these lists, so the config check and the code cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class Approach(StrEnum):
    """How alpha enters the model (config ``approach``)."""

    LAMBDA = "lambda"  # a keras.layers.Lambda with alpha as constants
    TRAINABLE = "trainable"  # ComplexAlpha, alpha learned by backpropagation
    TUNED = "tuned"  # ComplexAlpha, alpha a hyperparameter tuned by gradient on validation rows


def learns(approach: str) -> bool:
    """Whether alpha moves during the fit (learned on training rows, or tuned on validation)."""
    return approach in (Approach.TRAINABLE, Approach.TUNED)


class Kind(StrEnum):
    """What a run in MLflow is (tag ``alphalab.kind``)."""

    RUN = "run"  # a training run: a single run or a job of a sweep
    SWEEP = "sweep"  # a sweep's parent
    SEARCH = "search"  # a search's parent
    TRIAL = "trial"  # a keras-tuner trial
    REFERENCE = "reference"  # a search's trainable run on the same task and seed
    REFINE = "refine"  # learned from one of the best grid cells, warm-started (sweep.refine)
    CONTINUE = "continue"  # an arm's selected run trained on as long again (equal budgets)
    REFIT = "refit"  # an arm's chosen configuration trained on every non-test row of a seed
    REPRODUCTION = "reproduction"  # a logged run trained again (experiments.reproduce)


class Arm(StrEnum):
    """What a verdict compares: a fixed-alpha grid and the ways of learning alpha."""

    FIXED = "fixed"  # alpha fixed, at each grid point (or each search trial)
    LEARNED = "learned"  # alpha learned from the grid's starts
    REFINED = "refined"  # alpha learned from the best grid cells, warm-started
    TUNED = "tuned"  # alpha tuned on validation batches while the rest trains on training ones


def arm_of(approach: str, kind: str, arm: str | None = None) -> Arm:
    """The arm a run belongs to: the one mapping from approach and kind (a refit says its
    arm: the refined arm's refit learns as the learned arm's does)."""
    if arm:
        return Arm(arm)
    if approach == Approach.LAMBDA:
        return Arm.FIXED
    if approach == Approach.TUNED:
        return Arm.TUNED
    return Arm.REFINED if kind == Kind.REFINE else Arm.LEARNED


class Verdict(StrEnum):
    """What a comparison concluded (tag ``alphalab.verdict``)."""

    LEARNED = "learned"  # the learned alpha is better on test rows, beyond the ROPE
    FIXED = "fixed"  # the fixed (or searched) alpha is
    TUNED = "tuned"  # alpha tuned on validation rows is
    EQUIVALENT = "equivalent"  # the interval lies inside the ROPE: practically equal
    INCONCLUSIVE = "inconclusive"  # the evidence cannot say (the verdict says why)


class Status(StrEnum):
    """A run's status, as MLflow spells it."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


APPROACHES = tuple(Approach)
HEADS = ("none", "gain")
OUTPUTS = ("pair", "stacked")

FORMULAS = ("scaled", "complex_gain", "oscillation")
BASIS_FUNCTIONS = ("sin", "cos", "tanh", "exp", "identity", "square")
FORMULA_OF_TASK = "task"  # formula=task: model the data with the formula that generated it

TASK_KINDS = ("synthetic", "file", "loader")
X_DISTRIBUTIONS = ("uniform", "normal")
STANDARDIZE = ("none", "x", "y", "both")
SPLITS = ("random", "last")
DATA_SUFFIXES = (".csv", ".npz")

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
# Losses the config check accepts without importing Keras; any other name is checked against
# keras.losses.get before training (which costs the TensorFlow import).
PLAIN_LOSSES = ("mse", "mae")
SCHEDULES = ("cosine", "constant")

OBJECTIVES = ("val_loss", "loss")
SAMPLINGS = ("linear", "log")

# Config sections that say where and how a job is recorded, not what it computes.
NOT_PART_OF_JOB = ("sweep", "search", "tracking", "experiment_name")


class Engine(StrEnum):
    """Where the population launcher trains its populations (``hydra.launcher.engine``)."""

    LOCAL = "local"  # in the launching process, one population after another
    RAY = "ray"  # each shard a Ray task (a local instance, or a cluster by address)
    SUBMITIT_LOCAL = "submitit_local"  # each shard a submitit job in a local process
    SUBMITIT_SLURM = "submitit_slurm"  # each shard a SLURM job (an array task)


# The optional extra (pyproject.toml) each engine needs, and the module that shows it is there.
ENGINE_EXTRAS = {
    Engine.RAY: ("ray", "ray"),
    Engine.SUBMITIT_LOCAL: ("slurm", "submitit"),
    Engine.SUBMITIT_SLURM: ("slurm", "submitit"),
}
