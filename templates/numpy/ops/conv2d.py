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


def conv2d_pooled_windows(x, kernel, stride, pad, pool):
    """The windows of the conv cells a (ph, pw) max pool with stride (ph, pw) reads, pool-major: a
    view (ph, pw, n, qh, qw, kh, kw, c_in), [di, dj, s, i, j] the window of conv cell
    (ph·i + di, pw·j + dj) of sample s. The cells of a last row or column that no pool window
    reads (an odd-sized map) are left out, so they are never computed.
    """
    windows = conv2d_windows(x, kernel, stride, pad)  # (n, oh, ow, kh, kw, c_in)
    n, oh, ow = windows.shape[:3]
    (ph, pw), (qh, qw) = pool, (oh // pool[0], ow // pool[1])
    tiled = windows[:, : qh * ph, : qw * pw].reshape(n, qh, ph, qw, pw, *windows.shape[3:])
    return tiled.transpose(2, 4, 0, 1, 3, 5, 6, 7)


def conv2d_patches(x, kernel, stride, pad, out, pool=None):
    """im2col: every window of x copied into `out`, the (n·oh·ow, kh·kw·c_in) patch matrix, one patch
    per row (row-major), in one copy. Made once a step: the forward product and ∂L/∂W read it.

    With `pool` = (ph, pw), the rows are those of conv2d_pooled_windows instead, pool-major: the
    conv output is then ph·pw contiguous blocks, one per offset of the pool's windows.
    """
    windows = conv2d_windows(x, kernel, stride, pad) if pool is None else conv2d_pooled_windows(x, kernel, stride, pad, pool)
    np.copyto(out.reshape(windows.shape), windows)
    return out


def conv2d_patches_by_weight(x, kernel, stride, pad, out, pool=None):
    """im2col for a few input channels: the same patch matrix, column-major (`out` order="F"), so
    each weight's column is contiguous. One strided copy of x per kernel offset fills kh·kw columns'
    worth of whole image rows at once: with one channel 6x faster than copying kh·kw-wide rows.
    `pool` as for conv2d_patches.
    """
    windows = conv2d_windows(x, kernel, stride, pad) if pool is None else conv2d_pooled_windows(x, kernel, stride, pad, pool)
    c_in = windows.shape[-1]
    columns = out.T.reshape(*kernel, c_in, *windows.shape[:-3])  # [i, j, c]: weight (i, j, c)'s column
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            np.copyto(columns[i, j], np.moveaxis(windows[..., i, j, :], -1, 0))
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
    product, dzᵀ·patches; ∂L/∂x is conv2d_input_gradient's, written over the patches.
    """
    c_out = W.shape[0]
    dz = dout.reshape(-1, c_out)
    if dW is not None:
        np.matmul(dz.T, patches, out=dW.reshape(c_out, -1))
        np.matmul(np.ones(len(dz), dz.dtype), dz, out=db)  # 1ᵀ·dz: 4x faster than dz.sum(axis=0)
    if dx is not None:
        conv2d_input_gradient(dout, W, stride, pad, patches, dx)


def conv2d_input_gradient(dout, W, stride, pad, dpatches, dx):
    """∂L/∂x of a convolution: the sum, over the windows containing each input cell, of dz·W.

    dout is ∂L/∂z in image order, (n, oh, ow, c_out). One product dz·W gives ∂L/∂patches,
    written into `dpatches` (the forward's patch matrix, which nothing reads after ∂L/∂W), and
    each of the kh·kw kernel offsets adds its part of it into the cells that offset read — a
    strided slice of a zero-padded buffer, whose interior is ∂L/∂x. Cells no window reads get 0.
    """
    c_out, kh, kw, c_in = W.shape
    n, oh, ow = dout.shape[:3]
    np.matmul(dout.reshape(-1, c_out), W.reshape(c_out, -1), out=dpatches)
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
    return dx


def conv2d_backward_pooled(dout, patches, W, stride, pad, pool, dW=None, db=None, dx=None, dz_image=None,
                           dpooled=None):
    """conv2d_backward for a conv whose patches are pool-major (conv2d_patches with `pool`).

    dout is ∂L/∂z in the same order, (ph·pw, n, qh, qw, c_out): ∂L/∂W = dzᵀ·patches reads it as
    it is. ∂L/∂b = Σ dz, or, given the max pool's gradient `dpooled` (n, qh, qw, c_out), Σ dpooled:
    the pool passes each window's gradient to one of its cells and 0 to the others, so the sums
    are equal, on a block's cells instead of ph·pw blocks'. For ∂L/∂x, dz is first copied into
    image order, `dz_image` (n, qh·ph, qw·pw, c_out), so that the col2im adds run along image rows;
    the input cells that only the dropped conv cells read get 0, as those cells' dz is 0.
    """
    c_out = W.shape[0]
    dz = dout.reshape(-1, c_out)
    if dW is not None:
        np.matmul(dz.T, patches, out=dW.reshape(c_out, -1))
        summed = dz if dpooled is None else dpooled.reshape(-1, c_out)
        np.matmul(np.ones(len(summed), dz.dtype), summed, out=db)
    if dx is not None:
        (ph, pw), (n, qh, qw) = pool, dout.shape[1:4]
        np.copyto(dz_image.reshape(n, qh, ph, qw, pw, c_out),
                  dout.reshape(ph, pw, n, qh, qw, c_out).transpose(2, 3, 0, 4, 1, 5))
        conv2d_input_gradient(dz_image, W, stride, pad, patches, dx)
