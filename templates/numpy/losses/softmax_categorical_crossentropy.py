import numpy as np


def softmax_categorical_crossentropy(z, labels, dz, scale=1.0):
    """Cross-entropy of q = softmax(z) against integer class labels, from the logits z.

    Fused with the softmax for stability: L = mean(logsumexp(z) − z[label]), computed with
    the row maximum subtracted; its local derivative is ∂L/∂z = (q − onehot(label)) / N.
    Writes scale·∂L/∂z into dz (the trainer of plain SGD passes the learning rate) and returns L.
    """
    rows = np.arange(len(z))
    np.subtract(z, z.max(axis=1, keepdims=True), out=dz)
    picked = dz[rows, labels]
    np.exp(dz, out=dz)
    total = dz.sum(axis=1)
    loss = (np.log(total) - picked).sum() / len(z)  # the mean, without np.mean's overhead
    step = scale / len(z)
    dz *= (step / total)[:, None]  # q = exp / total, times scale/N, in one pass
    dz[rows, labels] -= step
    return float(loss)
