import numpy as np


def dropout_forward(h, rate, rng, mask, out):
    """Training (rng given): zero each unit with probability `rate`, scale the rest by 1/(1 − rate).
    Inference (rng is None): the identity."""
    if rng is None:
        mask.fill(1)
    else:
        np.greater_equal(rng.random(h.shape, dtype=np.float32), rate, out=mask)
        mask *= np.float32(1 / (1 - rate))
    return np.multiply(h, mask, out=out)


def dropout_backward(mask, dh, out):
    """∂out/∂h is the mask: dropped units pass no gradient."""
    return np.multiply(dh, mask, out=out)
