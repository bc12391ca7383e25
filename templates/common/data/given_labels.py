"""Labels a user hands to evaluate(x, y), in the forms a Keras user holds them."""

import numpy as np


def given_binary_labels(y, n):
    """0/1 labels for the n rows of x, shape (n,) or (n, 1), as integers, floats or booleans;
    as a float32 column. Anything else is a ValueError that says what was given."""
    y = _numeric_labels(y)
    if y.shape not in ((n,), (n, 1)):
        raise ValueError(f"y must hold one 0/1 label per row of x, shape ({n},) or ({n}, 1); y has shape {y.shape}")
    wrong = ~np.isin(y.reshape(-1), (0, 1))
    if wrong.any():
        row = int(np.argmax(wrong))
        raise ValueError(f"binary_crossentropy needs labels 0 or 1; y[{row}] is {y.reshape(-1)[row].item():g}")
    return y.astype(np.float32).reshape(n, 1)


def given_class_labels(y, n, classes):
    """Class labels for the n rows of x: integers 0 … classes−1 (ints or whole floats, shape (n,)
    or (n, 1)) or one-hot rows (n, classes); as int64 class indices. Anything else is a ValueError."""
    y = _numeric_labels(y)
    if y.shape == (n, classes) and classes > 1:
        one_hot = np.isin(y, (0, 1)).all(axis=1) & (y.sum(axis=1) == 1)
        if not one_hot.all():
            row = int(np.argmin(one_hot))
            raise ValueError(f"y has {classes} columns, one per class, but row {row} is not one-hot: {y[row].tolist()}")
        return y.argmax(axis=1).astype(np.int64)
    if y.shape not in ((n,), (n, 1)):
        raise ValueError(f"y must hold one class label per row of x, shape ({n},), or one-hot rows, shape "
                         f"({n}, {classes}); y has shape {y.shape}")
    y = y.reshape(n)
    wrong = (y != np.round(y)) | (y < 0) | (y >= classes)
    if wrong.any():
        row = int(np.argmax(wrong))
        raise ValueError(f"the model has {classes} classes, so labels must be integers 0 to {classes - 1}; "
                         f"y[{row}] is {y[row].item():g}")
    return y.astype(np.int64)


def given_targets(y, n, outputs):
    """Regression targets for the n rows of x, shape (n, outputs) (or (n,) for one output); as float32."""
    y = _numeric_labels(y)
    if y.shape != (n, outputs) and not (outputs == 1 and y.shape == (n,)):
        one = f" or ({n},)" if outputs == 1 else ""
        raise ValueError(f"y must hold {outputs} target{'s' if outputs != 1 else ''} per row of x, shape "
                         f"({n}, {outputs}){one}; y has shape {y.shape}")
    return y.astype(np.float32).reshape(n, outputs)


def _numeric_labels(y):
    """y as a NumPy array of numbers (booleans count as 0/1); finite, or a ValueError."""
    y = np.asarray(y)
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"y must hold numbers; it holds {y.dtype} values")
    if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
        raise ValueError("y holds NaN or infinite values")
    return y
