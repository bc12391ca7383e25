import numpy as np

GELU_C = np.float32(np.sqrt(2 / np.pi))


def gelu_forward(z, out):
    """The tanh approximation of GELU: h = ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))."""
    t = np.tanh(GELU_C * (z + np.float32(0.044715) * z**3))
    return np.multiply(np.float32(0.5) * z, 1 + t, out=out)


def gelu_backward(z, h, dh, out):
    """∂h/∂z = ½·(1 + t) + ½·z·(1 − t²)·√(2/π)·(1 + 3·0.044715·z²), t as in the forward pass."""
    t = np.tanh(GELU_C * (z + np.float32(0.044715) * z**3))
    local = 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * GELU_C * (1 + np.float32(3 * 0.044715) * z * z)
    return np.multiply(dh, local, out=out)
