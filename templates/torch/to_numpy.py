"""Tensors back to NumPy."""


def to_numpy(tensor):
    """A NumPy copy of a tensor, wherever it lives."""
    return tensor.detach().cpu().numpy().copy()
