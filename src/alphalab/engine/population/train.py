"""Fit a population and keep each member's history as its single run would: ``loss``,
``val_loss`` and (learned members) ``alpha_real``/``alpha_imag`` per epoch; a member whose value
turns non-finite stops there with the single run's error, its weights and optimizer state taken
at that epoch."""

from __future__ import annotations

import time

import keras
import numpy as np
from keras import ops

from alphalab.config.names import learns
from alphalab.config.spec import RunSpec
from alphalab.engine.fit import PreparedData, dataset, fit_on, nothing_to_train_is_fine
from alphalab.engine.outcome import FitOutcome, nonfinite
from alphalab.engine.population.export import Layout, slot_lists
from alphalab.model.build import ALPHA_LAYER, HEAD_LAYER, alpha_of
from alphalab.tracking import names


class Members:
    """Where every member's single-run variables live in the population's model: for each
    member, each weight of its single-run model as (population variable, row), where row None
    means the whole variable (a copy's own) and a number that member's row of a shared one."""

    def __init__(
        self,
        model: keras.Model,
        members: list[RunSpec],
        built: list | None,
        layouts: list[Layout],
    ):
        """``built``: the copies (None when vectorised); ``layouts``: each member's single-run
        model's variables."""
        self.model, self.members, self.built, self.layouts = model, members, built, layouts
        self.learned = [learns(m.approach) for m in members]
        if built is not None:
            self.locations = [[(w, None) for w in copy.weights] for copy in built]
        else:
            layer = model.get_layer(ALPHA_LAYER)
            head = next((x.kernel for x in model.layers if x.name == HEAD_LAYER), None)
            self.locations = []
            for k, layout in enumerate(layouts):
                alpha = (
                    (layer.learned, k)
                    if k < layer.n_learned
                    else (layer.tuned, k - layer.n_learned)
                )  # a fixed member has no alpha weight
                where = {ALPHA_LAYER: alpha, HEAD_LAYER: (head, k)}
                self.locations.append([where[path.split("/")[0]] for path in layout.paths])

    def alphas(self) -> list[tuple[float, float] | None]:
        """Each member's alpha now (None for a fixed one)."""
        if self.built is None:
            layer = self.model.get_layer(ALPHA_LAYER)
            moving = [ops.convert_to_numpy(layer.learned), ops.convert_to_numpy(layer.tuned)]
            rows = np.concatenate(moving, axis=0)
            return [tuple(rows[k]) if learned else None for k, learned in enumerate(self.learned)]
        return [
            alpha_of(copy) if learned else None
            for copy, learned in zip(self.built, self.learned, strict=True)
        ]

    def snapshot(self, which: list[int]) -> dict[int, tuple[dict, list]]:
        """Members ``which``'s weights (by single-run path) and optimizer variables (in the
        single-run optimizer's order), as they are now."""
        values: dict[int, np.ndarray] = {}

        def value(variable, row):
            if id(variable) not in values:
                values[id(variable)] = ops.convert_to_numpy(variable)
            whole = values[id(variable)]
            return whole if row is None else whole[row]

        optimizer = self.model.optimizer
        slots = slot_lists(optimizer)
        own = {variable.name: variable for variable in optimizer.variables}
        out = {}
        for k in which:
            layout, located = self.layouts[k], self.locations[k]
            weights = {path: value(*located[i]) for i, path in enumerate(layout.paths)}
            position = {path: i for i, path in enumerate(layout.paths)}
            state = []
            for slot in layout.slots:
                if slot.attribute is None:
                    state.append(value(own[slot.name], None))
                    continue
                variable, row = located[position[layout.trained_path[slot.index]]]
                index = optimizer._get_variable_index(variable)
                state.append(value(slots[slot.attribute][index], row))
            out[k] = (weights, state)
        return out

    def warm_start(self, starts: dict[int, dict[str, list]]) -> None:
        """Give members their starting weights (``{member: {single-run path: value}}``); a
        ValueError when the shapes do not match the member's model."""
        changed: dict[int, tuple] = {}
        for k, weights in starts.items():
            position = {path: i for i, path in enumerate(self.layouts[k].paths)}
            for path, given in weights.items():
                if path.split("/")[0] == ALPHA_LAYER:
                    continue  # alpha starts where the run says
                if path not in position:
                    raise ValueError(f"the start has a weight {path} the model does not have")
                variable, row = self.locations[k][position[path]]
                if id(variable) not in changed:
                    changed[id(variable)] = (variable, ops.convert_to_numpy(variable).copy())
                whole = changed[id(variable)][1]
                target = whole if row is None else whole[row]
                given = np.asarray(given, dtype=whole.dtype)
                if target.shape != given.shape:
                    raise ValueError(f"{path} has shape {target.shape}, the start {given.shape}")
                if row is None:
                    whole[...] = given
                else:
                    whole[row] = given
        for variable, whole in changed.values():
            variable.assign(whole)


