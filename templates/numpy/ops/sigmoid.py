import numpy as np


def sigmoid_forward(z, out):
    """h = 1 / (1 + exp(−z)); exp overflows to inf for very negative z, giving h = 0 as it should."""
    with np.errstate(over="ignore"):
        np.negative(z, out=out)
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def sigmoid_backward(h, dh, out):
    """∂h/∂z = h·(1 − h)."""
    np.subtract(1, h, out=out)
    out *= h
    return np.multiply(out, dh, out=out)
