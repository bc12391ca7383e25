import numpy as np


class SGD:
    """Gradient descent, as the lecture writes it: θ ← θ − lr·∂L/∂θ."""

    def __init__(self, params, grads, lr):
        self.params, self.grads, self.lr = params, grads, np.float32(lr)

    def step(self):
        for p, g in zip(self.params, self.grads, strict=True):
            g *= self.lr  # the gradient buffer is scratch until the next backward pass
            p -= g

    def state(self):
        return {}

    def load_state(self, state):
        pass