class MemberRecorder(keras.callbacks.Callback):
    """Per-member epochs; a member whose value is not finite stops there (its snapshot is taken
    at that epoch), and the fit stops once every member has."""

    def __init__(self, members: Members):
        super().__init__()
        self.members = members
        self.outcomes = [FitOutcome() for _ in members.members]

    def on_epoch_end(self, epoch, logs=None):
        """Record every live member's epoch; stop one whose value is not finite."""
        losses = np.asarray(logs["member_loss"], dtype="float32")
        val_losses = np.asarray(logs["val_member_loss"], dtype="float32")
        alphas, stopped = self.members.alphas(), []
        for k, outcome in enumerate(self.outcomes):
            if outcome.error is not None:  # stopped at an earlier epoch
                continue
            values = {names.LOSS: float(losses[k]), names.VAL_LOSS: float(val_losses[k])}
            if alphas[k] is not None:
                values[names.ALPHA_REAL], values[names.ALPHA_IMAG] = map(float, alphas[k])
            for key, value in values.items():
                outcome.history.setdefault(key, []).append(value)
            outcome.error = nonfinite(values, epoch)
            if outcome.error is not None:
                stopped.append(k)
        for k, (weights, state) in self.members.snapshot(stopped).items():
            self.outcomes[k].weights, self.outcomes[k].optimizer = weights, state
        if all(outcome.error is not None for outcome in self.outcomes):
            self.model.stop_training = True


def fit_population(
    model: keras.Model, members: Members, data: PreparedData, spec: RunSpec
) -> list[FitOutcome]:
    """Fit on the members' common data, batches in their single runs' order; returns each
    member's outcome, its ``seconds`` its share of the fit."""
    recorder = MemberRecorder(members)
    stacked = spec.output == "stacked"
    if not model.optimizer.built:  # as after a single run's fit: every slot exists
        model.optimizer.build(model.trainable_variables)
    start = time.perf_counter()
    with nothing_to_train_is_fine():
        fit_on(
            model.fit,
            data.train,
            data.validation,
            spec.train.batch_size,
            spec.train.epochs,
            spec.seed,
            stacked,
            with_validation_batches=model.tunes,
            callbacks=[recorder],
        )
    share = (time.perf_counter() - start) / len(recorder.outcomes)
    if data.test is not None:  # scored once, at the end, on rows the fit never saw
        with nothing_to_train_is_fine():
            logs = model.evaluate(
                dataset(data.test, spec.train.batch_size, stacked), verbose=0, return_dict=True
            )
        for outcome, loss in zip(recorder.outcomes, np.asarray(logs["member_loss"]), strict=True):
            outcome.test_loss = float(loss)
    live = [k for k, outcome in enumerate(recorder.outcomes) if outcome.weights is None]
    for k, (weights, state) in members.snapshot(live).items():
        recorder.outcomes[k].weights, recorder.outcomes[k].optimizer = weights, state
    for outcome in recorder.outcomes:
        outcome.seconds = share
    return recorder.outcomes
