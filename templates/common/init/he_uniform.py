import numpy as np


def he_uniform(rng, shape, fan_in, fan_out):
    """Uniform on ±sqrt(6 / fan_in): the same variance as he_normal (fan_out is not used)."""
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(np.float32)
