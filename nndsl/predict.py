"""`nndsl predict`: run a trained model on new data, on any backend.

The model runs as the spec's inference program (`nndsl.generate` of the spec without its data,
loss and train blocks: predict, weights in and out), with the weights of a `weights.npz`. The
inputs are read by the same checked readers the generated programs use for their data files
(templates/common/data/), so a bad file gets the same messages, naming the file and its row:

* a CSV file with a header row: the feature columns by name, as in training (a CSV spec's
  `features`, or every column of its training file but the target, in that file's order; for Playground data the coordinates `x1`, `x2`,
  from which the spec's features, `x1^2`, `sin(x1)`, …, are computed as in training; for a spec
  with only a model, every column, in order); other columns are ignored;
* an .npz file: its array `x` (the spec's `npz(x=…)` key), rows of features or images as the
  model takes them (for Playground data: the (n, 2) coordinates).

The output is CSV, one row per sample, a header naming the columns: the target's name (`y` for
a Playground set) for regression, `probability` (of class 1) for a binary classifier,
`class_0`, `class_1`, … (the softmax's probabilities) for several classes.
"""

from __future__ import annotations

import dataclasses
import io
import sys
import types
from pathlib import Path

import numpy as np

from nndsl import ir
from nndsl.codegen.common import FEATURE_EXPRESSIONS
from nndsl.errors import visible
from nndsl.resources import resource_dir


class PredictError(Exception):
    """Bad input for `nndsl predict`: the message names the file (and row)."""


#: The snippets of the generated programs that read data files, in the order they depend on each other.
READERS = ("common/data/errors.py", "common/npy_header.py", "common/data/csv_file.py", "common/data/npz_file.py")


def _readers() -> types.ModuleType:
    """The generated programs' data readers, as one module (the way they sit in a generated program)."""
    module = types.ModuleType("nndsl_data_readers")
    for name in READERS:
        path = resource_dir("templates") / name
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    return module


def read_inputs(program: ir.Program, path: Path) -> np.ndarray:
    """The model's inputs from a CSV or .npz file, float32, as the spec's training data hold them."""
    readers = _readers()
    try:
        if path.suffix.lower() == ".npz":
            x = _npz_inputs(readers, program, path)
        elif path.suffix.lower() == ".csv":
            x = _csv_inputs(readers, program, path)
        else:
            raise PredictError(f"{path}: the input must be a .csv or an .npz file")
    except readers.DataError as error:
        raise PredictError(str(error)) from None
    expected = program.model.in_shape
    if x.shape[1:] != expected:
        wanted = (f"rows of {expected[0]} feature{'s' if expected[0] != 1 else ''}" if len(expected) == 1
                  else "images of " + "x".join(map(str, expected)))
        raise PredictError(f"{path}: the model takes {wanted}, but the file has {readers.data_shape(x)}")
    return x


def _input_columns(readers, program: ir.Program, names: list[str]) -> tuple[list[str], bool]:
    """The CSV columns to read, and whether they are Playground coordinates (features computed from them)."""
    data = program.data
    if data is not None and isinstance(data.source, ir.PlaygroundData):
        return [name for name in ("x1", "x2") if any(name in f.name for f in data.features)], True
    if data is not None and data.features is not None:
        return [f.name for f in data.features], False
    if data is not None and isinstance(data.source, ir.CsvData):
        return _training_columns(readers, program, data.source), False
    return names, False  # a model alone (or npz data): every column, in order


def _training_columns(readers, program: ir.Program, source: ir.CsvData) -> list[str]:
    """A CSV spec without `features` trains on every column of its file but the target, in the
    file's order: those names, from the training file's header (beside the spec, as `nndsl train`
    reads it), so that an input file's columns are matched by name, whatever their order."""
    path = Path(program.filename).parent / source.path
    try:
        first = next(readers.csv_records(path, readers.read_csv_text(path)), None)
    except readers.DataError as error:
        raise PredictError(f"the spec lists no features, so the model's inputs are the columns of its training file "
                           f"but the target, by name; that file cannot be read: {error} (list them with 'features' "
                           "in the data block to predict without it)") from None
    if first is None:
        raise PredictError(f"{path}: the training file is empty; its header names the model's input columns")
    return [name.strip() for name in first[1] if name.strip() != source.target]


def _csv_inputs(readers, program: ir.Program, path: Path) -> np.ndarray:
    records = readers.csv_records(path, readers.read_csv_text(path))
    first = next(records, None)
    if first is None:
        raise readers.DataError(f"{path}: the file is empty; it needs a header row naming the columns")
    header_line, header = first
    names = [name.strip() for name in header]
    columns, coordinates = _input_columns(readers, program, names)
    indices = [readers.csv_column_index(path, header_line, names, name, "feature") for name in columns]
    rows = []
    for line, fields in records:
        if len(fields) != len(names):
            raise readers.DataError(f"{path}:{line}: the header has {len(names)} columns, but this row has {len(fields)}")
        row = [readers.csv_number(path, line, names[index], fields[index]) for index in indices]
        with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf, refused here
            finite = np.isfinite(np.array(row, dtype=np.float32))
        if not finite.all():
            name = columns[int(np.argmin(finite))]
            raise readers.DataError(f"{path}:{line}: a value in column {name!r} is too large for float32")
        rows.append(row)
    if not rows:
        raise readers.DataError(f"{path}: no data rows after the header")
    table = np.array(rows, dtype=np.float64)
    if coordinates:
        points = np.zeros((len(table), 2))
        for column, name in zip(table.T, columns, strict=True):
            points[:, int(name[1]) - 1] = column
        return playground_features(program, points)
    return table.astype(np.float32)


