import torch
from torch import nn


class KerasStatistics:
    """Batch normalisation as Keras (and the NumPy program) compute it. In training the batch's mean
    and *biased* variance normalise, and the running statistics move with them:
    running ← (1 − momentum)·running + momentum·batch in torch's terms (momentum = 1 − Keras's),
    with the biased variance (torch's own layers keep the unbiased one). In evaluation the running
    statistics normalise. Over every axis but the channels (dim 1)."""

    def forward(self, x):
        dims = [0, *range(2, x.ndim)]
        shape = [1, -1] + [1] * (x.ndim - 2)
        if self.training:
            mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight * torch.rsqrt(var + self.eps)
        return x * scale.view(shape) + (self.bias - mean * scale).view(shape)


class BatchNorm2d(KerasStatistics, nn.BatchNorm2d):
    """nn.BatchNorm2d over (n, c, h, w), with Keras's running statistics (KerasStatistics)."""


class BatchNorm1d(KerasStatistics, nn.BatchNorm1d):
    """nn.BatchNorm1d over (n, c), with Keras's running statistics (KerasStatistics)."""
