"""Trained models out of nndsl, in the formats deployment tools read.

* ``onnx``: the generated PyTorch model, through ``torch.onnx.export`` (the dynamo exporter;
  needs the extra ``nndsl[export]``: onnx, onnxscript, onnxruntime, and torch);
* ``keras``: a ``.keras`` file of the generated Keras model (``model.save``);
* ``savedmodel``: a TensorFlow SavedModel folder (``model.export``), for TF Serving and TFLite.

What every format holds is the model in inference mode, its output activation included, so that
it computes what ``trainer.predict(x)`` gives on every backend: probabilities for a classifier
(the softmax or sigmoid that training fuses into the loss is applied), dropout as the identity,
batch norm with its running statistics. The batch size is free (the first dimension of the
input ``x`` is dynamic); the input is ``x``, (batch, features) or (batch, height, width,
channels) as the data hold images, and the output ``y``.

Each export is checked before it is kept: the file is loaded back the way its users will load
it (``onnx.checker`` and onnxruntime, ``keras.models.load_model``, ``tf.saved_model.load``) and
run on a probe batch, whose outputs must equal the framework model's. A refusal (a layer the
format cannot hold) is a `SpecError` at that layer; every other problem an `ExportError`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from nndsl import ir
from nndsl.errors import SpecError, visible

FORMATS = ("onnx", "keras", "savedmodel")
#: What each format needs installed.
REQUIREMENTS = {
    "onnx": ("torch", "onnx", "onnxscript", "onnxruntime"),
    "keras": ("tensorflow", "keras"),
    "savedmodel": ("tensorflow", "keras"),
}
#: The extra that brings each package.
EXTRAS = {"torch": "nndsl[torch]", "tensorflow": "nndsl[tensorflow]", "keras": "nndsl[tensorflow]",
          "onnx": "nndsl[export]", "onnxscript": "nndsl[export]", "onnxruntime": "nndsl[export]"}
#: A file name's ending for each format (a SavedModel is a folder).
SUFFIXES = {"onnx": ".onnx", "keras": ".keras", "savedmodel": "_savedmodel"}
#: The probe batch that checks an export: rows, so not the batch the exporter traced with.
PROBE_ROWS = 3
TRACE_ROWS = 2
#: The export's outputs against the framework model's on the probe batch: float32 rounding,
#: scaled to the outputs' magnitude (another runtime may order its sums otherwise).
PROBE_TOLERANCE = 1e-5


class ExportError(Exception):
    """An export that cannot be done: a missing framework, a bad weights file, an unwritable path."""


def default_path(program: ir.Program, format: str, folder: str | os.PathLike = ".") -> Path:  # noqa: A002
    """`<model name><suffix>` in `folder`: checkerboard.onnx, checkerboard.keras, checkerboard_savedmodel."""
    name = program.model.name
    if not name:
        stem = Path(program.filename).stem if program.filename != "<spec>" else ""
        name = stem or "model"
    return Path(folder) / f"{name}{SUFFIXES[format]}"


def export(program: ir.Program, weights: str | os.PathLike | Mapping, format: str,  # noqa: A002
           path: str | os.PathLike | None = None, *, verify: bool = True) -> Path:
    """Write `program`'s model with `weights` in `format` ('onnx', 'keras', 'savedmodel') to `path`.

    Args:
        program: a checked program (`nndsl.load`); its model is exported, as its inference
            program computes it (a spec with only a model block will do).
        weights: a weights file (.npz, as `nndsl train` and `trainer.save()` write) or a dict
            of arrays by parameter name, in the IR's layout (`trainer.get_weights()`).
        format: onnx, keras or savedmodel.
        path: where to write; default: `default_path` beside the weights file (or in the
            current folder, for a dict). Written atomically: an existing file is replaced only
            by a complete, checked export.
        verify: load the export back and compare its outputs with the framework model's.

    Returns:
        The path written.

    Raises:
        SpecError: a layer the format cannot express, at that layer.
        ExportError: a missing framework, a weights file that does not fit, a path that
            cannot be written, or an export that did not load back equal.
    """
    ir.require_program(program, "export")
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    _require_packages(format)
    if path is None:
        folder = Path(weights).parent if not isinstance(weights, Mapping) else Path(".")
        path = default_path(program, format, folder)
    target = _check_target(Path(path), format)
    if not isinstance(weights, Mapping):
        _check_weights_file(Path(weights))
    if format == "keras":
        _refuse_for_keras_file(program)
    with _quiet_frameworks():
        if format == "onnx":
            _export_onnx(program, weights, target, verify)
        else:
            _export_tensorflow(program, weights, target, format, verify)
    return target


# --- the formats -------------------------------------------------------------------------


def _export_onnx(program: ir.Program, weights, target: Path, verify: bool) -> None:
    import torch

    module = _generated_module(program, "torch")
    predictor = module.Predictor(0, torch.device("cpu"))
    _load_weights(predictor, weights)
    model = predictor.model  # in eval mode, its output activation included (no loss absorbs it)
    example = torch.as_tensor(_probe(program, TRACE_ROWS))
    batch = torch.export.Dim("batch", min=1)

    def write(temp: Path) -> None:
        try:
            torch.onnx.export(model, (example,), str(temp), dynamo=True, input_names=["x"], output_names=["y"],
                              dynamic_shapes=({0: batch},), external_data=False, verbose=False)
        except Exception as error:  # the exporter's own errors: a torch op without an ONNX form
            raise ExportError(f"torch.onnx.export could not export the model: {_first_line(error)}") from error
        if verify:
            import onnx
            import onnxruntime

            try:
                onnx.checker.check_model(str(temp), full_check=True)
            except onnx.checker.ValidationError as error:
                raise ExportError(f"the exported ONNX model fails onnx.checker: {_first_line(error)}") from error
            session = onnxruntime.InferenceSession(str(temp), providers=["CPUExecutionProvider"])
            x = _probe(program, PROBE_ROWS)
            with torch.no_grad():
                expected = model(torch.as_tensor(x)).numpy()
            _compare(session.run(["y"], {"x": x})[0], expected, "onnxruntime")

    _write_atomic(target, write)


def _export_tensorflow(program: ir.Program, weights, target: Path, format: str, verify: bool) -> None:  # noqa: A002
    import tensorflow as tf

    module = _generated_module(program, "tensorflow")
    model, _ = module.build_model()
    _load_weights(module.Predictor(model, tf.distribute.get_strategy()), weights)
    x = _probe(program, PROBE_ROWS)
    expected = model(x, training=False).numpy()

    def write(temp: Path) -> None:
        if format == "keras":
            (_with_keras_normalization(program, model) if program.model.normalize else model).save(str(temp))
            if verify:
                import keras

                reloaded = keras.models.load_model(str(temp), compile=False, safe_mode=True)
                _compare(reloaded(x, training=False).numpy(), expected, "keras.models.load_model")
        else:
            model.export(str(temp), format="tf_saved_model", verbose=False)
            if verify:
                reloaded = tf.saved_model.load(str(temp))
                _compare(reloaded.serve(tf.constant(x)).numpy(), expected, "tf.saved_model.load")

    _write_atomic(target, write)


def _with_keras_normalization(program: ir.Program, model):
    """`model` with its first layer, the generated program's InputScaling, swapped for Keras' own
    `Normalization(mean=shift, variance=scale²)`, so that a .keras file loads (and takes raw
    features) where the generated program is not imported. Keras divides by max(√variance, ε),
    float32's √(scale²) is the scale to a rounding, and ε (1e-7) is under every scale that
    normalize computes from float32 data but a feature whose spread is below it; the other layers
    are the model's own, weights and all."""
    import keras
    import numpy as np

    scaling = model.get_layer("normalize")
    shift = np.asarray(scaling.shift.numpy(), dtype=np.float64)
    scale = np.asarray(scaling.scale.numpy(), dtype=np.float64)
    floor = keras.backend.epsilon()
    if (scale < floor).any():
        feature = int(np.argmax(scale < floor))
        raise ExportError(f"input feature {feature}'s scale ({scale[feature]:.3g}) is under Keras' Normalization "
                          f"floor ({floor:g}), so a .keras file cannot scale it as the model does; export as "
                          "savedmodel or onnx instead")

    def swap(layer):
        if layer is not scaling:
            return layer
        return keras.layers.Normalization(axis=-1, mean=shift, variance=scale * scale, name=layer.name)

    return keras.models.clone_model(model, clone_function=swap)


