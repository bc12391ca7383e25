import numpy as np


def sigmoid_binary_crossentropy(z, y, dz, scale=1.0):
    """Binary cross-entropy of p = sigmoid(z) against 0/1 labels y, from the logits z.

    Fused with the sigmoid for stability: L = mean(max(z, 0) − z·y + log(1 + exp(−|z|))),
    which never takes log(0); its local derivative is the famously simple ∂L/∂z = (p − y) / N.
    Writes scale·∂L/∂z into dz (the trainer of plain SGD passes the learning rate) and returns L.
    """
    # np.logaddexp(0, z) = log(1 + e^z) is computed as max(z, 0) + log1p(exp(−|z|)); .sum() / size
    # is the mean without np.mean's Python-level checks, which cost more than a small batch's arithmetic
    loss = (np.logaddexp(0, z) - z * y).sum() / z.size
    # p = (1 + tanh(z/2)) / 2, which cannot overflow (1 / (1 + exp(−z)) can, in exp), so
    # scale·(p − y)/N = (tanh(z/2) + 1 − 2y) · scale/(2N)
    np.multiply(z, 0.5, out=dz)
    np.tanh(dz, out=dz)
    dz += 1
    dz -= y
    dz -= y
    dz *= scale / (2 * z.size)
    return float(loss)
