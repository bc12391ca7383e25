"""Image layers of a plain NumPy program, on (n, height, width, channels) batches.

Each one calls the full program's operations (templates/numpy/ops: conv2d, maxpool, avgpool,
global_pool, batchnorm), which write into arrays the caller gives them; here each call gets new ones.
"""

import numpy as np


class Conv2D:
    """z = W ⋆ x + b: a dense layer W (filters, kh, kw, c) on every (kh, kw) window of x."""

    def __init__(self, W, b, stride, pad):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad
        self.params = [W, b]

    def forward(self, x, training):
        self.x_shape = x.shape
        windows = conv2d_windows(x, self.W.shape[1:3], self.stride, self.pad)  # (n, oh, ow, kh, kw, c)
        self.patches = np.array(windows).reshape(-1, self.W[0].size)  # im2col: one window a row, a copy
        z = np.empty((*windows.shape[:3], len(self.W)), dtype=np.float32)
        return conv2d_forward(self.patches, self.W, self.b, out=z)

    def backward(self, dz):
        dx = np.empty(self.x_shape, dtype=np.float32)
        self.grads = [np.empty_like(self.W), np.empty_like(self.b)] if self.params else [None, None]  # none if frozen
        conv2d_backward(np.ascontiguousarray(dz), self.patches, self.W, self.stride, self.pad, *self.grads, dx=dx)
        return dx


class PenalizedConv2D(Penalty, Conv2D):
    """A Conv2D layer with a weight penalty."""


class MaxPool:
    """The largest value of each (ph, pw) window, channel by channel."""

    params = ()

    def __init__(self, size, stride, pad, shape):
        self.size, self.stride, self.pad, self.shape = size, stride, pad, shape

    def forward(self, x, training):
        self.x = x
        self.out = maxpool_forward(x, self.size, self.stride, self.pad, out=np.empty((len(x), *self.shape), np.float32))
        return self.out

    def backward(self, dout):
        dx = np.empty(self.x.shape, dtype=np.float32)
        return maxpool_backward(dout, self.x, self.out, self.size, self.stride, self.pad, dx)


class AvgPool:
    """The mean of each (ph, pw) window, channel by channel."""

    params = ()

    def __init__(self, size, stride, pad, shape):
        self.size, self.stride, self.pad, self.shape = size, stride, pad, shape

    def forward(self, x, training):
        self.x_shape = x.shape
        return avgpool_forward(x, self.size, self.stride, self.pad, out=np.empty((len(x), *self.shape), np.float32))

    def backward(self, dout):
        dx = np.empty(self.x_shape, dtype=np.float32)
        avgpool_backward(dout, self.size, self.stride, self.pad, dx)
        return dx


class GlobalAvgPool:
    """The mean of each channel over height and width: (n, h, w, c) → (n, c)."""

    params = ()

    def forward(self, x, training):
        self.x_shape = x.shape
        return global_avgpool_forward(x, out=np.empty((len(x), x.shape[3]), np.float32))

    def backward(self, dout):
        return global_avgpool_backward(dout, out=np.empty(self.x_shape, np.float32))


class GlobalMaxPool:
    """The largest value of each channel over height and width: (n, h, w, c) → (n, c)."""

    params = ()

    def forward(self, x, training):
        self.x = x
        return global_maxpool_forward(x, out=np.empty((len(x), x.shape[3]), np.float32))

    def backward(self, dout):
        return global_maxpool_backward(dout, self.x, out=np.empty(self.x.shape, np.float32))


class BatchNorm:
    """y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + eps) per channel: the batch's μ and σ² in training
    (moving the running ones, Keras's way), the running ones after."""

    def __init__(self, channels, momentum, eps):
        self.gamma, self.beta = np.ones(channels, np.float32), np.zeros(channels, np.float32)
        self.mean, self.var = np.zeros(channels, np.float32), np.ones(channels, np.float32)
        self.momentum, self.eps = momentum, eps
        self.params = [self.gamma, self.beta]

    def forward(self, x, training):
        self.xhat, self.inv_std = np.empty_like(x), np.empty(x.shape[-1], np.float32)
        return batchnorm_forward(x, self.gamma, self.beta, self.mean, self.var, self.momentum, self.eps, training,
                                 out=np.empty_like(x), xhat=self.xhat, inv_std=self.inv_std)

    def backward(self, dy):
        self.grads = [np.empty_like(self.gamma), np.empty_like(self.beta)]  # ∂L/∂γ, ∂L/∂β
        dx = np.empty_like(dy)
        batchnorm_backward(dy, self.xhat, self.inv_std, self.gamma, *self.grads, dx=dx)
        return dx
