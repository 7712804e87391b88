"""A population's compiled model: built for its members, or reused from an earlier population of
the same shape in this process (tracing costs more than a whole small fit)."""

from __future__ import annotations

import keras
from keras import ops

from alphalab.config import ConfigError
from alphalab.config.names import Approach
from alphalab.config.spec import RunSpec
from alphalab.engine.population.model import PopulationModel, copies, parts_of, vectorised
from alphalab.model.compile import training_optimizer
from alphalab.session import State


def regularised(model) -> bool:
    """Whether the model adds losses of its own (weight or activity regularisers)."""
    from alphalab.model.build import all_layers

    kinds = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")
    return any(getattr(layer, kind, None) for layer in all_layers(model) for kind in kinds)


class SharingRefused(Exception):
    """These members cannot train as one population (a member's own losses would not stay its
    own); train each alone."""


def _build(members: list[RunSpec], input_shape: tuple, has_imag: bool, seeds: list[int]):
    """The uncompiled population model and the copies (None when vectorised): a population
    of one, or of a user's model, is copies; else vectorised where the formula broadcasts."""
    first = members[0]
    graph = None
    if first.model.builder is None and len(members) > 1:
        graph = vectorised(members, input_shape, has_imag)
    built = None
    if graph is None:
        *graph, built = copies(members, input_shape, has_imag, seeds)
        if len(members) > 1 and any(map(regularised, built)):
            raise SharingRefused
    try:
        model = PopulationModel(
            *graph,
            members=len(members),
            loss=first.train.loss,
            parts=parts_of(first, has_imag),
            name="population",
        )
    except ValueError as exc:
        raise ConfigError(f"model: cannot train these jobs as one population: {exc}") from None
    return model, built


# Tracing a model's train and test functions costs more than a whole small fit. Populations of
# one process with the same shape (the same architecture, members' approaches and budget; for
# copies of a Lambda also the same fixed alphas, constants of the graph) therefore share one
# compiled model, given the weights a fresh build would have before each fit. A reset drops
# them (the next population traces again).
_COMPILED: State[dict[str, tuple]] = State("engine.population.compiled.models", dict)
_MAX_COMPILED = 64


def _shape_key(members: list[RunSpec], copied: bool, input_shape: tuple, has_imag: bool, steps):
    first = members[0]
    shape = [
        (m.approach, tuple(m.alpha) if copied and m.approach == Approach.LAMBDA else None)
        for m in members
    ]
    return repr((shape, first.formula, first.model, first.train, input_shape, has_imag, steps))


def compile_population(model: keras.Model, spec: RunSpec, total_steps: int) -> None:
    """Compile as each member's single run is compiled (loss aside: the model computes it)."""
    train = spec.train
    chosen = training_optimizer(
        model,
        train.optimizer,
        train.learning_rate,
        train.schedule,
        total_steps,
        train.alpha_learning_rate,
    )
    # A tuned alpha's step (two forward passes under one persistent tape) inside Keras's
    # multi-step loop came out differently from run to run here (about 1 in 4 fits, 1e-3
    # relative): tuned populations run one step per call, which is deterministic.
    steps = 1 if model.tunes else train.steps_per_execution
    model.compile(optimizer=chosen, steps_per_execution=steps, jit_compile=False)


def population_model(
    members: list[RunSpec], input_shape: tuple, has_imag: bool, steps: int, seeds: list[int]
):
    """The population's compiled model in the state a fresh build would have (member k's
    copy built from ``seeds[k]``), and for copies the copies (None when vectorised). Members
    must be ordered learned first. Raises SharingRefused for members that cannot share one
    model."""
    fresh, built = _build(members, input_shape, has_imag, seeds)
    key = _shape_key(members, built is not None, input_shape, has_imag, steps)
    compiled = _COMPILED.get()
    cached = compiled.get(key)
    if cached is None:
        compile_population(fresh, members[0], steps)
        if len(compiled) >= _MAX_COMPILED:
            compiled.pop(next(iter(compiled)))
        compiled[key] = (fresh, built)
        return fresh, built
    model, cached_built = cached
    model.set_weights(fresh.get_weights())
    for variable in model.optimizer.variables:
        if variable.name != "learning_rate":  # a constant rate is a variable too: keep it
            variable.assign(ops.zeros_like(variable))
    return model, cached_built
