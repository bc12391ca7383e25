"""The statistics of `normalize minmax`, from the training rows."""

import numpy as np


def minmax_statistics(x_train):
    """Per input feature (the last axis: an image's channel), the min and the range (max - min) of
    the training rows, as the network's normalize.shift and normalize.scale: it computes
    x' = (x - min) / (max - min), in [0, 1] on the training rows. A constant feature's range, 0, becomes 1."""
    axes = tuple(range(x_train.ndim - 1))
    low = x_train.min(axis=axes).astype(np.float64)
    spread = x_train.max(axis=axes).astype(np.float64) - low
    return {"normalize.shift": low.astype(np.float32),
            "normalize.scale": np.where(spread > 0, spread, 1.0).astype(np.float32)}
