import numpy as np


def he_normal(rng, shape, fan_in, fan_out):
    """Gaussian with variance 2 / n_in: the lecture's choice for ReLU."""
    std = np.sqrt(2.0 / fan_in)
    return (rng.standard_normal(shape) * std).astype(np.float32)
