"""The layers of a plain NumPy program: each one's forward pass and its backward pass (the chain rule)."""

import numpy as np


class Dense:
    """z = W·x + b, for a batch of rows x: z = x·Wᵀ + b, with W of shape (units, inputs)."""

    def __init__(self, W, b, trainable=True, l1=0.0, l2=0.0):
        self.W, self.b, self.l1, self.l2 = W, b, l1, l2
        self.params = [W, b] if trainable else []

    def forward(self, x, training):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dz):
        if self.params:  # ∂L/∂W = dzᵀ·x (plus the penalty's), ∂L/∂b = Σ dz over the rows
            dW = dz.T @ self.x + self.l1 * np.sign(self.W) + 2 * self.l2 * self.W
            self.grads = [dW, dz.sum(axis=0)]
        return dz @ self.W  # ∂L/∂x

    def penalty(self):
        return self.l1 * np.abs(self.W).sum() + self.l2 * np.square(self.W).sum()


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
