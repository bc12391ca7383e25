"""Losses: the batch mean L, and its gradient ∂L/∂z with respect to the network's output z."""

import numpy as np


def binary_crossentropy(z, y):
    """Cross-entropy of sigmoid(z) against 0/1 labels, from the logits z: stable, and ∂L/∂z = (p − y)/n."""
    loss = np.mean(np.logaddexp(0, z) - z * y)
    return loss, (0.5 * (1 + np.tanh(z / 2)) - y) / z.size


def categorical_crossentropy(z, y):
    """Cross-entropy of softmax(z) against class labels y, from the logits z: ∂L/∂z = (p − onehot(y))/n."""
    z = z - z.max(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, y])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p[rows, y] -= 1
    return loss, p / len(y)


def mse(z, y):
    """Mean squared error; ∂L/∂z = 2(z − y)/n."""
    return np.mean((z - y) ** 2), 2 * (z - y) / z.size


def mae(z, y):
    """Mean absolute error; ∂L/∂z = sign(z − y)/n."""
    return np.mean(np.abs(z - y)), np.sign(z - y) / z.size
