import numpy as np


def clip_global_norm(grads, max_norm):
    """Scale the gradients by min(1, max_norm/‖g‖), ‖g‖ the norm of all of them together (one
    vector): the step keeps its direction, and its gradient is at most max_norm long."""
    norm = np.sqrt(sum(np.dot(g.ravel(), g.ravel()) for g in grads))
    if norm > max_norm:
        for g in grads:
            g *= np.float32(max_norm / norm)
