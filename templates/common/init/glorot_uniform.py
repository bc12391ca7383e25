import numpy as np


def glorot_uniform(rng, shape, fan_in, fan_out):
    """Uniform on ±sqrt(6 / (fan_in + fan_out)): the same variance as glorot_normal."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)
