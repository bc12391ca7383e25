"""Write digits.npz, the 8×8 handwritten digits, from the copy that ships inside scikit-learn.

    python -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-learn
    /tmp/skvenv/bin/python specs/data/make_digits.py

scikit-learn is not a dependency of nndsl: it is needed only to run this script once, and the
result is committed. `load_digits()` reads a file bundled in its wheel (nothing is downloaded):
1,797 images of 8×8 pixels with values 0 … 16 (UCI "Optical Recognition of Handwritten Digits",
see README.md). The archive holds

    x  float32 (1797, 8, 8), the pixels divided by 16, so in [0, 1] (0 is blank paper, 1 full ink)
    y  int64 (1797,), the digit 0 … 9

in scikit-learn's order. The zip members carry a fixed date, so running the script again writes
the same bytes.
"""

import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can say; np.savez would write today's


def digits_arrays() -> dict[str, np.ndarray]:
    """x (images, height, width) in [0, 1] as float32, and y the labels as int64."""
    from sklearn.datasets import load_digits  # only here: the rest needs no scikit-learn

    digits = load_digits()
    x = (digits.images / 16).astype(np.float32)
    y = digits.target.astype(np.int64)
    assert x.shape == (1797, 8, 8) and y.shape == (1797,) and 0 <= x.min() and x.max() <= 1
    return {"x": x, "y": y}


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """What np.savez_compressed writes (a deflated zip of .npy files), with a fixed date in every entry."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


if __name__ == "__main__":
    target = HERE / "digits.npz"
    write_npz(target, digits_arrays())
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")
