from torch import nn


class FlattenHWC(nn.Module):
    """(n, c, h, w) → (n, h·w·c) in (h, w, c) order, as Keras and the NumPy program flatten, so
    that the dense layer after it has the same weights on every backend."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)
