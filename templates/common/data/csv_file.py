"""Reading a numeric CSV table with a header row (DataError comes from errors.py)."""

import csv
import difflib
import io
import math
from pathlib import Path

import numpy as np

CSV_MAX_BYTES = 2**30  # 1 GiB: refuse bigger files rather than fill the memory; use .npz for those


def load_csv(path: Path, target: str, features: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """The features x (samples × features, float32) and the target y (samples,) float64 of a CSV file.

    The file is UTF-8 text (a byte-order mark is allowed) with a header row naming the
    columns. x holds the columns `features`, in that order, or, when `features` is None,
    every column but `target`, in file order. Only these columns and the target must
    hold numbers; others may hold anything. Names are compared with surrounding spaces
    removed; blank lines are skipped. Every problem raises DataError, its message starting
    with the file's path (and `:line` where there is one).
    """
    path = Path(path)
    records = csv_records(path, read_csv_text(path))
    first = next(records, None)
    if first is None:
        raise DataError(f"{path}: the file is empty; it needs a header row naming the columns, then one row per sample")
    header_line, header = first
    names = [name.strip() for name in header]
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(f"{path}:{header_line}: the header names column {name!r} twice")
        seen.add(name)

    target_index = csv_column_index(path, header_line, names, target, "target")
    if features is None:
        feature_indices = [index for index in range(len(names)) if index != target_index]
        for index in feature_indices:
            if not names[index]:
                raise DataError(
                    f"{path}:{header_line}: column {index + 1} has no name in the header; "
                    "name it, or list the features to use"
                )
        if not feature_indices:
            raise DataError(f"{path}:{header_line}: no feature columns: the only column is the target {target!r}")
    else:
        if target in features:
            raise DataError(f"{path}: column {target!r} is the target, so it cannot also be a feature")
        feature_indices = [csv_column_index(path, header_line, names, name, "feature") for name in features]

    # y first, then the features: one row of floats per sample.
    wanted = [target_index, *feature_indices]
    rows, lines = [], []
    for line, fields in records:
        if len(fields) != len(names):
            raise DataError(f"{path}:{line}: the header has {len(names)} columns, but this row has {len(fields)}")
        rows.append([csv_number(path, line, names[index], fields[index]) for index in wanted])
        lines.append(line)
    if not rows:
        raise DataError(f"{path}: no data rows after the header")

    table = np.array(rows, dtype=np.float64)
    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf, caught just below
        x = table[:, 1:].astype(np.float32)
    if not np.isfinite(x).all():
        row, column = np.argwhere(~np.isfinite(x))[0]
        name = names[feature_indices[column]]
        value = float(table[row, column + 1])
        raise DataError(f"{path}:{lines[row]}: {value!r} in column {name!r} is too large for float32")
    return x, table[:, 0]


def read_csv_text(path: Path) -> str:
    """The whole file as text, once it is known to exist, to be small enough and to be UTF-8."""
    check_data_file(path, "a CSV file")
    try:
        size = path.stat().st_size
        if size > CSV_MAX_BYTES:
            raise DataError(
                f"{path}: the file has {size / 2**30:.1f} GiB, over the {CSV_MAX_BYTES / 2**30:g} GiB limit "
                "for CSV files; store large data sets as .npz"
            )
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read the file ({err.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"
        ) from None


def csv_records(path: Path, text: str):
    """(line number, fields) for each non-blank record; the line is where the record ends."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for fields in reader:
            blank = not fields or (len(fields) == 1 and not fields[0].strip())
            if not blank:
                yield reader.line_num, fields
    except csv.Error as err:
        raise DataError(f"{path}:{reader.line_num}: malformed CSV ({err})") from None


def csv_column_index(path: Path, line: int, names: list[str], name: str, role: str) -> int:
    """The position of column `name` in the header; a DataError naming the columns if it is missing."""
    if name in names:
        return names.index(name)
    close = [column for column in names if column.lower() == name.lower()]
    close = close or difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(repr(column) for column in names[:20])
    if len(names) > 20:
        shown += f", … ({len(names)} in all)"
    message = f"{path}:{line}: no {role} column {name!r}{hint}; the header has {shown}"
    if all(is_csv_number(column) for column in names):
        message += " (that row looks like data: the file needs a header row naming the columns)"
    raise DataError(message)


def is_csv_number(text: str) -> bool:
    """Whether a cell reads as a number (the way csv_number reads it)."""
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text


def csv_number(path: Path, line: int, column: str, text: str) -> float:
    """One cell as a finite float; a DataError echoing the cell and naming its column otherwise."""
    if not text.strip():
        raise DataError(f"{path}:{line}: empty cell in column {column!r}")
    if not is_csv_number(text):
        raise DataError(f"{path}:{line}: {text!r} in column {column!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise DataError(f"{path}:{line}: {text!r} in column {column!r}: NaN and infinite values are not allowed")
    return value
