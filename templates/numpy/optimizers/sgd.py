import numpy as np


class SGD:
    """Gradient descent, as the lecture writes it: θ ← θ − lr·∂L/∂θ.

    With scaled_grads the gradient buffers already hold lr·∂L/∂θ (the trainer scaled ∂L/∂output
    before backpropagating), so a step is a single pass over each parameter: θ ← θ − g.
    """

    def __init__(self, params, grads, lr, scaled_grads=False):
        self.params, self.grads, self.lr = params, grads, np.float32(lr)
        self.scaled_grads = scaled_grads

    def set_lr(self, lr):
        self.lr = np.float32(lr)

    def step(self):
        for p, g in zip(self.params, self.grads, strict=True):
            if not self.scaled_grads:
                g *= self.lr  # the gradient buffer is scratch until the next backward pass
            p -= g

    def state(self):
        return {}

    def load_state(self, state):
        pass
