import numpy as np


def l1_penalty(W, dW, rate):
    """Adds rate·Σ|W| to the loss: returns it and adds its derivative rate·sign(W) to dW (if given)."""
    if dW is not None:
        dW += np.float32(rate) * np.sign(W)
    return rate * float(np.abs(W).sum())


def l2_penalty(W, dW, rate):
    """Adds rate·ΣW² to the loss: returns it and adds its derivative 2·rate·W to dW (if given)."""
    if dW is not None:
        dW += np.float32(2 * rate) * W
    return rate * float(np.square(W).sum())
