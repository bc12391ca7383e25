import torch
from torch import nn


class AvgPoolSame(nn.Module):
    """Average pooling with TensorFlow's `same` padding: the padded cells are left out of each
    window's count (nn.AvgPool2d(count_include_pad=False) pads only symmetrically)."""

    def __init__(self, size, stride, pad, in_size):
        super().__init__()
        self.size, self.stride = size, stride
        self.pad = (pad[2], pad[3], pad[0], pad[1])  # F.pad's order: left, right, top, bottom
        ones = torch.ones(1, 1, *in_size)
        cells = nn.functional.avg_pool2d(nn.functional.pad(ones, self.pad), size, stride) * (size[0] * size[1])
        self.register_buffer("cells", cells, persistent=False)  # the real cells under each window

    def forward(self, x):
        summed = nn.functional.avg_pool2d(nn.functional.pad(x, self.pad), self.size, self.stride) * (
            self.size[0] * self.size[1]
        )
        return summed / self.cells
