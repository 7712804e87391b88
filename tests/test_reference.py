"""The population engine held to its plain reference: a member of a population (fixed, learned
and tuned alphas side by side, as a sweep trains them) against ``fit_reference`` of that
member's own spec, Keras's own ``Model.fit`` of the single-run model with the real ``Lambda``
or ``ComplexAlpha`` (``alphalab.engine.reference``). Per-epoch ``loss`` and ``val_loss``, every
final weight (alpha's, the gain head's, a user's Dense layers') and the test loss must agree.

Tolerance: losses within 1e-5 relative, weights (alpha among them) within 1e-6 absolute. Both
sides compute in float32 (eps 1.2e-7) the same formulas on the same batches in the same order;
what differs is only how sums are taken: the engine reduces a (batch, K) tensor for K members
inside a traced function (several steps per call unless a member is tuned), the reference a
(batch, 1) one, eagerly, one step per call. Measured on the fast setting over every member of
these populations: at most 7.2e-7 relative on a loss (test loss 5.0e-7) and 2.4e-7 absolute on
a weight of size 1-2, i.e. a few ulps. The bounds leave 10-40x that, and stay well below what a
real difference makes: with the reference's learning rate 1% higher, or its shuffle seed one
higher, each of the loss, val_loss, weight and test-loss checks of every case here was off by 9x
to 17,000x its bound (measured by hand).

The engine is trained as ``engine.runs._run_population`` trains it: the global seed set to the
run's seed, the data prepared, ``Population(members, data).fit()``. The tuned comparisons
hold since the tuned step's race was fixed (tests/test_tuned_determinism.py).
The stacked output case holds the engine's lookup of a Sequential's weights (``sequential/alpha/
kernel``), which once raised KeyError for every population of that model.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from alphalab.config.names import Approach
from alphalab.config.parse import run_spec
from alphalab.engine.fit import prepare_data
from alphalab.engine.population.run import Member, Population
from alphalab.engine.reference import fit_reference
from tests.conftest import compose

LOSS_RTOL, WEIGHT_ATOL = 1e-5, 1e-6
ALPHAS = ((0.3, 1.5), (0.7, 1.8), (1.2, 2.4))
COMPARED = ALPHAS[1]  # a member in the middle of its approach's rows, not the first
GAIN = "model.head=gain"
CASES = {  # name: (overrides, approaches in the population)
    "oscillation, fixed and learned": (["task=oscillation", GAIN], ("lambda", "trainable")),
    "oscillation": (["task=oscillation", GAIN], tuple(Approach)),
    "complex_gain": (["task=complex_gain", GAIN], tuple(Approach)),
    "scaled": (["task=scaled", GAIN], tuple(Approach)),
    "user builder": (["model.builder=tests.user_models.with_offset_branch"], tuple(Approach)),
    "fold 2 of 5": (["task.folds=5", "task.fold=2", GAIN], tuple(Approach)),
    "stacked output": (["model.output=stacked", GAIN], tuple(Approach)),
}


def members_of(overrides: list[str], approaches: tuple[str, ...]) -> list:
    """3 fixed and 3 learned alphas, and 2 tuned ones, listed as a sweep lists its jobs."""
    base = run_spec(compose(["+debug=fast", *overrides]))
    starts = {Approach.TUNED: ALPHAS[:2]}
    return [
        base.with_alpha(approach, alpha)
        for approach in approaches
        for alpha in starts.get(approach, ALPHAS)
    ]


_TRAINED: dict = {}


def trained(case: str) -> dict:
    """The case's population trained once: ``{(approach, alpha): (spec, outcome)}``."""
    if case not in _TRAINED:
        specs = members_of(*CASES[case])
        first = specs[0]
        keras.utils.set_random_seed(first.seed)
        data = prepare_data(first)
        outcomes = Population([Member(spec) for spec in specs], data).fit().outcomes
        _TRAINED[case] = {
            (spec.approach, tuple(spec.alpha)): (spec, outcome)
            for spec, outcome in zip(specs, outcomes, strict=True)
        }
    return _TRAINED[case]


def pairs():
    for case, (_, approaches) in CASES.items():
        for approach in approaches:
            yield pytest.param(case, str(approach), id=f"{case}-{approach}")


@pytest.mark.parametrize(("case", "approach"), list(pairs()))
def test_a_member_trains_as_keras_fits_it_alone(case, approach):
    spec, member = trained(case)[approach, COMPARED]
    reference = fit_reference(spec)
    epochs = spec.train.epochs
    for key in ("loss", "val_loss"):
        assert len(reference.history[key]) == len(member.history[key]) == epochs, key
        np.testing.assert_allclose(
            member.history[key], reference.history[key], rtol=LOSS_RTOL, atol=0, err_msg=key
        )
    assert list(member.weights) == list(reference.weights)  # same names, same order
    assert reference.weights, "nothing to compare: the member has no weights"
    for name, value in reference.weights.items():
        np.testing.assert_allclose(
            member.weights[name], value, rtol=0, atol=WEIGHT_ATOL, err_msg=name
        )
    if approach == Approach.LAMBDA:
        assert reference.alpha is None and "alpha_real" not in member.history
    else:
        learned = [member.history["alpha_real"][-1], member.history["alpha_imag"][-1]]
        np.testing.assert_allclose(learned, reference.alpha, rtol=0, atol=WEIGHT_ATOL)
        assert np.linalg.norm(np.subtract(learned, COMPARED)) > 1e-3, "alpha never moved"
    assert np.isfinite(reference.test_loss)
    assert member.test_loss == pytest.approx(reference.test_loss, rel=LOSS_RTOL, abs=0)
