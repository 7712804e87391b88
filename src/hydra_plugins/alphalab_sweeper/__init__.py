"""Hydra's basic sweeper without its second composition of every job (see sweeper.py)."""
