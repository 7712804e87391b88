"""Every private Keras internal alphalab uses, in one place; ``tests/test_internals.py`` names in
one line any that moved. Where Keras has no public way, these are read as Keras 3.15 keeps them;
the names and the layer walk fall back to Keras's public behaviour when they are gone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fresh_names() -> Iterator[None]:
    """Keras's automatic names start again inside (``dense``, not ``dense_7``): a run's weights
    keep the names a fresh process would give them, however many models this one built before."""
    try:
        from keras.src.backend.common import global_state
        from keras.src.utils.naming import reset_uids
    except ImportError:  # a Keras without them: names as Keras gives them
        yield
        return
    saved = global_state.get_global_attribute("object_name_uids")
    reset_uids()
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


def flattened_layers(model) -> Iterator | None:
    """Keras's own complete walk of a model's layers (nested models, layers inside custom
    layers), or None where the model has none."""
    flatten = getattr(model, "_flatten_layers", None)
    return None if flatten is None else flatten(include_self=False, recursive=True)


def variable_index(optimizer, variable) -> int:
    """Where ``variable`` sits in the optimizer's per-variable slot lists."""
    return optimizer._get_variable_index(variable)


def slot_lists(optimizer) -> dict[str, list]:
    """The optimizer's per-variable slots (Adam's ``_momentums``, ``_velocities``, ...): its
    list attributes aligned with the variables it trains. Keras keeps no public map of them."""
    trained = list(getattr(optimizer, "_trainable_variables", None) or [])
    found = {}
    for attribute, value in vars(optimizer).items():
        if attribute in ("_variables", "_trainable_variables") or not isinstance(value, list):
            continue
        if trained and len(value) == len(trained) and all(hasattr(v, "assign") for v in value):
            found[attribute] = value
    return found
