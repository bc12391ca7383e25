import numpy as np


def sigmoid_binary_crossentropy(z, y, dz):
    """Binary cross-entropy of p = sigmoid(z) against 0/1 labels y, from the logits z.

    Fused with the sigmoid for stability: L = mean(max(z, 0) − z·y + log(1 + exp(−|z|))),
    which never takes log(0); its local derivative is the famously simple ∂L/∂z = (p − y) / N.
    Writes ∂L/∂z into dz and returns L.
    """
    # np.logaddexp(0, z) = log(1 + e^z) is computed as max(z, 0) + log1p(exp(−|z|)); .sum() / size
    # is the mean without np.mean's Python-level checks, which cost more than a small batch's arithmetic
    loss = (np.logaddexp(0, z) - z * y).sum() / z.size
    with np.errstate(over="ignore"):
        np.negative(z, out=dz)
        np.exp(dz, out=dz)
    dz += 1
    np.reciprocal(dz, out=dz)
    dz -= y
    dz /= z.size
    return float(loss)
