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
from alphalab.config.spec import PruneSpec, RunSpec
from alphalab.engine.fit import nothing_to_train_is_fine, pipelines
from alphalab.engine.interrupt import interruptible
from alphalab.engine.outcome import FitOutcome, nonfinite
from alphalab.engine.population.export import Layout
from alphalab.engine.population.prune import rank
from alphalab.engine.population.score import score_test
from alphalab.model.build import ALPHA_LAYER, HEAD_LAYER, alpha_of
from alphalab.model.keras_internals import slot_lists, variable_index
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
                self.locations.append([where[layer_of(path)] for path in layout.paths])

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
                index = variable_index(optimizer, variable)
                state.append(value(slots[slot.attribute][index], row))
            out[k] = (weights, state)
        return out

    def warm_start(self, starts: dict[int, dict[str, list]]) -> None:
        """Give members their starting weights (``{member: {single-run path: value}}``); a
        ValueError when the shapes do not match the member's model."""
        changes = _Changes()
        for k, weights in starts.items():
            position = {path: i for i, path in enumerate(self.layouts[k].paths)}
            for path, given in weights.items():
                if layer_of(path) == ALPHA_LAYER:
                    continue  # alpha starts where the run says
                if path not in position:
                    raise ValueError(f"the start has a weight {path} the model does not have")
                changes.put(*self.locations[k][position[path]], given, path)
        changes.assign()

    def restore(self, states: dict[int, tuple[dict, list]]) -> None:
        """Put members where ``snapshot`` found them (``{member: (weights, optimizer state)}``,
        as another population's members): every weight, alpha's too, and the optimizer's
        slots and counters, so that training goes on as if never interrupted."""
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        slots = slot_lists(optimizer)
        own = {variable.name: variable for variable in optimizer.variables}
        changes = _Changes()
        for k, (weights, state) in states.items():
            layout, located = self.layouts[k], self.locations[k]
            for i, path in enumerate(layout.paths):
                changes.put(*located[i], weights[path], path)
            position = {path: i for i, path in enumerate(layout.paths)}
            for slot, value in zip(layout.slots, state, strict=True):
                if slot.attribute is None:
                    changes.put(own[slot.name], None, value, slot.name)
                    continue
                variable, row = located[position[layout.trained_path[slot.index]]]
                index = variable_index(optimizer, variable)
                changes.put(slots[slot.attribute][index], row, value, slot.name)
        changes.assign()


def layer_of(path: str) -> str:
    """The name of the layer that owns the single-run weight at ``path``: ``alpha`` for
    ``alpha/kernel``, and for ``sequential/alpha/kernel`` too (the built-in model with
    ``model.output=stacked`` is a Sequential, which puts its own name before its layers')."""
    return path.split("/")[-2]


class _Changes:
    """New values for whole variables or members' rows of them, assigned at once."""

    def __init__(self):
        self.values: dict[int, tuple] = {}

    def put(self, variable, row: int | None, value, name: str) -> None:
        """``value`` for ``variable`` (``row`` None) or its row ``row``; a ValueError when
        the shapes differ."""
        if id(variable) not in self.values:
            self.values[id(variable)] = (variable, ops.convert_to_numpy(variable).copy())
        whole = self.values[id(variable)][1]
        target = whole if row is None else whole[row]
        value = np.asarray(value, dtype=whole.dtype)
        if target.shape != value.shape:
            raise ValueError(f"{name} has shape {target.shape}, the start {value.shape}")
        if row is None:
            whole[...] = value
        else:
            whole[row] = value

    def assign(self) -> None:
        for variable, whole in self.values.values():
            variable.assign(whole)


class MemberRecorder(keras.callbacks.Callback):
    """Per-member epochs into ``outcomes`` (one per member of ``members``, in order); a member
    whose value is not finite stops there (its snapshot is taken at that epoch), and the fit
    stops once every member has."""

    def __init__(self, members: Members, outcomes: list[FitOutcome]):
        super().__init__()
        self.members, self.outcomes = members, outcomes

    def on_epoch_end(self, epoch, logs=None):
        """Record every live member's epoch; stop one whose value is not finite."""
        losses = np.asarray(logs["member_loss"], dtype="float32")
        validated = "val_member_loss" in logs  # a refit has no validation rows
        val_losses = np.asarray(logs.get("val_member_loss", losses), dtype="float32")
        alphas, stopped = self.members.alphas(), []
        for k, outcome in enumerate(self.outcomes):
            if outcome.error is not None:  # stopped at an earlier epoch
                continue
            values = {names.LOSS: float(losses[k])}
            if validated:
                values[names.VAL_LOSS] = float(val_losses[k])
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


