"""The plain reference the population engine is held to: one run fitted by Keras's own
``Model.fit``, nothing vectorised, cached or reused.

The model is the run's single-run model, built with the real layers (``model.build.build``: a
``keras.layers.Lambda`` with alpha as constants for ``lambda``, ``ComplexAlpha`` for
``trainable`` and ``tuned``), seeded as the engine seeds a member (``keras.utils.set_random_seed``
with the run's seed just before the build), compiled with the run's optimizer, schedule, alpha
learning rate and loss (``model.compile.compile_model``), and fitted on the run's own batches
(``engine.fit.fit_on``: the same rows, shuffle seed and batch size). It runs eagerly, one step
per call: every op in program order, no traced function shared with the engine, so what it
computes is plainly what Keras means (and a tuned step cannot race: traced, this reference's
tuned fit differed once in about 16 processes on a busy machine, as the engine's can). Only
``tuned`` needs code of its own, ``TunedReference.train_step``: Keras has no way to step one
weight on other batches than the rest.

``tests/test_reference.py`` holds each approach's population member equal to this: losses
within 1e-5 relative, weights within 1e-6 absolute (float32 noise; measured and justified there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from alphalab.config.names import Approach
from alphalab.config.spec import Alpha, RunSpec
from alphalab.engine.fit import dataset, fit_on, nothing_to_train_is_fine, prepare_data
from alphalab.layers import is_tuned
from alphalab.model.build import alpha_of, build
from alphalab.model.compile import compile_model


@dataclass
class ReferenceFit:
    """What the plain fit of one run leaves: Keras's own per-epoch ``loss`` and ``val_loss``,
    the final weights by path (as the single-run model names them), the learned alpha (None
    when fixed) and the loss on the test rows (nan without them)."""

    history: dict[str, list[float]]
    weights: dict[str, np.ndarray]
    alpha: Alpha | None
    test_loss: float


class TunedReference(keras.Model):
    """A functional model whose tuned alpha steps on validation batches: every training batch
    comes paired with a validation batch; alpha takes the gradient of the loss on the validation
    batch, every other weight that of the loss on the training batch, in one optimizer update
    (first-order alternation). ``loss`` is the training batch's, as Keras tracks it."""

    def train_step(self, data):
        """One step on a ``((x, y), (x_val, y_val))`` pair of batches."""
        import tensorflow as tf

        (x, y), (x_val, y_val) = data
        tuned = [v for v in self.trainable_weights if is_tuned(v)]
        rest = [v for v in self.trainable_weights if not is_tuned(v)]
        with tf.GradientTape(persistent=True) as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, training=True)
            on_validation = self.compute_loss(
                x_val, y_val, self(x_val, training=True), training=True
            )
        grads = list(tape.gradient(loss, rest)) + list(tape.gradient(on_validation, tuned))
        self.optimizer.apply(grads, rest + tuned)
        for metric in self.metrics:
            if metric.name == "loss":  # Keras's loss tracker: a mean weighted by batch size
                metric.update_state(loss, sample_weight=tf.shape(x)[0])
        return self.compute_metrics(x, y, y_pred)


def fit_reference(spec: RunSpec) -> ReferenceFit:
    """Fit the run ``spec`` alone with ``keras.Model.fit`` for ``spec.train.epochs`` epochs, and
    score it once on the test rows with ``Model.evaluate``."""
    data = prepare_data(spec)
    train, stacked = spec.train, spec.output == "stacked"
    input_shape, has_imag = data.train.input_shape, data.train.has_imag
    keras.utils.set_random_seed(spec.seed)
    model, _ = build(spec.approach, spec.formula, spec.alpha, spec.model, input_shape, has_imag)
    tuned = spec.approach == Approach.TUNED
    if tuned:  # the built model as the one layer of a model with the tuned step
        inputs = keras.Input(input_shape)
        model = TunedReference(inputs, model(inputs), name=f"tuned_{model.name}")
    compile_model(
        model,
        train.optimizer,
        train.learning_rate,
        has_imag,
        steps_per_execution=1,
        schedule=train.schedule,
        total_steps=train.total_steps(len(data.train.x)),
        loss=train.loss,
        alpha_learning_rate=train.alpha_learning_rate,
    )
    model.run_eagerly = True  # Keras's own public switch: the plainest execution there is
    with nothing_to_train_is_fine():
        fitted = fit_on(
            model.fit,
            data.train,
            data.validation,
            train.batch_size,
            train.epochs,
            spec.seed,
            stacked,
            with_validation_batches=tuned,
        )
        test_loss = math.nan
        if data.test is not None:
            test = dataset(data.test, train.batch_size, stacked)
            test_loss = model.evaluate(test, verbose=0, return_dict=True)["loss"]
    history = {key: [float(v) for v in fitted.history[key]] for key in ("loss", "val_loss")}
    weights = {w.path: ops.convert_to_numpy(w) for w in model.weights}
    return ReferenceFit(history, weights, alpha_of(model), float(test_loss))
