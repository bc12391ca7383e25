"""The random streams: one seed gives the same numbers on every backend."""

import numpy as np


def random_streams(seed):
    """Three independent NumPy generators from one seed: initial weights, batch order, dropout."""
    init, shuffle, dropout = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(init), np.random.default_rng(shuffle), np.random.default_rng(dropout)
