import numpy as np


class RMSprop:
    """RMSprop: s ← rho·s + (1 − rho)·g², θ ← θ − lr·g / (√s + eps).
    PyTorch's torch.optim.RMSprop (alpha=rho) does the same."""

    def __init__(self, params, grads, lr, rho, eps):
        self.params, self.grads = params, grads
        self.lr, self.rho, self.eps = np.float32(lr), np.float32(rho), np.float32(eps)
        self.square_avg = [np.zeros_like(p) for p in params]

    def set_lr(self, lr):
        self.lr = np.float32(lr)

    def step(self):
        for p, g, s in zip(self.params, self.grads, self.square_avg, strict=True):
            s *= self.rho
            s += (1 - self.rho) * g * g
            denominator = np.sqrt(s)
            denominator += self.eps
            g /= denominator
            g *= self.lr
            p -= g

    def state(self):
        return {f"square_avg.{i}": s for i, s in enumerate(self.square_avg)}

    def load_state(self, state):
        for i, s in enumerate(self.square_avg):
            s[...] = state[f"square_avg.{i}"]
