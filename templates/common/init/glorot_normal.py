import numpy as np


def glorot_normal(rng, shape, fan_in, fan_out):
    """Gaussian with variance 2 / (fan_in + fan_out), the lecture's 2 / (n_in + n_out): its choice
    for sigmoid and tanh."""
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal(shape) * std).astype(np.float32)
