"""Simulated sweeps for the verdict's statistics: two arms whose expected test losses are in a
known ratio, with the noise structure of a real sweep.

The data is ``y = phi(x) . theta* + e`` with 8 features (sines and cosines of x) and Gaussian
noise. The learned arm estimates theta by least squares on its training rows (plus a little
noise of its own per seed, as initial weights and shuffling add), so its error varies with the
training set; the fixed arm is off by a fixed vector, as a grid cell is off the truth. Per row
the loss is the squared error. Seeds draw their own data (``independent``), re-split one data set
(``resplit``) or share one split (``shared``); each seed's K folds are fitted on the K training
sets of a K-fold split of its non-test rows, and all fits of a seed are scored on its test rows.
The fixed arm's offset is scaled so that the learned arm's expected test loss is ``1 + effect``
times the fixed arm's (``effect`` 0: a null). The evidence's first arm is the learned one.
"""

from __future__ import annotations

import functools

import numpy as np

from alphalab.results.interval import SeedEvidence

FEATURES = 4  # frequencies: 2 * FEATURES features
NOISE = 0.3
INIT_NOISE = 0.01  # the learned arm's own per-seed noise (initial weights, shuffling)


def features(x: np.ndarray) -> np.ndarray:
    k = np.arange(1, FEATURES + 1)
    return np.concatenate([np.sin(np.outer(x, k)), np.cos(np.outer(x, k))], axis=1)


@functools.cache
def _moments(n_train: int) -> tuple[float, np.ndarray]:
    """The learned arm's expected excess loss with ``n_train`` training rows, and E[phi phi^T]."""
    rng = np.random.default_rng(12345)
    phi = features(rng.uniform(-3, 3, 200_000))
    second = phi.T @ phi / len(phi)
    excess = []
    for _ in range(400):
        train = features(rng.uniform(-3, 3, n_train))
        covariance = NOISE**2 * np.linalg.inv(train.T @ train)
        excess.append(np.trace(second @ covariance))
    return float(np.mean(excess)) + INIT_NOISE**2 * float(np.trace(second)), second


def _offset(n_train: int, effect: float) -> np.ndarray:
    """The fixed arm's error vector: learned / fixed - 1 = effect, in expectation."""
    learned, second = _moments(n_train)
    wanted = (NOISE**2 + learned) / (1 + effect) - NOISE**2  # the fixed arm's excess loss
    direction = np.ones(2 * FEATURES) / np.sqrt(2 * FEATURES)
    return direction * np.sqrt(max(wanted, 0.0) / float(direction @ second @ direction))


def _scored(phi, noise, test, own, train, error=None) -> np.ndarray:
    """Per test row, the squared error of a fit on ``train`` (least squares plus ``own``), or
    of a fixed ``error``."""
    if error is None:
        error = np.linalg.lstsq(phi[train], noise[train], rcond=None)[0] + own
    return (noise[test] - phi[test] @ error) ** 2


def sweep(
    rng: np.random.Generator,
    seeds: int,
    folds: int,
    design: str = "independent",
    n: int = 200,
    test_split: float = 0.2,
    effect: float = 0.0,
) -> list[SeedEvidence]:
    """One simulated sweep's evidence: first = the learned arm, second = the fixed arm."""
    n_test = round(n * test_split)
    offset = _offset(n - n_test, effect)
    pool = rng.uniform(-3, 3, n), rng.normal(0, NOISE, n)
    order = rng.permutation(n)
    out = []
    for seed in range(seeds):
        if design == "independent":
            pool = rng.uniform(-3, 3, n), rng.normal(0, NOISE, n)
        elif design == "resplit":
            order = rng.permutation(n)
        phi, noise = features(pool[0]), pool[1]
        test, rest = order[:n_test], order[n_test:]
        own = rng.normal(0, INIT_NOISE, 2 * FEATURES)  # the same in all of the seed's fits

        scored = functools.partial(_scored, phi, noise, test, own)
        learned, fixed = scored(rest), scored(rest, offset)
        learned_folds, fixed_folds = [], []
        if folds > 1:
            for block in np.array_split(rest, folds):
                train = np.setdiff1d(rest, block)
                learned_folds.append(float(scored(train).mean()))
                fixed_folds.append(float(fixed.mean()))
        rows = "shared" if design == "shared" else f"{seed}"
        data = "one" if design != "independent" else f"{seed}"
        out.append(
            SeedEvidence(
                seed,
                learned,
                fixed,
                rows,
                data,
                len(rest),
                tuple(learned_folds),
                tuple(fixed_folds),
            )  # fmt: skip
        )
    return out
