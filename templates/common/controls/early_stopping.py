import math


class EarlyStopping:
    """Keras's EarlyStopping: after each epoch, `monitor` either improves on the best value so
    far (by more than min_delta) or adds one to `wait`; once `wait` reaches `patience` (and at
    least two epochs are done), training stops. With restore_best, stopping puts back the
    weights of the best epoch. Its state goes into checkpoints."""

    def __init__(self, monitor, patience, min_delta, direction, restore_best):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.direction, self.restore_best = direction, restore_best
        self.best = math.inf if direction == "min" else -math.inf
        self.best_epoch = 0  # 0: no epoch yet
        self.best_weights = None  # with restore_best: copies of the best epoch's weights
        self.wait = 0
        self.stopped_epoch = None  # the epoch training stopped after, once it has

    def update(self, epoch, logs, weights):
        """After `epoch` (counted from 1) with these logs: True to stop. `weights()` gives
        copies of the current weights, taken only when restore_best needs them."""
        value = logs[self.monitor]
        self.wait += 1
        if improved(value, self.best, self.min_delta, self.direction):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_weights = weights()
            return False
        if self.wait >= self.patience and epoch > 1:
            self.stopped_epoch = epoch
            return True
        return False

    def report(self):
        """The line a run prints when it stopped early."""
        kept = f"; the weights of epoch {self.best_epoch} restored" if self.restore_best else ""
        return (f"early stopping: {self.monitor} did not improve for {self.wait} epochs; stopped after epoch "
                f"{self.stopped_epoch} (best {self.monitor} {self.best:.4f} at epoch {self.best_epoch}{kept})")

    def state(self):
        """What a checkpoint keeps, as JSON (best_weights go as arrays)."""
        best = self.best if math.isfinite(self.best) else None  # JSON has no infinity
        return {"best": best, "best_epoch": self.best_epoch, "wait": self.wait, "stopped_epoch": self.stopped_epoch}

    def load_state(self, state, best_weights):
        if state["best"] is not None:
            self.best = state["best"]
        self.best_epoch, self.wait, self.stopped_epoch = state["best_epoch"], state["wait"], state["stopped_epoch"]
        self.best_weights = best_weights or None
