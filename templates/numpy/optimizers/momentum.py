import numpy as np


class Momentum:
    """SGD with momentum: v ← momentum·v + g, then θ ← θ − lr·v
    (Nesterov: θ ← θ − lr·(g + momentum·v)). PyTorch's torch.optim.SGD does the same."""

    def __init__(self, params, grads, lr, momentum, nesterov):
        self.params, self.grads = params, grads
        self.lr, self.momentum, self.nesterov = np.float32(lr), np.float32(momentum), nesterov
        self.velocity = [np.zeros_like(p) for p in params]

    def set_lr(self, lr):
        self.lr = np.float32(lr)

    def step(self):
        for p, g, v in zip(self.params, self.grads, self.velocity, strict=True):
            v *= self.momentum
            v += g
            if self.nesterov:
                g += self.momentum * v
            else:
                g[...] = v
            g *= self.lr  # the gradient buffer is scratch until the next backward pass
            p -= g

    def state(self):
        return {f"velocity.{i}": v for i, v in enumerate(self.velocity)}

    def load_state(self, state):
        for i, v in enumerate(self.velocity):
            v[...] = state[f"velocity.{i}"]
