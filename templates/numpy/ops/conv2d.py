import numpy as np


def conv2d_windows(x, kernel, stride, pad):
    """Every (kh, kw) window of the zero-padded x, `stride` apart: a view (n, oh, ow, kh, kw, c_in).

    The last three axes are a patch in the order of W's (kh, kw, c_in).
    """
    top, bottom, left, right = pad
    if top or bottom or left or right:
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))  # (n, h', w', c_in, kh, kw)
    return windows[:, :: stride[0], :: stride[1]].transpose(0, 1, 2, 4, 5, 3)


def conv2d_offsets(patches, shape):
    """The patch matrix seen as [i, j] → (n, oh, ow, c_in): what every patch holds at kernel offset
    (i, j). A view of either layout conv2d_patches and conv2d_patches_by_weight write; shape is
    (n, oh, ow, kh, kw, c_in).
    """
    n, oh, ow, kh, kw, c_in = shape
    if patches.flags.c_contiguous:  # one patch per row
        return patches.reshape(shape).transpose(3, 4, 0, 1, 2, 5)
    return patches.T.reshape(kh, kw, c_in, n, oh, ow).transpose(0, 1, 3, 4, 5, 2)  # one weight per column


def conv2d_patches(x, kernel, stride, pad, out):
    """im2col: every window of x copied into `out`, the (n·oh·ow, kh·kw·c_in) patch matrix, one patch
    per row (row-major), in one copy. Made once a step: the forward product and ∂L/∂W read it.
    """
    windows = conv2d_windows(x, kernel, stride, pad)
    np.copyto(out.reshape(windows.shape), windows)
    return out


def conv2d_patches_by_weight(x, kernel, stride, pad, out):
    """im2col for a few input channels: the same patch matrix, column-major (`out` order="F"), so
    each weight's column is contiguous. One strided copy of x per kernel offset fills kh·kw columns'
    worth of whole image rows at once: with one channel 6x faster than copying kh·kw-wide rows.
    """
    windows = conv2d_windows(x, kernel, stride, pad)
    cells = conv2d_offsets(out, windows.shape)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            np.copyto(cells[i, j], windows[:, :, :, i, j])
    return out


def conv2d_forward(patches, W, b, out):
    """Local output of a convolution: a dense layer on every patch, z[n, i, j] = W·patch(n, i, j) + b.

    patches is the (n·oh·ow, kh·kw·c_in) matrix conv2d_patches made; W is (c_out, kh, kw, c_in), so
    W.reshape(c_out, −1) is the lecture's n_out × n_in matrix for a patch flattened in (kh, kw,
    c_in) order; b is (c_out,). `out` is (n, oh, ow, c_out), C-contiguous. All patches at once are
    one matrix product, patches·Wᵀ.
    """
    c_out = W.shape[0]
    np.matmul(patches, W.reshape(c_out, -1).T, out=out.reshape(-1, c_out))
    out += b
    return out


def conv2d_backward(dout, patches, W, stride, pad, dW=None, db=None, dx=None):
    """Local derivatives of z = patches·Wᵀ + b: ∂L/∂W = Σ over cells of dz ⊗ patch, ∂L/∂b = Σ dz,
    and ∂L/∂x the sum, over the windows containing each input cell, of dz·W.

    dout is ∂L/∂z, (n, oh, ow, c_out); patches the forward's patch matrix. Each gradient is
    computed only where a buffer is given (dW like W and db like b, both or neither; dx like x;
    all C-contiguous): frozen layers need no ∂L/∂W, the first layer no ∂L/∂x. ∂L/∂W is one
    product, dzᵀ·patches. ∂L/∂x: one product dz·W gives ∂L/∂patches, written over the patches
    (nothing reads them after ∂L/∂W), and each of the kh·kw kernel offsets adds its part of it
    into the cells that offset read — a strided slice of a zero-padded buffer, whose interior is
    ∂L/∂x.
    """
    c_out, kh, kw, c_in = W.shape
    n, oh, ow = dout.shape[:3]
    dz = dout.reshape(-1, c_out)
    if dW is not None:
        np.matmul(dz.T, patches, out=dW.reshape(c_out, -1))
        np.matmul(np.ones(len(dz), dz.dtype), dz, out=db)  # 1ᵀ·dz: 4x faster than dz.sum(axis=0)
    if dx is not None:
        dpatches = np.matmul(dz, W.reshape(c_out, -1), out=patches)
        cells = conv2d_offsets(dpatches, (n, oh, ow, kh, kw, c_in))
        top, bottom, left, right = pad
        sh, sw = stride
        if top or bottom or left or right:
            padded = np.zeros((n, top + dx.shape[1] + bottom, left + dx.shape[2] + right, c_in), dx.dtype)
        else:
            padded = dx
            padded.fill(0)
        for i in range(kh):
            for j in range(kw):
                padded[:, i : i + sh * oh : sh, j : j + sw * ow : sw] += cells[i, j]
        if padded is not dx:
            dx[...] = padded[:, top : top + dx.shape[1], left : left + dx.shape[2]]
