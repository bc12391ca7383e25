import numpy as np


def leaky_relu_forward(z, out, alpha):
    """h = z where z > 0, else alpha·z."""
    np.copyto(out, np.where(z > 0, z, alpha * z))
    return out


def leaky_relu_backward(z, h, dh, out, alpha):
    """∂h/∂z = 1 where z > 0, else alpha."""
    return np.multiply(dh, np.where(z > 0, np.float32(1), np.float32(alpha)), out=out)