def _npz_inputs(readers, program: ir.Program, path: Path) -> np.ndarray:
    data = program.data
    key = data.source.x_key if data is not None and isinstance(data.source, ir.NpzData) else "x"
    readers.check_data_file(path, "an .npz file")
    try:
        with open(path, "rb") as file:
            if not file.read(2) == b"PK":
                raise readers.DataError(f"{path}: not an .npz file (the zip archive of arrays that np.savez writes)")
        with np.load(path, allow_pickle=False) as archive:
            x = readers.npz_array(path, archive, key)
    except (OSError, EOFError, ValueError) as error:
        raise readers.DataError(f"{path}: a corrupt or truncated .npz file ({error})") from None
    if x.ndim not in (2, 3, 4) or len(x) == 0:
        raise readers.DataError(f"{path}: {key!r} has shape {x.shape}; it must hold samples: rows of features, or images")
    with np.errstate(over="ignore"):
        converted = x.astype(np.float32)
    bad = ~np.isfinite(converted)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise readers.DataError(f"{path}: {key!r}[{', '.join(map(str, where))}] = {x[where].item()!r} is not a "
                                "finite float32 number")
    if converted.ndim == 3:  # grayscale images: one channel
        converted = converted[..., np.newaxis]
    if data is not None and isinstance(data.source, ir.PlaygroundData):
        if converted.shape[1:] != (2,):
            raise readers.DataError(f"{path}: {key!r} has shape {x.shape}; for Playground data it holds the "
                                    "points' coordinates (x1, x2), one row each")
        return playground_features(program, converted.astype(np.float64))
    return converted


def playground_features(program: ir.Program, points: np.ndarray) -> np.ndarray:
    """The spec's Playground features of (x1, x2) points, float32, as the generated make_features computes them."""
    x1, x2 = points[:, 0], points[:, 1]
    # FEATURE_EXPRESSIONS are the compiler's own fixed Python for each feature name, never spec text.
    columns = [eval(FEATURE_EXPRESSIONS[f.name], {"np": np}, {"x1": x1, "x2": x2}) for f in program.data.features]
    return np.stack(columns, axis=1).astype(np.float32)


def output_names(program: ir.Program) -> list[str]:
    """The output CSV's header."""
    outputs = program.model.out_features
    task = program.task if program.loss is not None else "regression"
    if task == "binary":
        return ["probability"]
    if task == "multiclass":
        return [f"class_{k}" for k in range(outputs)]
    data = program.data
    name = data.source.target if data is not None and isinstance(data.source, ir.CsvData) else "y"
    return [name] if outputs == 1 else [f"{name}_{k + 1}" for k in range(outputs)]


def output_csv(program: ir.Program, outputs: np.ndarray) -> str:
    import csv

    stream = io.StringIO(newline="")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(output_names(program))
    writer.writerows([[f"{value:.9g}" for value in row] for row in outputs.reshape(len(outputs), -1)])
    return stream.getvalue()


def inference_model(program: ir.Program, weights: Path, backend: str, target: str):
    """The spec's model as its inference program on `backend`, with the weights of `weights`."""
    from nndsl.codegen import build

    model = build(dataclasses.replace(program, data=None, loss=None, train=None), backend=backend, target=target)
    try:
        model.load(weights)
    except (OSError, ValueError, KeyError) as error:  # KeyError: other parameter names than the model's
        message = str(getattr(error, "strerror", None) or (error.args[0] if error.args else error))
        raise PredictError(message if message.startswith(str(weights)) else f"{weights}: {message}") from None
    return model


def run_predict(program: ir.Program, args) -> int:
    """Carry out `nndsl predict`; returns the exit status."""
    from nndsl.files import write_atomic

    try:
        x = read_inputs(program, Path(args.input))
        model = inference_model(program, Path(args.weights), args.backend, args.target)
        text = output_csv(program, np.asarray(model.predict(x)))
    except PredictError as error:
        print(f"nndsl predict: error: {visible(str(error))}", file=sys.stderr)
        return 1
    except Exception as error:  # a missing GPU (DeviceError, which the generated program defines)
        if type(error).__name__ == "DeviceError":
            print(f"nndsl predict: error: {visible(str(error))}", file=sys.stderr)
            return 1
        raise
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    try:
        write_atomic(Path(args.output), text)
    except OSError as error:
        print(f"nndsl predict: error: cannot write {visible(args.output)}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"wrote {visible(args.output)} ({len(x):,} rows)", file=sys.stderr)
    return 0

