def flatten_forward(x):
    """(n, h, w, c) → (n, h·w·c) in (h, w, c) order, as Keras flattens: a view, nothing is copied."""
    return x.reshape(len(x), -1)


def flatten_backward(dout, x):
    """∂L/∂x is dout put back in x's shape (a view); x is read only for its shape."""
    return dout.reshape(x.shape)
