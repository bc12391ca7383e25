import numpy as np


def avgpool_cell(x, i, j, stride, out_shape):
    """The cell at offset (i, j) of every window: a strided view, (n, oh, ow, c)."""
    (sh, sw), (oh, ow) = stride, out_shape[1:3]
    return x[:, i : i + sh * oh : sh, j : j + sw * ow : sw]


def avgpool_counts(x, size, stride, pad, out):
    """How many cells of x each window of `out` covers, (oh, ow, 1) in x's dtype: padding is
    left out of the count, as TensorFlow does (torch's AvgPool2d counts it unless
    count_include_pad=False)."""
    counts = []
    for axis in (0, 1):
        start = np.arange(out.shape[1 + axis]) * stride[axis]  # each window's first cell, padding included
        before, cells = pad[2 * axis], x.shape[1 + axis]
        counts.append(np.minimum(start + size[axis], before + cells) - np.maximum(start, before))
    return (counts[0][:, None] * counts[1][None, :])[:, :, None].astype(x.dtype)


def avgpool_forward(x, size, stride, pad, out):
    """Local output of average pooling: the mean of the cells of x in each (ph, pw) window.

    x is (n, h, w, c); size = (ph, pw); stride = (sh, sw); pad = (top, bottom, left, right)
    zero cells, left out of each window's count; `out` is (n, oh, ow, c). The sum runs over
    the ph·pw offsets of a window, each a strided view of every window at once.
    """
    top, bottom, left, right = pad
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0))) if any(pad) else x
    out.fill(0)
    for i in range(size[0]):
        for j in range(size[1]):
            out += avgpool_cell(padded, i, j, stride, out.shape)
    out /= avgpool_counts(x, size, stride, pad, out)
    return out


def avgpool_backward(dout, size, stride, pad, dx):
    """Local derivative of average pooling: ∂out/∂x is 1/count for each cell of x in a window
    (count: the window's cells of x), so each cell gets dout/count from every window it is in.

    dx, shaped like the forward's x, receives ∂L/∂x; the forward's values are not needed.
    """
    top, bottom, left, right = pad
    share = dout / avgpool_counts(dx, size, stride, pad, dout)
    if any(pad):  # ∂L/∂x on the padded grid
        grad = np.zeros((len(dx), top + dx.shape[1] + bottom, left + dx.shape[2] + right, dx.shape[3]), dx.dtype)
    else:
        grad = dx
        grad.fill(0)
    for i in range(size[0]):
        for j in range(size[1]):
            cell = avgpool_cell(grad, i, j, stride, dout.shape)
            cell += share
    if grad is not dx:
        dx[...] = grad[:, top : top + dx.shape[1], left : left + dx.shape[2]]
    return dx
