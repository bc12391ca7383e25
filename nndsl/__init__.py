"""nndsl: a small language for neural networks, compiled to NumPy, PyTorch and TensorFlow.

    import nndsl
    prog = nndsl.load("specs/checkerboard.nn")    # or nndsl.parse(text, filename=...)
    print(nndsl.summary(prog))                    # layers, shapes, parameter counts
    src = nndsl.generate(prog, backend="torch")   # a standalone Python program
    model = nndsl.build(prog, backend="numpy")    # a live model: predict, fit, save, load

Every mistake in a spec raises `nndsl.SpecError`, which knows its file, line
and column. Importing nndsl imports no numerical library; `generate` needs
Jinja2, and `build` needs the backend's framework.
"""

from __future__ import annotations

import os

from nndsl import ir as _ir
from nndsl.errors import Diagnostic, SpecError

# Loaded here, before `def summary` and `def export` below, so that the functions
# stay `nndsl.summary` and `nndsl.export`: a submodule imported for the first time
# later would replace the package's attribute with the module. (Neither imports a framework.)
from nndsl.export import export as _export
from nndsl.ir import Program
from nndsl.summary import summarize as _summarize

__version__ = "0.1.0"
__all__ = [
    "Diagnostic",
    "Program",
    "SpecError",
    "build",
    "export",
    "format",
    "generate",
    "load",
    "parse",
    "summary",
    "to_json",
]


def parse(text: str, filename: str = "<spec>") -> Program:
    """Parse and check spec text; return the checked IR.

    Args:
        text: the spec, as text.
        filename: the name used in diagnostics, and whose folder data paths
            are relative to.

    Raises:
        SpecError: with every error found (`.diagnostics`); the first one's
            position is `.filename`, `.line` and `.column`.

    Example:
        >>> prog = nndsl.parse("model { input 2  dense 1 }")
        >>> prog.model.layers[0].units
        1
    """
    from nndsl.check import check
    from nndsl.syntax import parse_syntax

    return check(parse_syntax(text, filename))


def load(path: str | os.PathLike) -> Program:
    """Read, parse and check a spec file. Raises `SpecError` (missing file, bad encoding too)."""
    from nndsl.source import read_spec

    text, filename = read_spec(path)
    return parse(text, filename)


def summary(program: Program):
    """The model summary: `str()` is a table like Keras's; see `nndsl.summary.Summary`."""
    _ir.require_program(program, "summary")
    return _summarize(program)


def format(spec: str | Program, filename: str = "<spec>") -> str:  # noqa: A001 - the verb is the API
    """Canonical spec text: from spec text (comments kept) or from a checked program."""
    from nndsl import fmt

    if isinstance(spec, Program):
        return fmt.format_program(spec)
    return fmt.format_text(spec, filename)


def to_json(program: Program) -> str:
    """The IR as JSON (what `nndsl compile --emit ir` prints)."""
    from nndsl.ir import to_json as ir_to_json

    _ir.require_program(program, "to_json")
    return ir_to_json(program)


def generate(program: Program, backend: str = "numpy", target: str = "auto", **options) -> str:
    """Standalone Python source for `program` on `backend` ('numpy', 'torch', 'tensorflow')."""
    from nndsl.codegen import generate as render

    return render(program, backend=backend, target=target, **options)


def build(program: Program, backend: str = "numpy", target: str = "auto", **options):
    """A live model for `program`: the generated code, imported, with its model built.

    The result offers predict(x), fit(epochs=None), evaluate(), get_weights(),
    set_weights(dict), save(path) and load(path) on every backend. For a spec without a train
    block it is the inference program's Predictor: the same surface, but fit() and evaluate()
    raise RuntimeError naming the blocks the spec lacks.
    """
    from nndsl.codegen import build as build_model

    _ir.require_program(program, "build")
    return build_model(program, backend=backend, target=target, **options)


def export(program: Program, weights, format: str, path: str | os.PathLike | None = None, *,  # noqa: A002
           verify: bool = True):
    """Write the model with trained `weights` (a .npz path or a dict) as 'onnx', 'keras' or 'savedmodel';
    returns the path written. See `nndsl.export.export`; `nndsl export` on the command line."""
    return _export(program, weights, format, path, verify=verify)
