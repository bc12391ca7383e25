import torch


def select_device():
    """A CUDA GPU when torch sees one, else the CPU (compiled with -t auto)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