def _refuse_for_keras_file(program: ir.Program) -> None:
    """A .keras file holds Keras' own objects, loaded by name: nndsl's GELU (the tanh
    approximation, as on every backend) is a function of the generated program there, which
    keras.models.load_model cannot find without it. (A SavedModel holds the graph itself.)
    `normalize`'s InputScaling layer is swapped for Keras' own (`_with_keras_normalization`)."""
    for layer in program.model.layers:
        activation = getattr(layer, "activation", None)
        if activation is not None and activation.name == "gelu":
            raise SpecError(
                f"the .keras format cannot hold layer {layer.name}'s gelu: Keras' own 'gelu' is the exact "
                "erf form, and nndsl's tanh approximation would be a custom function that only the generated "
                "program defines; export as savedmodel or onnx instead",
                filename=program.filename,
                span=activation.span if activation.span != ir.NO_SPAN else layer.span,
            )


# --- shared steps --------------------------------------------------------------------------


def _generated_module(program: ir.Program, backend: str):
    """The spec's inference program (its model alone: no data files, no loss to fuse the output
    activation into), imported."""
    import dataclasses

    from nndsl.codegen import generate, load_module

    inference = dataclasses.replace(program, data=None, loss=None, train=None)
    return load_module(generate(inference, backend=backend, target="cpu", data_dir="."))


