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
    offsets = [(i, j) for i in range(size[0]) for j in range(size[1])]
    if len(offsets) == 1:
        out[...] = maxpool_cell(x, 0, 0, stride, out.shape)
        return out
    (i0, j0), (i1, j1) = offsets[:2]
    np.maximum(maxpool_cell(x, i0, j0, stride, out.shape), maxpool_cell(x, i1, j1, stride, out.shape), out=out)
    for i, j in offsets[2:]:
        np.maximum(out, maxpool_cell(x, i, j, stride, out.shape), out=out)
    return out


def maxpool_backward(dout, x, out, size, stride, pad, dx):
    """Local derivative of max pooling: ∂out/∂x is 1 at the cell that gave each window's
    maximum and 0 elsewhere, so dout goes to that cell (and adds up where windows overlap).

    x and out are the forward's input and output; dx, shaped like x, receives ∂L/∂x. Where a
    window holds its maximum more than once, the gradient goes to the first in window order
    (row by row), as torch's and TensorFlow's CPU kernels route it. Where windows do not
    overlap, each cell's gradient is written once, dout·hit straight into it; only cells that
    no window reads are zeroed, so windows that tile x (2x2, stride 2, even sizes) fill nothing.
    """
    x = maxpool_padded(x, pad)
    grad = np.empty(x.shape, dx.dtype) if any(pad) else dx  # ∂L/∂x on the padded grid
    (ph, pw), (sh, sw), (oh, ow) = size, stride, out.shape[1:3]
    overlapping = sh < ph or sw < pw
    if overlapping or (sh, sw) != (ph, pw) or x.shape[1] != sh * oh or x.shape[2] != sw * ow:
        grad.fill(0)  # cells in no window (or in several, which add up)
    unrouted = np.ones(out.shape, bool)  # windows whose maximum has not been found yet
    hit = np.empty(out.shape, bool)
    routed = np.empty(out.shape, dx.dtype) if overlapping else None
    for i in range(ph):
        for j in range(pw):
            np.equal(maxpool_cell(x, i, j, stride, out.shape), out, out=hit)
            hit &= unrouted
            unrouted ^= hit
            cell = maxpool_cell(grad, i, j, stride, out.shape)
            if overlapping:
                cell += np.multiply(dout, hit, out=routed)
            else:
                np.multiply(dout, hit, out=cell)
    if grad is not dx:
        top, left = pad[0], pad[2]
        dx[...] = grad[:, top : top + dx.shape[1], left : left + dx.shape[2]]
    return dx


def maxpool_blocks_forward(z, out):
    """Max pooling of a conv output laid out pool-major (conv2d_patches with `pool`): windows that
    tile the map, no padding. z is (ph·pw, n, oh, ow, c), block k the cell at offset k (row by
    row) of every window; `out` is (n, oh, ow, c). The max over ph·pw contiguous blocks, where
    maxpool_forward reads strided 2-D views.
    """
    np.maximum(z[0], z[1], out=out)
    for block in z[2:]:
        np.maximum(out, block, out=out)
    return out


def maxpool_blocks_backward(dout, z, out, dz):
    """Local derivative of maxpool_blocks_forward: each window's dout goes to the first offset
    (row by row) holding its maximum, as torch's and TensorFlow's CPU kernels route it, and 0 to
    the others; dz, like z, gets every cell written once. The last offset takes what no earlier
    one took: a window's maximum is one of its cells.
    """
    unrouted = np.ones(out.shape, bool)  # windows whose maximum has not been found yet
    hit = np.empty(out.shape, bool)
    for block, grad in zip(z[:-1], dz[:-1], strict=True):
        np.equal(block, out, out=hit)
        hit &= unrouted
        unrouted ^= hit
        np.multiply(dout, hit, out=grad)
    np.multiply(dout, unrouted, out=dz[-1])
    return dz
