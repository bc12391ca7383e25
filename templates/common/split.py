"""Shuffling the samples once and splitting them into training and validation sets."""

from typing import NamedTuple

import numpy as np


class Dataset(NamedTuple):
    """Training and validation arrays (float32 features; labels as the loss needs them)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def split_data(rng, x, y, fraction):
    """Shuffle the samples, then train on the first `fraction` and validate on the rest
    (fraction 1: train on all of them; the validation arrays are empty)."""
    order = rng.permutation(len(x))
    n_train = int(np.floor(len(x) * fraction))
    if fraction == 1 and n_train > 0:
        return Dataset(x[order], y[order], x[:0], y[:0])
    if not 0 < n_train < len(x):
        raise DataError(
            f"split {fraction} of {len(x)} samples leaves {n_train} for training and "
            f"{len(x) - n_train} for validation; each needs at least one"
        )
    train, val = order[:n_train], order[n_train:]
    return Dataset(x[train], y[train], x[val], y[val])
