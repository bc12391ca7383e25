import numpy as np


def ir_layout(name, array):
    """A parameter in the IR's layout: a conv kernel is torch's (out, in, kh, kw) as (out, kh, kw, in)."""
    return array.transpose(0, 2, 3, 1) if name in KERNELS else array


def torch_layout(name, array):
    """The IR's (out, kh, kw, in) conv kernel as torch's (out, in, kh, kw); other parameters as they are."""
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2)) if name in KERNELS else array
