"""Reading arrays from an .npz file without ever unpickling (DataError comes from errors.py,
check_npy_header from common/npy_header.py)."""

import difflib
import zipfile
import zlib
from pathlib import Path

import numpy as np


def load_npz(path: Path, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    """The features x (samples × features, or images: samples × height × width × channels), float32,
    and the targets y (samples,) or (samples, m), float64.

    The file is what np.savez or np.savez_compressed writes: a zip archive of .npy arrays,
    here the arrays named `x_key` and `y_key`. It is opened with allow_pickle=False, so an
    array of Python objects is refused, never unpickled. Both arrays must hold finite
    numbers (bool, int or float) and have the same number of rows. x may also hold images:
    4-D (samples × height × width × channels) is kept as it is, 3-D (samples × height ×
    width) is one channel and becomes (samples, height, width, 1); their values are used as
    they are (scale uint8 pixels to [0, 1] before saving, if that is what the model expects).
    Every problem raises DataError, its message starting with the file's path.
    """
    path = Path(path)
    check_data_file(path, "an .npz file")
    try:
        with open(path, "rb") as file:
            magic = file.read(6)
        if magic == b"\x93NUMPY":
            raise DataError(f"{path}: a single .npy array, not an .npz archive; save x and y together with np.savez")
        if not magic.startswith(b"PK"):
            raise DataError(f"{path}: not an .npz file (the zip archive of arrays that np.savez writes)")
        with np.load(path, allow_pickle=False) as archive:
            x = npz_array(path, archive, x_key)
            y = npz_array(path, archive, y_key)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise DataError(f"{path}: a corrupt or truncated .npz file ({err})") from None

    if x.ndim < 2:
        raise DataError(f"{path}: {x_key!r} has shape {x.shape}; it must be 2-D (samples × features)")
    if x.ndim > 4:
        raise DataError(
            f"{path}: {x_key!r} has shape {x.shape}; it must be 2-D (samples × features), 3-D (samples × height × "
            "width) or 4-D (samples × height × width × channels)"
        )
    if y.ndim not in (1, 2):
        raise DataError(f"{path}: {y_key!r} has shape {y.shape}; it must be 1-D (samples) or 2-D (samples × targets)")
    if len(x) != len(y):
        raise DataError(f"{path}: {x_key!r} has {len(x)} samples but {y_key!r} has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{path}: {x_key!r} and {y_key!r} hold no samples")
    if (x.ndim == 2 and x.shape[1] == 0) or (y.ndim == 2 and y.shape[1] == 0):
        raise DataError(f"{path}: {x_key!r} has shape {x.shape} and {y_key!r} shape {y.shape}: no columns to use")
    if 0 in x.shape[1:]:
        raise DataError(f"{path}: {x_key!r} has shape {x.shape}: images without pixels")

    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf, caught just below
        x_out, y_out = x.astype(np.float32), y.astype(np.float64)
    for key, original, converted in ((x_key, x, x_out), (y_key, y, y_out)):
        bad = ~np.isfinite(converted)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            value = original[where].item()
            problem = "is too large for float32" if np.isfinite(value) else "is not a finite number"
            raise DataError(f"{path}: {key!r}[{', '.join(map(str, where))}] = {value!r} {problem}")
    if x_out.ndim == 3:  # grayscale images: one channel
        x_out = x_out[..., np.newaxis]
    return x_out, y_out


def npz_array(path: Path, archive, key: str) -> np.ndarray:
    """The array `key` of an open .npz archive, checked to exist and to hold numbers."""
    if key not in archive.files:
        close = [name for name in archive.files if name.lower() == key.lower()]
        close = close or difflib.get_close_matches(key, archive.files, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        held = ", ".join(repr(name) for name in archive.files) or "no arrays"
        raise DataError(f"{path}: no array {key!r}{hint}; the file holds {held}")
    try:
        name = f"{key}.npy" if f"{key}.npy" in archive.zip.namelist() else key
        check_npy_header(archive.zip, archive.zip.getinfo(name), path.stat().st_size)
        array = archive[key]
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise DataError(f"{path}: array {key!r} holds Python objects; nndsl never unpickles data") from None
        raise DataError(f"{path}: array {key!r} is corrupt ({err})") from None
    if not isinstance(array, np.ndarray):  # a zip member that is not an .npy file comes back as bytes
        raise DataError(f"{path}: {key!r} is not a NumPy array")
    if array.dtype.kind not in "biuf":
        raise DataError(f"{path}: array {key!r} has dtype {array.dtype}; it must hold numbers")
    return array
