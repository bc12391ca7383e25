import numpy as np


class Adam:
    """Adam (Kingma & Ba, Algorithm 1): m and v are running means of g and g²,
    bias-corrected, and θ ← θ − lr·m̂ / (√v̂ + eps). PyTorch's torch.optim.Adam does the same."""

    def __init__(self, params, grads, lr, beta1, beta2, eps):
        self.params, self.grads = params, grads
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def set_lr(self, lr):
        self.lr = lr  # a Python float: the bias-corrected step size is computed in float64, as torch does

    def step(self):
        self.t += 1
        step_size = np.float32(self.lr / (1 - self.beta1**self.t))
        root_correction = np.float32(np.sqrt(1 - self.beta2**self.t))
        for p, g, m, v in zip(self.params, self.grads, self.m, self.v, strict=True):
            m *= np.float32(self.beta1)
            m += np.float32(1 - self.beta1) * g
            v *= np.float32(self.beta2)
            v += np.float32(1 - self.beta2) * g * g
            np.sqrt(v, out=g)  # g is scratch from here on
            g /= root_correction
            g += np.float32(self.eps)
            np.divide(m, g, out=g)
            g *= step_size
            p -= g

    def state(self):
        arrays = {f"m.{i}": m for i, m in enumerate(self.m)} | {f"v.{i}": v for i, v in enumerate(self.v)}
        return arrays | {"t": np.array(self.t)}

    def load_state(self, state):
        for i, (m, v) in enumerate(zip(self.m, self.v, strict=True)):
            m[...] = state[f"m.{i}"]
            v[...] = state[f"v.{i}"]
        self.t = int(state["t"])
