import numpy as np


def conv2d_patches(x, kernel, stride, pad):
    """Every (kh, kw) window of the zero-padded x, `stride` apart: a view (n, oh, ow, kh, kw, c_in).

    The last three axes are a patch in the order of W's (kh, kw, c_in), so reshaping the view
    to (n·oh·ow, kh·kw·c_in) — the one copy, "im2col" — gives one patch per row.
    """
    top, bottom, left, right = pad
    if top or bottom or left or right:
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))  # (n, h', w', c_in, kh, kw)
    return windows[:, :: stride[0], :: stride[1]].transpose(0, 1, 2, 4, 5, 3)


def conv2d_forward(x, W, b, stride, pad, out):
    """Local output of a convolution: a dense layer on every patch, z[n, i, j] = W·patch(n, i, j) + b.

    x is (n, h, w, c_in); W is (c_out, kh, kw, c_in), so W.reshape(c_out, −1) is the lecture's
    n_out × n_in matrix for a patch flattened in (kh, kw, c_in) order; b is (c_out,); stride
    is (sh, sw) and pad (top, bottom, left, right) zero cells. `out` is (n, oh, ow, c_out),
    C-contiguous. All patches at once are one matrix product, patches·Wᵀ.
    """
    c_out = W.shape[0]
    patches = conv2d_patches(x, W.shape[1:3], stride, pad)
    rows = patches.reshape(-1, patches[0, 0, 0].size)
    np.matmul(rows, W.reshape(c_out, -1).T, out=out.reshape(-1, c_out))
    out += b
    return out


def conv2d_backward(dout, x, W, stride, pad, dW=None, db=None, dx=None):
    """Local derivatives of z = patches·Wᵀ + b: ∂L/∂W = Σ over cells of dz ⊗ patch, ∂L/∂b = Σ dz,
    and ∂L/∂x the sum, over the windows containing each input cell, of dz·W.

    dout is ∂L/∂z, (n, oh, ow, c_out). Each gradient is computed only where a buffer is given
    (dW like W and db like b, both or neither; dx like x; all C-contiguous): frozen layers
    need no ∂L/∂W, the first layer no ∂L/∂x. ∂L/∂W contracts the forward's patches, taken again
    from x, with dz in one product. ∂L/∂x: one product dz·W gives ∂L/∂patch, and each of the
    kh·kw kernel offsets adds its part of it into the cells that offset read — a strided slice
    of a zero-padded buffer, whose interior is ∂L/∂x.
    """
    c_out, kh, kw, c_in = W.shape
    n, oh, ow = dout.shape[:3]
    dz = dout.reshape(-1, c_out)
    if dW is not None:
        rows = conv2d_patches(x, (kh, kw), stride, pad).reshape(dz.shape[0], -1)
        np.matmul(dz.T, rows, out=dW.reshape(c_out, -1))
        np.matmul(np.ones(len(dz), dz.dtype), dz, out=db)  # 1ᵀ·dz: 4x faster than dz.sum(axis=0)
    if dx is not None:
        dpatches = np.matmul(dz, W.reshape(c_out, -1)).reshape(n, oh, ow, kh, kw, c_in)
        top, bottom, left, right = pad
        sh, sw = stride
        if top or bottom or left or right:
            padded = np.zeros((n, top + x.shape[1] + bottom, left + x.shape[2] + right, c_in), dx.dtype)
        else:
            padded = dx
            padded.fill(0)
        for i in range(kh):
            for j in range(kw):
                padded[:, i : i + sh * oh : sh, j : j + sw * ow : sw] += dpatches[:, :, :, i, j]
        if padded is not dx:
            dx[...] = padded[:, top : top + x.shape[1], left : left + x.shape[2]]
