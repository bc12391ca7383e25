import numpy as np


def normal(rng, shape, std):
    """Gaussian with the given standard deviation."""
    return (rng.standard_normal(shape) * std).astype(np.float32)
