"""Stage 3: fit models and run jobs, sweeps and searches, recording each in MLflow."""
