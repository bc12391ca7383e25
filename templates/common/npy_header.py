"""Checking an .npz member's .npy header before NumPy reads it (data files, weights, checkpoints)."""

import math
import tokenize
import zipfile

import numpy as np

DEFLATE_MAX_RATIO = 1032  # the most that deflate can expand its input


def check_npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int) -> None:
    """Refuse the .npy member `info` of `archive` (a file of `archive_size` bytes) with ValueError
    if its header cannot be parsed, or claims more data than the member can hold: NumPy first
    allocates what the header claims, and a damaged or hostile header can claim terabytes.

    What a member holds is bounded by its stated size and by the archive itself (whose zip
    directory may lie as well): a stored member is at most the archive's bytes, a deflated one
    at most 1032 times them. A member that is no .npy file is left to the caller.
    """
    with archive.open(info) as member:
        if member.read(6) != b"\x93NUMPY":
            return
        version = member.read(2)
        if len(version) < 2:
            raise ValueError("truncated header")
        read_header = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
        try:
            shape, _, dtype = read_header(member)
        except (SyntaxError, TypeError, tokenize.TokenError) as err:  # the header's Python literal is broken
            raise ValueError(f"unreadable header: {err}") from None
    ratio = 1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_MAX_RATIO
    holds = min(info.file_size, archive_size * ratio)
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > holds and not dtype.hasobject:  # objects are pickled: refused by the caller
        raise ValueError(f"its header claims shape {shape} of {dtype}, {claimed:,} bytes, but it holds {holds:,}")
