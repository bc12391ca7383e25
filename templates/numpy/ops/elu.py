import numpy as np


def elu_forward(z, out, alpha):
    """h = z where z > 0, else alpha·(exp(z) − 1)."""
    negative = alpha * np.expm1(np.minimum(z, 0))
    np.copyto(out, np.where(z > 0, z, negative))
    return out


def elu_backward(z, h, dh, out, alpha):
    """∂h/∂z = 1 where z > 0, else alpha·exp(z) = h + alpha."""
    return np.multiply(dh, np.where(z > 0, np.float32(1), h + np.float32(alpha)), out=out)
