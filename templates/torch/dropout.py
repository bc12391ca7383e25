import numpy as np
import torch
from torch import nn


class NumpyDropout(nn.Module):
    """Inverted dropout, as nn.Dropout: in training, zero each unit with probability `rate`
    and scale the rest by 1/(1 − rate); in eval mode, the identity.

    Not nn.Dropout, because that draws its masks from torch's generator: drawing them from the
    spec's NumPy dropout stream, as the NumPy and TensorFlow programs do, gives all three the
    same masks, so the same numbers. On a GPU that costs
    one small host-to-device copy per dropout layer and step.
    """

    def __init__(self, rate, rng):
        super().__init__()
        self.rate = rate
        self.rng = rng

    def forward(self, x):
        if not self.training:
            return x
        shape = tuple(x.shape) if x.ndim == 2 else (x.shape[0], *x.shape[2:], x.shape[1])  # images: drawn (n, h, w, c)
        keep = self.rng.random(shape, dtype=np.float32) >= self.rate
        mask = torch.from_numpy(keep * np.float32(1 / (1 - self.rate)))
        return x * (mask if x.ndim == 2 else mask.permute(0, 3, 1, 2)).to(x.device)

    def extra_repr(self):
        return f"rate={self.rate}"