class _EachEpoch(keras.callbacks.Callback):
    """Hands each epoch's members (position, outcome) to ``on_epoch`` once recorded."""

    def __init__(self, on_epoch, members: list[tuple[int, FitOutcome]]):
        super().__init__()
        self.on_epoch, self.members = on_epoch, members

    def on_epoch_end(self, epoch, logs=None):
        self.on_epoch(epoch + 1, self.members)


def fit_population(
    population, prune: PruneSpec | None, groups: list, on_epoch=None, per_row: bool = False
) -> list[FitOutcome]:
    """Fit ``population`` (``run.Population``) on its members' common data, batches in their
    single runs' order; returns each member's outcome (in the population's order), its
    ``seconds`` its share of the fit. With ``prune``, after each rung's epoch the worst of each
    group's live members stop (``rank``) and the rest train on as a smaller population, from
    exactly where they were. ``on_epoch(epoch, [(position, outcome)])`` after every epoch,
    with the members that trained in it. ``per_row``: keep each test row's loss too."""
    data, spec = population.data, population.first
    stacked = spec.output == "stacked"
    batches, validation = pipelines(
        data.train,
        data.validation,
        spec.train.batch_size,
        spec.seed,
        stacked,
        with_validation_batches=population.model.tunes,
    )
    if not len(data.validation.x):
        validation = None  # a refit: every non-test row trains
    outcomes = [FitOutcome(seconds=0.0) for _ in population.members.members]
    live = list(range(len(outcomes)))  # the members training now, by position
    epochs = spec.train.epochs
    rungs = prune.rungs(epochs) if prune and max(map(groups.count, groups)) > 1 else []
    begun = 0
    for end in [*rungs, epochs]:
        model, members = population.model, population.members
        recorder = MemberRecorder(members, [outcomes[k] for k in live])
        callbacks = [recorder]
        if on_epoch is not None:
            callbacks.append(_EachEpoch(on_epoch, [(k, outcomes[k]) for k in live]))
        if not model.optimizer.built:  # as after a single run's fit: every slot exists
            model.optimizer.build(model.trainable_variables)
        start = time.perf_counter()
        with nothing_to_train_is_fine(), interruptible() as stop:
            model.fit(
                batches,
                validation_data=validation,
                initial_epoch=begun,
                epochs=end,
                shuffle=False,  # the dataset shuffles itself, from the seed
                verbose=0,
                callbacks=[*callbacks, stop],
            )
        for k in live:
            outcomes[k].seconds += (time.perf_counter() - start) / len(live)
        begun = end
        running = [i for i, k in enumerate(live) if outcomes[k].error is None]
        if end == epochs or not running:
            break
        keep = rank(running, [outcomes[live[i]] for i in running], [groups[k] for k in live], prune)
        if len(keep) == len(live):
            continue
        ending = [i for i in running if i not in keep]
        score_test(model, data, spec, [outcomes[live[i]] for i in ending], ending, per_row)
        for i, (weights, state) in members.snapshot(ending).items():
            outcomes[live[i]].weights, outcomes[live[i]].optimizer = weights, state
            outcomes[live[i]].pruned_at = end
        carried = members.snapshot(keep)
        population.narrow([live[i] for i in keep])
        population.members.restore({j: carried[i] for j, i in enumerate(keep)})
        live = [live[i] for i in keep]
    now = population.members
    now_live = [outcomes[k] for k in live]
    score_test(population.model, data, spec, now_live, range(len(live)), per_row)
    ending = [i for i, k in enumerate(live) if outcomes[k].weights is None]
    for i, (weights, state) in now.snapshot(ending).items():
        outcomes[live[i]].weights, outcomes[live[i]].optimizer = weights, state
    return outcomes
