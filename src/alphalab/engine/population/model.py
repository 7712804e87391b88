"""One Keras model for a whole population: K members that differ only in approach and alpha.

The built-in architecture is vectorised: one layer holds the K alphas (the learned ones in a
trainable variable marked as alpha, the fixed ones in a frozen one) and the formula broadcasts
x (batch, 1) against alpha (K,) to (batch, K). A user's model (or a formula that does not
broadcast) becomes K copies side by side, sharing the input. Either way the outputs are
(batch, K, d) per part and ``PopulationModel`` minimises the sum of the members' own losses:
Adam and SGD update every weight from its own gradient, so a member trains exactly as alone.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from alphalab import formulas
from alphalab.config.names import Approach
from alphalab.config.spec import RunSpec
from alphalab.layers import is_tuned, mark_alpha, mark_tuned
from alphalab.model.build import ALPHA_LAYER, HEAD_LAYER, build


class PopulationAlpha(keras.layers.Layer):
    """K alphas side by side: members ``[0, n_learned)`` learn theirs, the next ``n_tuned``
    tune theirs on validation batches, the others keep theirs (three variables, so that the
    backward pass runs through the moving columns only)."""

    def __init__(
        self, formula, alphas, n_learned: int, formula_kwargs=None, n_tuned: int = 0, **kwargs
    ):
        super().__init__(**kwargs)
        self.formula = formula
        self.alphas = np.asarray(alphas, dtype="float32").reshape(-1, 2)
        self.n_learned, self.n_tuned = int(n_learned), int(n_tuned)
        self.formula_kwargs = dict(formula_kwargs or {})

    def build(self, input_shape):
        """Trainable (n_learned, 2) and (n_tuned, 2) variables marked as alpha (the second as
        tuned), and a frozen one for the fixed alphas."""
        n, t = self.n_learned, self.n_tuned
        rows = {"learned": self.alphas[:n], "tuned": self.alphas[n : n + t]}
        for name, start in rows.items():
            variable = self.add_weight(
                name=name,
                shape=(len(start), 2),
                initializer=keras.initializers.Constant(start),
                trainable=len(start) > 0,  # no such member: nothing to train here
            )
            mark_alpha(variable)
            setattr(self, name, variable)
        mark_tuned(self.tuned)
        self.fixed = self.add_weight(
            name="fixed",
            shape=(len(self.alphas) - n - t, 2),
            initializer=keras.initializers.Constant(self.alphas[n + t :]),
            trainable=False,
        )

    def call(self, inputs):
        """The formula at every member's alpha: two (batch, K) parts."""
        parts = [
            self.formula(inputs, alpha[:, 0], alpha[:, 1], **self.formula_kwargs)
            for alpha in (self.learned, self.tuned, self.fixed)
            if alpha.shape[0]
        ]
        if len(parts) == 1:
            return parts[0]
        return tuple(ops.concatenate(list(columns), axis=1) for columns in zip(*parts, strict=True))


class PopulationGain(keras.layers.Layer):
    """K complex gains, one per member, each starting at 1 (the built-in ``gain`` head)."""

    def __init__(self, members: int, **kwargs):
        super().__init__(**kwargs)
        self.members = members

    def build(self, input_shape):
        """The (K, 2) kernel."""
        start = np.tile([[1.0, 0.0]], (self.members, 1))
        self.kernel = self.add_weight(
            name="kernel", shape=(self.members, 2), initializer=keras.initializers.Constant(start)
        )

    def call(self, inputs):
        """Each member's ``c * (real + i*imag)``."""
        real, imag = inputs
        c_real, c_imag = self.kernel[:, 0], self.kernel[:, 1]
        return c_real * real - c_imag * imag, c_real * imag + c_imag * real


