"""Every list of names the configuration may use, in one place and free of TensorFlow.

The modules that map a name to code (``alphalab.formulas``, ``alphalab.model.compile``) check
their tables against these lists, so the config check and the code cannot drift apart.
"""

from __future__ import annotations

APPROACHES = ("lambda", "trainable")
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

TUNERS = ("random", "bayesian", "hyperband", "grid")
OBJECTIVES = ("val_loss", "loss")
SAMPLINGS = ("linear", "log")
# What each tuner needs at run time beyond keras-tuner itself (found without importing it).
TUNER_NEEDS = {
    "random": ("tensorboard",),
    "grid": ("tensorboard",),
    "hyperband": ("tensorboard",),
    "bayesian": ("tensorboard", "scipy", "sklearn"),
}

# Config sections that say where and how a job is recorded, not what it computes.
NOT_PART_OF_JOB = ("sweep", "search", "tracking", "experiment_name")
