import numpy as np


def add_forward(xs, out):
    """s = a + b + …, element by element. Backward needs no function: ∂s/∂a = ∂s/∂b = 1, so each
    operand's gradient is ∂L/∂s itself."""
    np.add(xs[0], xs[1], out=out)
    for x in xs[2:]:
        out += x
    return out


def concat_forward(xs, out):
    """c = [a, b, …] side by side along the last axis (features, or an image's channels)."""
    return np.concatenate(xs, axis=-1, out=out)


def concat_backward(dout, splits):
    """∂L/∂a, ∂L/∂b, … are the slices of ∂L/∂c where each operand sat (views, nothing is copied)."""
    return np.split(dout, splits, axis=-1)


def sum_of_paths(parts, out):
    """A value that feeds several layers: ∂L/∂value is the sum of the parts each path sends back."""
    return add_forward(parts, out)