def _load_weights(trainer, weights) -> None:
    """The trainer's own load/set_weights: the names, the shapes and the file are checked there."""
    try:
        if isinstance(weights, Mapping):
            trainer.set_weights(dict(weights))
        else:
            trainer.load(os.fspath(weights))
    except (ValueError, KeyError, OSError) as error:
        where = "the weights" if isinstance(weights, Mapping) else visible(os.fspath(weights))
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        if not message.startswith(where):
            message = f"{where}: {message}"
        raise ExportError(message) from None
    except Exception as error:
        if type(error).__name__ in ("CheckpointError", "DataError"):
            raise ExportError(str(error)) from None
        raise


def _check_weights_file(path: Path) -> None:
    shown = visible(str(path))
    try:
        if not path.exists():
            raise ExportError(f"{shown}: no such file")
        if not path.is_file():
            raise ExportError(f"{shown}: not a weights file (weights.npz from nndsl train, or a trainer.save() file)")
    except OSError as error:
        raise ExportError(f"{shown}: cannot read: {error.strerror or error}") from None


def _probe(program: ir.Program, rows: int):
    """A fixed batch of inputs in [-1, 1) (images: [0, 1)), the data's float32."""
    import numpy as np

    rng = np.random.default_rng(20_19)
    x = rng.random((rows, *program.model.in_shape), dtype=np.float32)
    return x if program.model.images else 2 * x - 1


def _compare(actual, expected, runtime: str) -> None:
    import numpy as np

    scale = max(1.0, float(np.ptp(expected)) if expected.size else 1.0)
    if actual.shape != expected.shape or not np.allclose(actual, expected, rtol=0, atol=PROBE_TOLERANCE * scale):
        worst = float(np.max(np.abs(actual - expected))) if actual.shape == expected.shape else float("nan")
        raise ExportError(f"the export, loaded back with {runtime}, computes other outputs than the model "
                          f"(shape {actual.shape} vs {expected.shape}, largest difference {worst:.3g}); "
                          "this is a bug in nndsl")


def _require_packages(format: str) -> None:  # noqa: A002
    import importlib.util

    missing = [name for name in REQUIREMENTS[format] if importlib.util.find_spec(name) is None]
    if missing:
        extras = " ".join(f"'{extra}'" for extra in dict.fromkeys(EXTRAS[name] for name in missing))
        raise ExportError(f"--format {format} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                          f"not installed: pip install {extras}")


def _check_target(target: Path, format: str) -> Path:  # noqa: A002
    if not str(target) or str(target) == ".":
        raise ExportError("the output path is empty")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"cannot write {visible(str(target))}: folder {visible(str(folder))} does not exist")
    if format == "keras" and target.suffix != ".keras":
        raise ExportError(f"a .keras export needs a file name ending in .keras, not {visible(str(target))}")
    if format == "savedmodel":
        if target.exists() and not (target.is_dir() and (target / "saved_model.pb").is_file()):
            raise ExportError(f"{visible(str(target))} exists and is not a SavedModel folder; "
                              "choose a new name (a SavedModel is a folder)")
    elif target.is_dir():
        raise ExportError(f"{visible(str(target))} is a directory; -o takes a file name for --format {format}")
    elif target.exists() and not target.is_file():
        raise ExportError(f"{visible(str(target))} is not a regular file")
    return target


def _write_atomic(target: Path, write) -> None:
    """`write(temp)` into a temporary folder beside `target`, then a rename: a reader sees the old
    export or the new, checked one, never a part. (A SavedModel folder that is replaced is moved
    aside first, so for an instant neither is there.)"""
    import secrets
    import shutil

    folder = target.parent if str(target.parent) else Path(".")
    scratch = folder / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        scratch.mkdir()
    except OSError as error:
        raise ExportError(f"cannot write in {visible(str(folder))}: {error.strerror or error}") from None
    try:
        temp = scratch / target.name
        write(temp)
        try:
            if temp.is_dir() and target.exists():
                os.replace(target, scratch / "previous")
            os.replace(temp, target)
        except OSError as error:
            raise ExportError(f"cannot write {visible(str(target))}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


#: Loggers whose notes (torchvision not installed, so its ops are not registered) are not the user's.
_NOISY_LOGGERS = ("torch.onnx", "torch.onnx._internal.exporter._registration", "torch.export", "onnxscript")


@contextlib.contextmanager
def _quiet_frameworks():
    """The exporters' notes and deprecation warnings off while exporting; errors still show."""
    import logging
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def quiet(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    for logger in loggers:
        logger.addFilter(quiet)  # a filter, not a level: torch's logging setup resets levels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return visible(text[0]) if text else type(error).__name__
