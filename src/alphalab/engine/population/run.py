"""Train runs that share everything but approach and alpha as one population, and give each its
outcome (history, weights and optimizer state under its single-run names) and its files.

This is the only way alphalab fits: a single run is a population of one (its own model, as its
``model.keras`` holds it), a sweep's jobs, a search's trials, refinements and reproductions are
members of populations. Members that cannot share one model (a user's model with regularisers)
train each as a population of one.
"""

from __future__ import annotations

from dataclasses import dataclass

from alphalab.config.names import Approach
from alphalab.config.spec import PruneSpec, RunSpec
from alphalab.engine.outcome import FitOutcome

# Members in this order: the vectorised alpha layer holds learned, then tuned, then fixed alphas.
ORDER = (Approach.TRAINABLE, Approach.TUNED, Approach.LAMBDA)


def population_key(spec: RunSpec) -> str:
    """Runs with the same key differ only in approach and alpha: they train as one population."""
    config = {k: v for k, v in spec.config.items() if k not in ("approach", "alpha")}
    return repr((config, spec.model, spec.train, spec.task, spec.formula, spec.seed))


@dataclass
class Member:
    """One model of a population: a run's spec and the seed its weights are built from."""

    spec: RunSpec
    init_seed: int | None = None  # None: the run's seed
    group: str = ""  # pruning ranks members within their group (an arm)


@dataclass
class Trained:
    """A population's members after the fit: their outcomes (in the order given), and what
    writes each member's files."""

    outcomes: list[FitOutcome]
    files: object  # export.RunFiles
    total_steps: int

    def write_files(self, index: int, spec: RunSpec, folder, model: bool = True) -> None:
        """Member ``index``'s config.yaml, weights.json and (with ``model``) model.keras into
        ``folder``."""
        self.files.write(folder, spec, self.total_steps, self.outcomes[index], model)


class Population:
    """Members of one population (same ``population_key``), built into one compiled model."""

    def __init__(self, members: list[Member], data):
        """Build the model for ``data`` (``engine.fit.PreparedData``); a ConfigError when the
        members' model cannot be built; ``SharingRefused`` when they cannot share one."""
        from alphalab.engine.population.export import RunFiles

        self.data = data
        self.order = sorted(
            range(len(members)), key=lambda k: ORDER.index(members[k].spec.approach)
        )
        ordered = [members[k] for k in self.order]
        self.specs = [m.spec for m in ordered]
        self.seeds = [m.spec.seed if m.init_seed is None else m.init_seed for m in ordered]
        self.groups = [m.group for m in ordered]
        self.first = self.specs[0]
        self.steps = self.first.train.total_steps(len(data.train.x))
        self.files = RunFiles(data.train.input_shape, data.train.has_imag)
        self.narrow(list(range(len(ordered))))

    def narrow(self, positions: list[int]) -> None:
        """Build the model of the members at ``positions`` (of the population's order), in the
        state a fresh build would have: the whole population at first, the survivors of a rung
        when pruning."""
        from alphalab.engine.population.compiled import population_model
        from alphalab.engine.population.train import Members

        data = self.data
        specs = [self.specs[k] for k in positions]
        shape, has_imag = data.train.input_shape, data.train.has_imag
        seeds = [self.seeds[k] for k in positions]
        self.model, built = population_model(specs, shape, has_imag, self.steps, seeds)
        layouts = [self.files.template(spec, self.steps).layout for spec in specs]
        self.members = Members(self.model, specs, built, layouts)

    def start_from(self, starts: dict[int, dict[str, list]]) -> None:
        """Start members (by their index as given) from other runs' weights, every weight but
        alpha's (by single-run path); a ValueError when they do not fit."""
        position = {k: i for i, k in enumerate(self.order)}
        if starts:
            self.members.warm_start({position[k]: weights for k, weights in starts.items()})

    def fit(self, prune: PruneSpec | None = None, on_epoch=None, per_row: bool = False) -> Trained:
        """One fit for all (with ``prune``, successive halving within each member's group);
        the outcomes in the order the members were given. ``on_epoch(epoch, [(index,
        outcome)])`` after every epoch, with the members (by index as given) that trained in
        it. ``per_row``: keep each member's loss on every test row (``FitOutcome.test_rows``)."""
        from alphalab.engine.population.train import fit_population

        given_on_epoch = None
        if on_epoch is not None:

            def given_on_epoch(epoch, members):
                on_epoch(epoch, [(self.order[position], outcome) for position, outcome in members])

        outcomes = fit_population(self, prune, self.groups, given_on_epoch, per_row)
        given = [FitOutcome()] * len(outcomes)
        for position, k in enumerate(self.order):
            given[k] = outcomes[position]
        return Trained(given, self.files, self.steps)
