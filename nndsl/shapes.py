"""Sizes along one spatial axis (height or width) of a convolution or pooling window.

One rule for every backend, TensorFlow's (`kernel_shape_util.cc`): `valid` pads nothing;
`same` pads so that out = ⌈size / stride⌉, with the odd cell of an odd total after the input
(bottom, right). The compiler computes the padding here and hands each backend the four
numbers (top, bottom, left, right), so no backend has its own idea of `same`.
"""

from __future__ import annotations


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after): the cells `same` adds before and after `size` cells.

    out = ⌈size / stride⌉ windows need (out − 1)·stride + kernel cells; the missing ones are
    split with the extra one after.

    >>> same_padding(28, 3, 1)    # odd kernel, stride 1: the same on both sides
    (1, 1)
    >>> same_padding(28, 2, 1)    # even kernel: the extra cell goes after
    (0, 1)
    >>> same_padding(28, 4, 2)    # 14 windows of 4 every 2 cells need 30
    (1, 1)
    >>> same_padding(5, 2, 2)     # 3 windows need 6 cells
    (0, 1)
    >>> same_padding(6, 2, 2)     # 3 windows fit as they are
    (0, 0)
    >>> same_padding(2, 4, 1)     # a kernel larger than the input
    (1, 2)
    """
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + kernel - size)
    return total // 2, total - total // 2


def output_size(size: int, kernel: int, stride: int, before: int, after: int) -> int:
    """How many windows of `kernel` cells, every `stride` cells, fit in the padded axis.

    ⌊(before + size + after − kernel) / stride⌋ + 1, as TensorFlow and PyTorch count (floor, not
    Caffe's ceiling); 0 where not even one window fits, which the checker reports.

    >>> output_size(28, 3, 1, 0, 0)     # valid
    26
    >>> output_size(28, 3, 1, *same_padding(28, 3, 1))
    28
    >>> output_size(26, 2, 2, 0, 0)     # a 2×2 max pool
    13
    >>> output_size(5, 2, 2, 0, 0)      # the last row is left out
    2
    >>> output_size(5, 2, 2, *same_padding(5, 2, 2))
    3
    >>> output_size(2, 3, 1, 0, 0)      # the kernel is larger than the input
    0
    """
    return max(0, (before + size + after - kernel) // stride + 1)
