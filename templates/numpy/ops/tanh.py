import numpy as np


def tanh_forward(z, out):
    """h = tanh(z)."""
    return np.tanh(z, out=out)


def tanh_backward(h, dh, out):
    """∂h/∂z = 1 − h²."""
    np.multiply(h, h, out=out)
    np.subtract(1, out, out=out)
    return np.multiply(out, dh, out=out)
