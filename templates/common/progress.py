"""What a run prints while it trains, the same in every generated program and in `nndsl train`.

In a terminal, one live bar for the whole run (tqdm, where it is installed). Elsewhere (a log, a
pipe), or without tqdm, the epoch lines; unless every one is asked for (verbose), only some of them:
the run's first and last epochs, every `line_step`-th, and any epoch that ends SECONDS_BETWEEN_LINES
or more after the line printed before it (so slow epochs all show).
"""

import os
import sys
import time

SECONDS_BETWEEN_LINES = 10


def duration(seconds):
    """An epoch's time as Keras prints it: 12ms, 340ms, 2.5s, 41s."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 1)}ms"
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"


def metrics_text(logs):
    """loss: 0.4012 - accuracy: 0.8125 - val_loss: 0.4398 - val_accuracy: 0.7900 - lr: 0.01"""
    return " - ".join(f"{key}: {value:.4g}" if key == "lr" else f"{key}: {value:.4f}" for key, value in logs.items())


def epoch_line(epoch, last, seconds, logs):
    """epoch 3/10 - 12ms - loss: 0.4012 - accuracy: 0.8125 - val_loss: 0.4398 - val_accuracy: 0.7900 - lr: 0.01"""
    return f"epoch {epoch}/{last} - {duration(seconds)} - {metrics_text(logs)}"


def validation_line(logs):
    """validation: loss: 0.4398 - accuracy: 0.7900"""
    return "validation: " + " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


def line_step(epochs):
    """Every how many epochs the thinned lines print one: the first of 1, 2, 5, 10, 20, 50, 100, ...
    with at most 10 multiples in `epochs` (200 epochs: every 20th)."""
    step = 1
    while epochs > 10 * step:
        step = step * 5 // 2 if str(step).startswith("2") else step * 2
    return step


def prints_line(epoch, first, last, step, seconds_since_line):
    """Whether the thinned lines show this epoch: the run's first and last, every step-th, and any epoch
    ending SECONDS_BETWEEN_LINES or more after the line printed before."""
    return epoch in (first, last) or epoch % step == 0 or seconds_since_line >= SECONDS_BETWEEN_LINES


def live_bar(start, last, stream):
    """tqdm's bar over the epochs start+1 .. last, or None where tqdm is not installed (pip install tqdm)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # A bare pseudo-terminal tells no size, and tqdm would draw nothing: a line of 100 columns there.
    sized = all(terminal_size(stream))
    return tqdm(total=last, initial=start, file=stream, unit="epoch", dynamic_ncols=sized,
                ncols=None if sized else 100, nrows=None if sized else 24,
                bar_format="epoch {n_fmt}/{total_fmt} |{bar:20}| {elapsed}<{remaining}, {rate_fmt}{postfix}")


def terminal_size(stream):
    """(columns, lines) of the terminal `stream` writes to; zeros where it tells none."""
    try:
        return tuple(os.get_terminal_size(stream.fileno()))
    except (AttributeError, OSError, ValueError):  # no file descriptor, or not a terminal
        return 0, 0


class EpochReport:
    """What a run from epoch `start` to epoch `last` prints on `stream` (default: stdout); its
    on_epoch is fit()'s, and close() ends it (in a `finally`, so that a failed run ends it too).

    In a terminal with tqdm: the live bar, with the latest metrics after it; `verbose` adds every
    epoch's line above the bar. Otherwise the epoch lines: every one if `verbose`, else those
    prints_line() picks, and close() prints the last epoch trained if it was held back (a run that
    stopped early, or failed).
    """

    def __init__(self, start, last, stream=None, verbose=False):
        self.stream = sys.stdout if stream is None else stream
        self.first, self.last, self.step = start + 1, last, line_step(last - start)
        self.verbose = verbose
        self.bar = live_bar(start, last, self.stream) if self.stream.isatty() and start < last else None
        self.started = self.printed = time.perf_counter()
        self.held = None  # the line of the latest epoch, if not printed

    def on_epoch(self, epoch, logs):
        now = time.perf_counter()
        line = epoch_line(epoch, self.last, now - self.started, logs)
        self.started = now
        if self.bar is not None:
            self.bar.set_postfix_str(metrics_text(logs), refresh=False)
            self.bar.update(1)
            if self.verbose:
                self.bar.write(line, file=self.stream)  # above the bar
        elif self.verbose or prints_line(epoch, self.first, self.last, self.step, now - self.printed):
            self.show(line)
            self.printed = now
        else:
            self.held = line

    def show(self, line):
        self.held = None
        print(line, file=self.stream, flush=True)

    def note(self, line):
        """A line after the latest epoch's (shown first if it was held back), or above the bar."""
        if self.bar is not None:
            return self.bar.write(line, file=self.stream)
        if self.held is not None:
            self.show(self.held)
        self.show(line)

    def close(self):
        if self.bar is not None:
            self.bar.close()  # it stays on the screen, at the last epoch
        elif self.held is not None:
            self.show(self.held)
