"""The layers of a plain NumPy program: each one's forward pass and its backward pass (the chain rule)."""

import numpy as np


class Dense:
    """z = W·x + b, for a batch of rows x: z = x·Wᵀ + b, with W of shape (units, inputs)."""

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.params = [W, b]

    def forward(self, x, training):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dz):
        self.grads = [dz.T @ self.x, dz.sum(axis=0)]  # ∂L/∂W = dzᵀ·x, ∂L/∂b = Σ dz over the rows
        return dz @ self.W  # ∂L/∂x


class Penalty:
    """The spec's weight penalty l1·Σ|W| + l2·ΣW², added to the loss, and its gradient to ∂L/∂W."""

    def __init__(self, *args, l1=0.0, l2=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l1, self.l2 = l1, l2

    def backward(self, dz):
        dx = super().backward(dz)
        if self.params:
            self.grads[0] = self.grads[0] + self.l1 * np.sign(self.W) + 2 * self.l2 * self.W
        return dx

    def penalty(self):
        return self.l1 * np.abs(self.W).sum() + self.l2 * np.square(self.W).sum()


class PenalizedDense(Penalty, Dense):
    """A Dense layer with a weight penalty."""


def frozen(layer):
    """The layer with nothing to train (trainable=false): the optimizer leaves its weights as they start."""
    layer.params = []
    return layer


class Dropout:
    """In training, zero each unit with probability `rate` and scale the rest by 1/(1 − rate)."""

    params = ()

    def __init__(self, rate, rng):
        self.rate, self.rng = rate, rng

    def forward(self, x, training):
        if not training:
            return x
        self.mask = (self.rng.random(x.shape, dtype=np.float32) >= self.rate) * np.float32(1 / (1 - self.rate))
        return x * self.mask

    def backward(self, dh):
        return dh * self.mask


class Flatten:
    """Each image (h, w, c) as one row of h·w·c values, in that order."""

    params = ()

    def forward(self, x, training):
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dh):
        return dh.reshape(self.shape)
