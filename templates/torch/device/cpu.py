import torch


def select_device():
    """The CPU (compiled with -t cpu)."""
    return torch.device("cpu")
