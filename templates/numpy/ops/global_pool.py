import numpy as np


def global_avgpool_forward(x, out):
    """Local output of global average pooling: the mean over h and w, (n, h, w, c) → (n, c)."""
    return np.mean(x, axis=(1, 2), out=out)


def global_avgpool_backward(dout, out):
    """∂out/∂x = 1/(h·w) at every cell: each cell gets its channel's dout/(h·w). `out` is ∂L/∂x."""
    h, w = out.shape[1:3]
    return np.divide(dout[:, None, None, :], h * w, out=out)


def global_maxpool_forward(x, out):
    """Local output of global max pooling: the largest cell over h and w, (n, h, w, c) → (n, c)."""
    return np.max(x, axis=(1, 2), out=out)


def global_maxpool_backward(dout, x, out):
    """∂out/∂x is 1 at each channel's maximum, 0 elsewhere: dout goes to that cell; `out` is ∂L/∂x.

    Where the maximum is held more than once, the first in row-by-row order takes it all, as
    max pooling over the whole image does (tf.reduce_max, behind Keras' GlobalMaxPooling2D,
    would split it evenly among the ties; after a ReLU the tied cells are the zeros, whose
    gradient the ReLU stops either way).
    """
    n, h, w, c = x.shape
    first = np.argmax(x.reshape(n, h * w, c), axis=1)  # (n, c): argmax returns the first maximum
    out.fill(0)
    np.put_along_axis(out.reshape(n, h * w, c), first[:, None, :], dout[:, None, :], axis=1)
    return out
