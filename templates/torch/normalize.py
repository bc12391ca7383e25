"""The data block's normalize, as the network's first module."""

import torch
from torch import nn


class InputScaling(nn.Module):
    """x' = (x - shift) / scale per input feature (the last axis: an image's channel), with the
    statistics of the training rows as buffers: in state_dict() and the checkpoint, never trained."""

    def __init__(self, features):
        super().__init__()
        self.register_buffer("shift", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))

    def forward(self, x):
        return (x - self.shift) / self.scale