class MemberMean(keras.metrics.Metric):
    """Keras's own loss tracker (a mean weighted by batch size), one entry per member."""

    def __init__(self, members: int, name: str = "member_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(members,), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, values, sample_weight):
        """Add a batch's (K,) losses, weighted by its size."""
        weight = ops.cast(sample_weight, self.dtype)
        self.total.assign_add(ops.cast(values, self.dtype) * weight)
        self.count.assign_add(weight)

    def reset_state(self):
        """Start an epoch."""
        self.total.assign(ops.zeros_like(self.total))
        self.count.assign(0.0)

    def result(self):
        """Each member's mean loss so far."""
        return ops.divide_no_nan(self.total, self.count)


class PopulationModel(keras.Model):
    """Outputs (batch, K, d) per part; each member's loss is computed as Keras computes a single
    model's (the loss per part, averaged over the batch, parts summed) and their sum minimised."""

    def __init__(self, *args, members: int, loss: str, parts: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.members, self.loss_name, self.parts = members, loss, tuple(parts)
        self.loss_fn = keras.losses.get(loss)
        self.tracker = MemberMean(members)

    @property
    def metrics(self):
        """Only the per-member tracker (``fit`` resets it every epoch)."""
        return [self.tracker]

    def member_losses(self, y, outputs):
        """(K,): every member's own loss on the batch."""
        if "stacked" in outputs:
            pred = outputs["stacked"]
            pairs = [(y, pred if y.shape[-1] == 2 else pred[..., :1])]
        else:
            pairs = [(y[part], outputs[part]) for part in self.parts]
        total = 0.0
        for true, pred in pairs:
            true = ops.broadcast_to(ops.expand_dims(ops.cast(true, pred.dtype), 1), ops.shape(pred))
            per_sample = self.loss_fn(true, pred)  # (batch, K)
            total = total + ops.mean(per_sample, axis=0)
        return total

    def penalised(self, per_member):
        """A population of one adds its model's own losses (weight and activity
        regularisers), as Keras does; larger populations never hold such models."""
        if self.members != 1 or not self.losses:
            return per_member
        return per_member + ops.sum(
            [ops.sum(ops.cast(loss, per_member.dtype)) for loss in self.losses]
        )

    @property
    def tunes(self) -> bool:
        """Whether some member tunes its alpha on validation batches (then every training batch
        comes with a validation batch)."""
        return any(is_tuned(v) for v in self.trainable_weights)

    def train_step(self, data):
        """One step on the sum of the members' losses (each member's gradient is its own). A
        tuned alpha steps with the gradient of its member's loss on the validation batch,
        every other weight with the training batch's (first-order alternation, in one update)."""
        import tensorflow as tf

        tuned = [v for v in self.trainable_weights if is_tuned(v)]
        rest = [v for v in self.trainable_weights if not is_tuned(v)]
        (x, y), validation = (data[0], data[1]) if tuned else (data, None)
        with tf.GradientTape(persistent=bool(tuned)) as tape:
            per_member = self.penalised(self.member_losses(y, self(x, training=True)))
            total = ops.sum(per_member)
            if tuned:
                x_val, y_val = validation
                on_validation = ops.sum(self.member_losses(y_val, self(x_val, training=True)))
        self.tracker.update_state(per_member, tf.shape(x)[0])
        if self.trainable_weights:
            if tuned:
                grads = after_both_passes(tape, total, on_validation, rest, tuned)
            else:
                grads = tape.gradient(total, rest)
            self.optimizer.apply(grads, rest + tuned)
        return {"member_loss": self.tracker.result()}

    def test_step(self, data):
        """Every member's loss on a validation batch."""
        import tensorflow as tf

        x, y = data
        per_member = self.penalised(self.member_losses(y, self(x, training=False)))
        self.tracker.update_state(per_member, tf.shape(x)[0])
        return {"member_loss": self.tracker.result()}


def after_both_passes(tape, total, on_validation, rest: list, tuned: list) -> list:
    """The training loss's gradients for ``rest``, then the validation loss's for ``tuned``,
    each cut out of one tensor that also holds both losses: no weight's update can start
    before both forward passes have read every weight they use.

    The two halves of a tuned step share no data (``tuned`` moves with the validation pass,
    ``rest`` with the training pass), so only the automatic control edges of ``tf.function``
    ordered one pass's reads of a weight before the other half's write of it, and Grappler's
    dependency optimizer drops them: its transitive reduction counts the path through the one
    ``IdentityN`` that Keras's optimizer passes all gradients through, then it bypasses that
    ``IdentityN``. With two inter-op threads the tuned alpha's update could then land before
    the training pass read alpha, or the head's before the validation pass read the head: on a
    busy machine about 1 fit in 8 differed (28 in 40 with several steps per call). Control
    edges added here fare no better (they end on nodes that get folded or bypassed); a
    concatenation is data, which Grappler keeps (tests/test_tuned_determinism.py checks the
    optimized step). The gradients are bit for bit those of ``tape.gradient``.
    """
    import tensorflow as tf

    grads = list(tape.gradient(total, rest)) if rest else []
    grads += list(tape.gradient(on_validation, tuned))
    present = [k for k, g in enumerate(grads) if g is not None]
    dense = {k: tf.convert_to_tensor(grads[k]) for k in present}
    for dtype in dict.fromkeys(g.dtype for g in dense.values()):  # one join per dtype
        group = [k for k in present if dense[k].dtype == dtype]
        losses = [tf.reshape(tf.cast(loss, dtype), [1]) for loss in (total, on_validation)]
        joined = tf.concat(losses + [tf.reshape(dense[k], [-1]) for k in group], axis=0)
        sizes = [1, 1] + [int(np.prod(dense[k].shape)) for k in group]
        for k, piece in zip(group, tf.split(joined, sizes)[2:], strict=True):
            grads[k] = tf.reshape(piece, tf.shape(dense[k]))
    return grads


def parts_of(spec: RunSpec, has_imag: bool) -> tuple[str, ...]:
    """The parts a member's loss sums over."""
    if spec.output == "stacked":
        return ("stacked",)
    return ("real", "imag") if has_imag else ("real",)


def vectorised(members: list[RunSpec], input_shape: tuple, has_imag: bool):
    """The built-in architecture for all members at once (inputs, outputs), or None when the
    formula does not broadcast over members (then the members are built as copies)."""
    first = members[0]
    fn = formulas.resolve(first.formula.name)
    n_learned = sum(1 for m in members if m.approach == Approach.TRAINABLE)
    n_tuned = sum(1 for m in members if m.approach == Approach.TUNED)
    inputs = keras.Input(input_shape, name="x")
    alphas = [m.alpha for m in members]
    layer = PopulationAlpha(
        fn, alphas, n_learned, first.formula.kwargs, n_tuned=n_tuned, name=ALPHA_LAYER
    )
    try:
        real, imag = layer(inputs)
    except Exception:  # noqa: BLE001 - a user's formula may not broadcast at all
        return None
    if tuple(real.shape[1:]) != (len(members),) or tuple(imag.shape[1:]) != (len(members),):
        return None
    if first.head == "gain":
        real, imag = PopulationGain(len(members), name=HEAD_LAYER)((real, imag))
    if first.output == "stacked":
        return inputs, {"stacked": ops.stack([real, imag], axis=-1)}
    return inputs, {"real": ops.expand_dims(real, -1), "imag": ops.expand_dims(imag, -1)}


def copies(members: list[RunSpec], input_shape: tuple, has_imag: bool, seeds: list[int]):
    """K copies of the run's own model side by side, each built as its single run would build
    it (from ``seeds[k]``, its run's seed unless it is another execution of the same run);
    returns inputs, outputs and the copies."""
    inputs = keras.Input(input_shape, name="x")
    built, stacked = [], {}
    for k, spec in enumerate(members):
        keras.utils.set_random_seed(seeds[k])
        model, _ = build(spec.approach, spec.formula, spec.alpha, spec.model, input_shape, has_imag)
        model.name = f"member_{k}"  # builders often name every copy alike
        out = model(inputs)
        for part, tensor in out.items() if isinstance(out, dict) else [("stacked", out)]:
            stacked.setdefault(part, []).append(tensor)
        built.append(model)
    return inputs, {part: ops.stack(tensors, axis=1) for part, tensors in stacked.items()}, built
