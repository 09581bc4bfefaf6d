"""The Keras side of ``fakeface train``'s loop: atomic model saves, a checkpoint after every
epoch for --resume, stopping cleanly on an interrupt, and a progress line a slow CPU needs."""

from __future__ import annotations

import math
import time
from pathlib import Path

from fakeface.edge.atomic import atomic_path, write_text_atomic
from fakeface.edge.interrupts import interrupt_received, signals_deferred
from fakeface.edge.strict_json import dumps


def save_keras_atomic(model, path: Path) -> None:
    """Save a Keras model so that ``path`` never holds a half-written one."""
    with atomic_path(path, keep_suffix=True) as tmp:
        model.save(tmp)


def align_epochs(history: dict, logs: dict) -> None:
    """Keep every list in ``history`` one entry per epoch: a metric this epoch did not log
    (validation skipped by --validate-every) gets None, and one logged for the first time
    gets None for the epochs before it."""
    epochs = len(history["seconds"])
    for key, values in history.items():
        missing = epochs - len(values)
        if missing > 0:
            if key in logs:
                values[:0] = [None] * missing
            else:
                values.extend([None] * missing)


def epoch_checkpoint(keras, ckpt_dir: Path, history: dict, saved=None):
    class EpochCheckpoint(keras.callbacks.Callback):
        """After each epoch: the model with its optimizer state (or ``saved``, a model without
        one), then the epoch count.

        The state file is written second, so a crash between the two repeats one epoch
        at worst instead of skipping one.
        """

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            history.setdefault("seconds", []).append(round(time.perf_counter() - self._t0, 2))
            logs = logs or {}
            for k, v in logs.items():
                # NaN (an AUC of one class, a diverged loss) is no value: None, as for a skipped epoch
                value = float(v)
                history.setdefault(k, []).append(value if math.isfinite(value) else None)
            align_epochs(history, logs)
            with signals_deferred():  # the pair stays consistent under Ctrl-C / SIGTERM
                save_keras_atomic(saved if saved is not None else self.model, ckpt_dir / "last.keras")
                write_text_atomic(ckpt_dir / "state.json",
                                  dumps({"epoch": epoch + 1, "history": history}) + "\n")

    return EpochCheckpoint()


def stop_on_swallowed_interrupt(keras):
    class StopOnInterrupt(keras.callbacks.Callback):
        """A SIGTERM whose KeyboardInterrupt TensorFlow's native code swallowed (it can land in
        a C call) still stops training at the next batch, with the usual clean unwinding."""

        def on_train_batch_end(self, batch, logs=None):
            if interrupt_received():
                raise KeyboardInterrupt

    return StopOnInterrupt()


def progress_line(keras, every: int = 50):
    class ProgressLine(keras.callbacks.Callback):
        """A line every ``every`` batches: on a shared 2-core machine an epoch takes minutes,
        and Keras' one-line-per-epoch mode says nothing until it ends."""

        def on_epoch_begin(self, epoch, logs=None):
            self._t0, self._epoch = time.perf_counter(), epoch

        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % every == 0:
                rate = (batch + 1) / (time.perf_counter() - self._t0)
                print(f"  epoch {self._epoch + 1} batch {batch + 1}: {rate:.2f} batches/s, "
                      f"loss {float((logs or {}).get('loss', float('nan'))):.4f}", flush=True)

    return ProgressLine()
