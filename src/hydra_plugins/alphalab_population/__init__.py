"""The population launcher (``hydra/launcher=population``): a sweep's jobs trained together."""
