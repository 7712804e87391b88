"""Ctrl-C during a fit, taken at a place of our choosing. Python raises KeyboardInterrupt
wherever the main thread happens to be; during a Keras fit that is often inside a finaliser
(each epoch drops a tf.data iterator), where Python prints the exception and goes on: the
interrupt was lost and the sweep ran to its end. While a fit runs, the first SIGINT is only
noted, and the fit's callback raises KeyboardInterrupt after the current batch; a second SIGINT
raises at once, as usual.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import keras


class StopOnInterrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt after the batch or epoch in which SIGINT arrived."""

    def __init__(self):
        super().__init__()
        self.requested = False

    def _check(self, *args, **kwargs) -> None:
        if self.requested:
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


@contextlib.contextmanager
def interruptible() -> Iterator[StopOnInterrupt]:
    """While the block runs (a fit), SIGINT asks the yielded callback to stop the fit; outside
    the main thread (where no handler can be set) the callback never fires."""
    stop = StopOnInterrupt()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)

    def note(signum, frame):
        if stop.requested:  # a second Ctrl-C: at once
            raise KeyboardInterrupt
        stop.requested = True

    signal.signal(signal.SIGINT, note)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
    if stop.requested:  # it came as the fit ended
        raise KeyboardInterrupt
