import numpy as np


def softplus_forward(z, out):
    """h = log(1 + exp(z)), computed as logaddexp(0, z) so it cannot overflow."""
    return np.logaddexp(0, z, out=out)


def softplus_backward(h, dh, out):
    """∂h/∂z = sigmoid(z) = 1 − exp(−h)."""
    np.negative(h, out=out)
    np.expm1(out, out=out)
    np.negative(out, out=out)
    return np.multiply(out, dh, out=out)
