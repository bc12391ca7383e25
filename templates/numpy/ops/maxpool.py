import numpy as np


def maxpool_padded(x, pad):
    """x with pad = (top, bottom, left, right) cells of −∞ around h and w: never a window's maximum."""
    top, bottom, left, right = pad
    if top or bottom or left or right:
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-np.inf)
    return x


def maxpool_cell(x, i, j, stride, out_shape):
    """The cell at offset (i, j) of every window: a strided view, (n, oh, ow, c)."""
    (sh, sw), (oh, ow) = stride, out_shape[1:3]
    return x[:, i : i + sh * oh : sh, j : j + sw * ow : sw]


def maxpool_forward(x, size, stride, pad, out):
    """Local output of max pooling: the largest cell of each (ph, pw) window, per channel.

    x is (n, h, w, c); size = (ph, pw); stride = (sh, sw); pad = (top, bottom, left, right)
    cells of −∞, as TensorFlow pads; `out` is (n, oh, ow, c). The maximum is taken over the
    ph·pw offsets of a window, each a strided view of every window at once.
    """
    x = maxpool_padded(x, pad)
    for i in range(size[0]):
        for j in range(size[1]):
            cell = maxpool_cell(x, i, j, stride, out.shape)
            if i == j == 0:
                out[...] = cell
            else:
                np.maximum(out, cell, out=out)
    return out


def maxpool_backward(dout, x, out, size, stride, pad, dx):
    """Local derivative of max pooling: ∂out/∂x is 1 at the cell that gave each window's
    maximum and 0 elsewhere, so dout goes to that cell (and adds up where windows overlap).

    x and out are the forward's input and output; dx, shaped like x, receives ∂L/∂x. Where a
    window holds its maximum more than once, the gradient goes to the first in window order
    (row by row), as torch's and TensorFlow's CPU kernels route it.
    """
    x = maxpool_padded(x, pad)
    grad = np.zeros(x.shape, dx.dtype) if any(pad) else dx  # ∂L/∂x on the padded grid
    if grad is dx:
        grad.fill(0)
    unrouted = np.ones(out.shape, bool)  # windows whose maximum has not been found yet
    hit = np.empty(out.shape, bool)
    for i in range(size[0]):
        for j in range(size[1]):
            np.equal(maxpool_cell(x, i, j, stride, out.shape), out, out=hit)
            hit &= unrouted
            unrouted ^= hit
            cell = maxpool_cell(grad, i, j, stride, out.shape)
            cell += dout * hit
    if grad is not dx:
        top, left = pad[0], pad[2]
        dx[...] = grad[:, top : top + dx.shape[1], left : left + dx.shape[2]]
    return dx
