import numpy as np


def dropout_mask(rng, shape, rate):
    """A dropout mask as the NumPy backend draws it: 0 for a dropped unit, 1/(1 − rate) for a kept one."""
    return (rng.random(shape, dtype=np.float32) >= rate).astype(np.float32) * np.float32(1 / (1 - rate))
