from torch import nn


class ChannelsFirst(nn.Module):
    """Images as the data hold them, (n, height, width, channels) as in Keras, to torch's (n, c, h, w)."""

    def forward(self, x):
        return x.permute(0, 3, 1, 2)
