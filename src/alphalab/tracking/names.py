"""alphalab's MLflow vocabulary: the names users see in the UI and tools read back."""

# Tags
ERROR = "alphalab.error"
KIND = "alphalab.kind"  # run | sweep | search | trial | reference | refine | continue | refit
ARM = "alphalab.arm"  # a refit's arm: fixed | learned | refined | tuned
JOB_KEY = "alphalab.job_key"
POPULATION = "alphalab.population"  # trained in a population of this many members
PRUNED = "alphalab.pruned"  # the epochs a pruned run trained before a rung stopped it
WARM_START = "alphalab.warm_start"  # the run whose weights a refinement started from
SWEEP_NAME = "alphalab.sweep_name"
APPROACH = "alphalab.approach"
TRIAL_ID = "alphalab.trial_id"
TUNER_STATUS = "keras_tuner.status"
PARENT = "mlflow.parentRunId"
RUN_NAME = "mlflow.runName"
NOTE = "mlflow.note.content"
VERDICT_TAG = "alphalab.verdict"  # learned | fixed | tuned | equivalent | inconclusive
INCONCLUSIVE = "alphalab.inconclusive"  # why, when it is

# Params of every run (besides the flattened config)
TRUE_REAL = "true_alpha_real"
TRUE_IMAG = "true_alpha_imag"

# Metrics of every run (``alpha_real``/``alpha_imag`` are also the params of the start alpha)
LOSS = "loss"
VAL_LOSS = "val_loss"
ALPHA_REAL = "alpha_real"
ALPHA_IMAG = "alpha_imag"
FINAL_VAL_LOSS = "final_val_loss"
LEARNED_REAL = "learned_alpha_real"
LEARNED_IMAG = "learned_alpha_imag"
ALPHA_ERROR = "alpha_error"
TRAIN_SECONDS = "train_seconds"
EPOCHS_RUN = "epochs_run"
TUNER_SCORE = "tuner_score"
BASELINE = "baseline_val_loss"  # predicting the training mean, on the same validation rows
CONVERGED = "converged"  # 1 when the validation loss had stopped falling, else 0
FINAL_TEST_LOSS = "final_test_loss"  # on the test rows no selection saw
TEST_BASELINE = "test_baseline_loss"  # predicting the training mean, on the test rows

# Artifacts
CONFIG = "config.yaml"
WEIGHTS = "weights.json"
MODEL = "model.keras"
COMPARISON = "comparison.csv"
VERDICT = "verdict.md"
LANDSCAPE = "landscape.png"
VERDICT_PLOT = "verdict.png"
TRIALS = "trials.png"
TEST_ROWS = "test_losses.json"  # a refit's loss on each test row (the verdict pairs them)
