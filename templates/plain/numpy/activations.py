"""Activations: h = f(z) forward, ∂L/∂z = ∂L/∂h · f'(z) backward."""

import numpy as np


class Activation:
    """An activation has no parameters."""

    params = ()


class ReLU(Activation):
    def forward(self, z, training):
        self.h = np.maximum(z, 0)
        return self.h

    def backward(self, dh):
        return dh * (self.h > 0)


class Sigmoid(Activation):
    def forward(self, z, training):
        self.h = 0.5 * (1 + np.tanh(z / 2))  # 1 / (1 + e^−z), without overflow
        return self.h

    def backward(self, dh):
        return dh * self.h * (1 - self.h)


class Tanh(Activation):
    def forward(self, z, training):
        self.h = np.tanh(z)
        return self.h

    def backward(self, dh):
        return dh * (1 - self.h * self.h)


class Softmax(Activation):
    def forward(self, z, training):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.h = e / e.sum(axis=1, keepdims=True)
        return self.h

    def backward(self, dh):
        return self.h * (dh - np.sum(dh * self.h, axis=1, keepdims=True))


class LeakyReLU(Activation):
    def __init__(self, alpha):
        self.alpha = np.float32(alpha)

    def forward(self, z, training):
        self.z = z
        return np.where(z > 0, z, self.alpha * z)

    def backward(self, dh):
        return dh * np.where(self.z > 0, np.float32(1), self.alpha)


class ELU(Activation):
    def __init__(self, alpha):
        self.alpha = np.float32(alpha)

    def forward(self, z, training):
        self.z = z
        self.h = np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))
        return self.h

    def backward(self, dh):
        return dh * np.where(self.z > 0, np.float32(1), self.h + self.alpha)


class GELU(Activation):
    """GELU in its tanh approximation: ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))."""

    c = np.float32(np.sqrt(2 / np.pi))

    def forward(self, z, training):
        self.z, self.t = z, np.tanh(self.c * (z + np.float32(0.044715) * z**3))
        return 0.5 * z * (1 + self.t)

    def backward(self, dh):
        z, t = self.z, self.t
        return dh * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * self.c * (1 + np.float32(3 * 0.044715) * z * z))


class Softplus(Activation):
    def forward(self, z, training):
        self.h = np.logaddexp(0, z)  # log(1 + e^z)
        return self.h

    def backward(self, dh):
        return dh * -np.expm1(-self.h)  # sigmoid(z) = 1 − e^−h
