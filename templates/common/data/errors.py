class DataError(Exception):
    """A data file is missing or malformed."""


def check_data_file(path, kind):
    """DataError unless `path` names a file (not a folder) that exists; `kind` says what it should be."""
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as err:  # a name too long for the file system, a folder that cannot be searched
        raise DataError(f"{path}: cannot read the file ({err.strerror})") from None
    if not exists:
        raise DataError(f"{path}: no such file")
    if is_dir:
        raise DataError(f"{path}: is a directory, not {kind}")


def data_shape(x):
    """What the samples of x are, in words: 'rows of 3 features', 'images of 8x8x1'."""
    if x.ndim == 2:
        return f"rows of {x.shape[1]} feature{'s' if x.shape[1] != 1 else ''}"
    return "images of " + "x".join(str(n) for n in x.shape[1:])
