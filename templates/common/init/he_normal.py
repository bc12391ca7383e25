import numpy as np


def he_normal(rng, shape, fan_in, fan_out):
    """Gaussian with variance 2 / fan_in, the lecture's 2 / n_in: its choice for ReLU (fan_out is
    not used; every initialiser takes both)."""
    std = np.sqrt(2.0 / fan_in)
    return (rng.standard_normal(shape) * std).astype(np.float32)
