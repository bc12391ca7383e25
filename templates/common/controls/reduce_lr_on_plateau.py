import math


class ReduceLROnPlateau:
    """Keras's ReduceLROnPlateau (without cooldown): once `monitor` has not improved (by more
    than min_delta) for `patience` epochs, the learning rate is multiplied by `factor`, never
    below min_lr, and the count starts again. The reduction is kept as `scale`, the product of
    the factors so far, which multiplies the schedule's rate. Its state goes into checkpoints."""

    def __init__(self, monitor, factor, patience, min_delta, min_lr, direction):
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.min_delta, self.min_lr, self.direction = min_delta, min_lr, direction
        self.best = math.inf if direction == "min" else -math.inf
        self.wait = 0
        self.scale = 1.0
        self.reduced = False  # whether the latest update() reduced the rate (a run prints report() then)

    def adjust(self, lr):
        """The schedule's rate `lr` after the reductions so far: lr·scale, but not below min_lr
        (nor above the schedule's own rate, where that is below min_lr)."""
        if self.scale == 1.0:
            return lr
        return max(lr * self.scale, min(self.min_lr, lr))

    def update(self, logs, lr):
        """After an epoch that trained at rate `lr` with these logs."""
        value = logs[self.monitor]
        self.reduced = False
        if improved(value, self.best, self.min_delta, self.direction):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience and lr > self.min_lr:
            self.scale *= self.factor
            self.wait, self.reduced = 0, True

    def report(self, epoch, lr):
        """The line a run prints after epoch `epoch` reduced the rate, `lr` the next epoch's (as
        Keras's ReduceLROnPlateau(verbose=1) prints one)."""
        return (f"epoch {epoch}: reduce_lr_on_plateau reduced the learning rate to {lr:.4g} ({self.monitor} did not "
                f"improve for {self.patience} epoch{'s' if self.patience != 1 else ''})")

    def state(self):
        best = self.best if math.isfinite(self.best) else None  # JSON has no infinity
        return {"best": best, "wait": self.wait, "scale": self.scale}

    def load_state(self, state):
        if state["best"] is not None:
            self.best = state["best"]
        self.wait, self.scale = state["wait"], state["scale"]
