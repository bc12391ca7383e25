"""The statistics of `normalize standard`, from the training rows."""

import numpy as np


def standard_statistics(x_train):
    """Per input feature (the last axis: an image's channel), the mean and the population std of
    the training rows, as the network's normalize.shift and normalize.scale: it computes
    x' = (x - mean) / std. A constant feature's std, 0, becomes 1, as scikit-learn's StandardScaler has it."""
    axes = tuple(range(x_train.ndim - 1))
    mean = x_train.mean(axis=axes, dtype=np.float64)
    std = x_train.std(axis=axes, dtype=np.float64)
    return {"normalize.shift": mean.astype(np.float32),
            "normalize.scale": np.where(std > 0, std, 1.0).astype(np.float32)}
