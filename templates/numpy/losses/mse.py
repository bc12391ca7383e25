import numpy as np


def mean_squared_error(y_pred, y, dy):
    """L = mean((y_pred − y)²); ∂L/∂y_pred = 2·(y_pred − y) / N. Writes the gradient into dy."""
    np.subtract(y_pred, y, out=dy)
    loss = (dy * dy).sum() / dy.size  # the mean, without np.mean's overhead
    dy *= 2 / y_pred.size
    return float(loss)
