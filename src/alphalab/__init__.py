"""alphalab: should a complex coefficient alpha in a Keras model be a fixed hyperparameter or a
learned weight? The package reads top to bottom as a run goes through it:

config/ (specs) -> formulas, layers (the Keras pieces) -> data -> model/ -> tracking/ (MLflow)
-> results/ (verdicts) -> engine/ (fit, job, sweep, search) -> entry/ (Hydra and commands).
Imports only go down that list (``tests/test_architecture.py`` checks it).
"""
