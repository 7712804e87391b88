"""The sweeper alphalab's config selects (``hydra/sweeper: alphalab``).

Hydra's basic sweeper composes every job's config twice: once to check the whole batch before
launching, once when the job runs; the check alone costs a composition per job, all of it
before the first job (and in the launching process, where parallel workers cannot hide it).
``python -m experiments.run`` already checks every value of every swept key before Hydra starts
(``alphalab.entry.preflight``), so this sweeper skips the batch check; everything else is the
basic sweeper.
"""

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class AlphalabSweeper(BasicSweeper):
    """Hydra's basic sweeper, trusting alphalab's preflight to have checked every job."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Skip the batch check: the preflight already composed and checked every value."""
        return None
