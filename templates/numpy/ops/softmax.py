import numpy as np


def softmax_forward(z, out):
    """h_i = exp(z_i) / Σ_j exp(z_j) per row, shifted by the row maximum so exp cannot overflow."""
    np.subtract(z, z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def softmax_backward(h, dh, out):
    """∂L/∂z_i = h_i·(∂L/∂h_i − Σ_j h_j·∂L/∂h_j): the softmax Jacobian applied to dh."""
    np.subtract(dh, np.sum(dh * h, axis=1, keepdims=True), out=out)
    return np.multiply(out, h, out=out)
