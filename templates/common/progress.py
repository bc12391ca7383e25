"""The lines a run prints, the same in every generated program and in `nndsl train`."""

import time


def duration(seconds):
    """An epoch's time as Keras prints it: 12ms, 340ms, 2.5s, 41s."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 1)}ms"
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"


def epoch_line(epoch, last, seconds, logs):
    """epoch 3/10 - 12ms - loss: 0.4012 - accuracy: 0.8125 - val_loss: 0.4398 - val_accuracy: 0.7900 - lr: 0.01"""
    metrics = " - ".join(f"{key}: {value:.4g}" if key == "lr" else f"{key}: {value:.4f}" for key, value in logs.items())
    return f"epoch {epoch}/{last} - {duration(seconds)} - {metrics}"


def validation_line(logs):
    """validation: loss: 0.4398 - accuracy: 0.7900"""
    return "validation: " + " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


def epoch_printer(last):
    """An on_epoch for fit() that prints each epoch's line with the time the epoch took."""
    started = time.perf_counter()

    def print_epoch(epoch, logs):
        nonlocal started
        now = time.perf_counter()
        print(epoch_line(epoch, last, now - started, logs), flush=True)
        started = now

    return print_epoch
