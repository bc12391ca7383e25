"""Optimizers: each step moves every parameter θ, in place, against its gradient g."""

import numpy as np


class SGD:
    """θ ← θ − lr·g."""

    def __init__(self, params, lr):
        self.params, self.lr = params, lr

    def step(self, grads):
        for p, g in zip(self.params, grads, strict=True):
            p -= self.lr * g


class Momentum:
    """SGD with momentum: v ← momentum·v + g; θ ← θ − lr·v (nesterov: θ ← θ − lr·(g + momentum·v))."""

    def __init__(self, params, lr, momentum, nesterov=False):
        self.params, self.lr, self.momentum, self.nesterov = params, lr, momentum, nesterov
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        for p, g, v in zip(self.params, grads, self.v, strict=True):
            v *= self.momentum
            v += g
            p -= self.lr * (g + self.momentum * v if self.nesterov else v)


class Adam:
    """Kingma & Ba, Algorithm 1: θ ← θ − lr·m̂/(√v̂ + eps), m̂ and v̂ the bias-corrected means of g and g²."""

    def __init__(self, params, lr, beta1, beta2, eps):
        self.params, self.lr, self.beta1, self.beta2, self.eps = params, lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m[:] = self.beta1 * m + (1 - self.beta1) * g
            v[:] = self.beta2 * v + (1 - self.beta2) * g * g
            m_hat = m / (1 - self.beta1**self.t)
            v_hat = v / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class RMSprop:
    """s ← rho·s + (1 − rho)·g²; θ ← θ − lr·g/(√s + eps)."""

    def __init__(self, params, lr, rho, eps):
        self.params, self.lr, self.rho, self.eps = params, lr, rho, eps
        self.s = [np.zeros_like(p) for p in params]

    def step(self, grads):
        for p, g, s in zip(self.params, grads, self.s, strict=True):
            s[:] = self.rho * s + (1 - self.rho) * g * g
            p -= self.lr * g / (np.sqrt(s) + self.eps)
