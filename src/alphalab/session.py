"""The state alphalab keeps for the life of a process, in one object that ``clear_session()``
resets, as ``keras.utils.clear_session()`` resets Keras's (``keras.src.backend.common.
global_state``).

A module declares each piece of its state once, as a ``State``, and reads it where it uses it::

    _COMPILED = State("engine.population.compiled.models", dict)  # a name at module level

    def population_model(...):
        compiled = _COMPILED.get()  # this session's dict, made on first use

The values live in the one process-wide ``Session``, never in the modules, so a reset cannot
miss one, and nothing that is pickled (a ``Tracker`` handed to submitit's workers) carries them.
``clear_session()`` gives every state a fresh value; a state whose old value must not simply be
dropped names an ``on_clear`` that is called with it first (open sweeps: their parent runs are
closed KILLED). Call it between sweeps, never during one. This module imports nothing of
alphalab: every stage may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class State(Generic[T]):
    """One named piece of process-wide state, declared at module level; its value lives in the
    process's ``Session``.

    Args:
        name: unique, the declaring module's path and what it holds
            (``"data.sources.task_data"``).
        factory: makes the empty value (``dict``, ``set``, ``list``).
        on_clear: what a reset must do with the old value before dropping it (close what it
            holds open); None: just drop it.
    """

    name: str
    factory: Callable[[], T]
    on_clear: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        _SESSION.declare(self)

    def get(self) -> T:
        """This session's value (made empty on first use after a reset)."""
        return _SESSION.value(self)


class Session:
    """Every declared ``State`` and, for those used since the last reset, its value."""

    def __init__(self) -> None:
        self.declared: dict[str, State] = {}  # declarations outlive a reset; values do not
        self._values: dict[str, Any] = {}

    def declare(self, state: State) -> None:
        """Record ``state`` (declared again under its name, as a module reload does, it replaces
        the first; ``tests/test_session.py`` checks that no two modules share a name)."""
        self.declared[state.name] = state

    def value(self, state: State[T]) -> T:
        """``state``'s value, made on first use (with ``setdefault``: threads asking at once
        share one)."""
        found = self._values.get(state.name)
        if found is None:
            found = self._values.setdefault(state.name, state.factory())
        return found

    def clear(self) -> None:
        """Run each ``on_clear`` on its value (all values still in place), then drop them all."""
        for name, state in list(self.declared.items()):
            if state.on_clear is not None and name in self._values:
                state.on_clear(self._values[name])
        self._values = {}


_SESSION = Session()


def current() -> Session:
    """The process's session (its declared states, for tests and for a look inside)."""
    return _SESSION


def clear_session() -> None:
    """Reset alphalab's process-wide state, as a fresh process would have it: every cache
    emptied (compiled population models, model templates, task data, trackers, composed configs,
    checks passed), every sweep this process left open closed KILLED first, as at an interrupted
    exit. For tests and notebooks; call it between sweeps, never during one. Keras's own state is
    separate: ``keras.utils.clear_session()``."""
    _SESSION.clear()
