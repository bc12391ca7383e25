"""Code generation: checked IR -> standalone Python for a backend, and live models.

`generate` returns source text and never writes files (the CLI does that,
atomically). `build` imports that same source as a fresh module, so a live
model is exactly what the generated program runs.
"""

from __future__ import annotations

import os
import sys
import threading
import types

from nndsl import ir
from nndsl.errors import SpecError

BACKENDS = ("numpy", "torch", "tensorflow")
TARGETS = ("auto", "cpu", "gpu", "tpu")
# The targets each backend can generate code for: NumPy has no accelerator path.
BACKEND_TARGETS = {
    "numpy": ("auto", "cpu"),
    "torch": TARGETS,
    "tensorflow": TARGETS,
}
_build_lock = threading.Lock()
_build_count = 0


class UnsupportedTarget(ValueError):
    """A backend was asked for a target it cannot run on (NumPy on a GPU or TPU)."""


def _require_training_blocks(program: ir.Program) -> None:
    """A plain program is a training script: a spec without data, loss and train gets the full
    inference program instead."""
    missing = [name for name in ("data", "loss", "train") if getattr(program, name) is None]
    if missing:
        raise SpecError(
            f"a plain program trains its model, so the spec needs data, loss and train blocks; it has no "
            f"{', no '.join(missing)} block (without --plain it compiles to an inference program)",
            filename=program.filename,
            span=program.model.span if program.model.span != ir.NO_SPAN else None,
        )


def generate(program: ir.Program, backend: str = "numpy", target: str = "auto", data_dir: str | None = None,
             plain: bool = False) -> str:
    """Python source for `program` on `backend`, for `target` (auto, cpu, gpu, tpu).

    A spec with data, loss and train blocks gives a training program (`make_trainer()`); one
    without a train block an inference program (`make_model()`: predict and weights in and out).

    `data_dir` is the folder that data paths in the spec are relative to; by
    default the folder of the spec file, as given in `program.filename`. With `plain`, the
    short program a tutorial would show (nndsl/codegen/plain.py): the model and its training
    loop only, on the CPU or the framework's default device, computing the same numbers.
    """
    ir.require_program(program, "generate")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if target not in BACKEND_TARGETS[backend]:
        raise UnsupportedTarget(
            f"the {backend} backend runs on the CPU only, so target {target!r} is not available; "
            f"use -t cpu, or -b torch / -b tensorflow for a GPU or TPU"
        )
    if data_dir is None:
        data_dir = os.path.dirname(program.filename) if program.filename != "<spec>" else "."
        data_dir = data_dir or "."
    data_dir = os.fspath(data_dir)  # a Path too; it reaches the code as a string literal
    if not isinstance(data_dir, str):
        raise TypeError(f"data_dir must be a str or os.PathLike of str, not {type(data_dir).__name__}")
    if backend == "numpy":
        from nndsl.codegen import numpy_backend as lowering
    elif backend == "torch":
        from nndsl.codegen import torch_backend as lowering
    else:
        from nndsl.codegen import tensorflow_backend as lowering
    _require_layer_kinds(program, backend, lowering.LAYER_KINDS)
    if plain:
        _require_training_blocks(program)
        if target not in ("auto", "cpu"):
            raise UnsupportedTarget(f"a plain program runs where its framework puts it, so target {target!r} is "
                                    "not available with plain; the full program (without --plain) selects it")
        from nndsl.codegen.plain import generate_plain

        return generate_plain(program, backend, data_dir)
    return lowering.lower(program, target, data_dir)


def _require_layer_kinds(program: ir.Program, backend: str, supported: frozenset[str]) -> None:
    """Every layer kind the checker knows, but only those a backend generates: the image layers are
    arriving backend by backend (issue 16); until one has them, say so at the layer."""
    for layer in program.model.layers:
        if layer.kind not in supported:
            raise SpecError(
                f"the {backend} backend does not generate {layer.kind} layers yet (it generates "
                f"{', '.join(sorted(supported))}); the checker knows the spec, the code generation is in progress",
                filename=program.filename,
                span=layer.span if layer.span != ir.NO_SPAN else None,
            )


class _SourceLoader:
    """The PEP 302 `get_source` of a generated module, for linecache and inspect."""

    def __init__(self, source: str) -> None:
        self.source = source

    def get_source(self, name: str) -> str:
        return self.source


def load_module(source: str, name: str = "nndsl_generated") -> types.ModuleType:
    """Import generated source as a new module (registered in sys.modules while it runs)."""
    global _build_count
    with _build_lock:
        _build_count += 1
        module_name = f"{name}_{_build_count}"
    module = types.ModuleType(module_name)
    # A file name and a loader that hands out the source, so that linecache finds the
    # lines: tracebacks show them, and TensorFlow's AutoGraph reads a tf.function's source
    # to convert it. (linecache ignores names in <angle brackets>.)
    module.__file__ = f"nndsl-generated/{module_name}.py"
    module.__loader__ = _SourceLoader(source)
    sys.modules[module_name] = module
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def build(program: ir.Program, backend: str = "numpy", target: str = "auto", data_dir: str | None = None, **options):
    """A live Trainer (see `generate`): `.model` is the backend's native model object."""
    source = generate(program, backend=backend, target=target, data_dir=data_dir)
    module = load_module(source)
    make = module.make_trainer if program.train is not None else module.make_model  # an inference program
    trainer = make(**options)
    trainer.module = module
    trainer.source = source
    return trainer
