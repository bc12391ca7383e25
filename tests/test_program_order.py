"""The full program's order (issue 22): its first screen is the model and its training; what a reader can
skip comes last, under one closing heading.

Every example spec on every backend (its golden file, which tests/test_golden.py holds to the
compiler's output), model-only specs (an inference program) and two other targets, compiled, not run:
the constants alone come before the first section heading, which is within the first 60 lines; the
model (`class Network`, `def build_model`) comes before the Trainer and the data; the Trainer's methods
open in reading order; below the one closing heading stand only the definitions named in MACHINERY (so
a new block cannot slip below it unnoticed, and machinery cannot stay above it); and every statement
that runs at import finds the names it needs already defined.
"""

from __future__ import annotations

import ast
import builtins
from functools import cache
from pathlib import Path

import pytest

import nndsl
from tests.golden import golden_path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.nn"))
BACKENDS = ("numpy", "torch", "tensorflow")

MODEL_ONLY = {
    "drawn": """
model drawn {
    input 3
    dense 4 relu
    dropout 0.5
    dense 2 softmax
}
loss categorical_crossentropy
""",
    "images": """
model images {
    input 8x8x1
    conv2d 4 relu kernel=3
    maxpool 2
    flatten
    dense 3 softmax
}
""",
}

CLOSING = "# ---- Below: the same in every nndsl program: "
HEADING = "# --- "  # every other section heading
MODEL = {"numpy": "Network", "torch": "Network", "tensorflow": "build_model"}
READING_ORDER = ["__init__", "fit", "learning_rate", "train_epoch", "train_step", "evaluate"]

#: What may stand below the closing heading: files (atomic writes, .npz checks, checkpoints, --out),
#: devices (selection, torchrun's processes, TensorFlow's strategies) and progress (epoch lines, TensorBoard).
MACHINERY = {
    # common/npy_header.py, common/checkpoint.py, torch/optimizer_state.py
    "DEFLATE_MAX_RATIO", "check_npy_header", "CHECKPOINT_FORMAT", "CheckpointError", "_digest", "_temporary",
    "write_atomic", "check_writable", "_sync_folder", "STALE_AFTER", "remove_stale_temps", "_running",
    "_copy_atomic", "save_checkpoint", "ZIP_MAGIC", "DAMAGED", "_read_arrays", "read_weights", "_read_checkpoint",
    "load_checkpoint", "named", "check_weight_names", "check_fits", "_compare_arrays",
    "optimizer_arrays", "load_optimizer_arrays", "optimizer_shapes",
    # common/output.j2: the --out folder
    "CHECKPOINT_FILES", "OUTPUT_FILES", "OutputError", "prepare_output", "remove_if_empty",
    # torch/device/*, torch/processes.py, tensorflow/device.py
    "DeviceError", "select_device", "torch_xla_sync", "PROCESS_TIMEOUT", "Processes", "leave",
    "cluster_tasks", "is_chief", "multi_worker_strategy", "distribution_strategy", "data_device", "replica_share",
    # common/progress.py, common/tensorboard.py
    "SECONDS_BETWEEN_LINES", "duration", "metrics_text", "epoch_line", "validation_line", "line_step",
    "prints_line", "live_bar", "terminal_size", "EpochReport", "TensorBoardError", "TensorBoardLog",
}

CASES = ([(spec.stem, backend, "auto") for spec in SPECS for backend in BACKENDS]
         + [(name, backend, "auto") for name in MODEL_ONLY for backend in BACKENDS]
         + [("checkerboard", "torch", "tpu"), ("checkerboard", "tensorflow", "tpu")])


@cache
def program(name: str, backend: str, target: str) -> str:
    if name in MODEL_ONLY:
        return nndsl.generate(nndsl.parse(MODEL_ONLY[name], filename="spec.nn"), backend=backend, target=target)
    if target == "auto":  # the compiler's output, as tests/test_golden.py holds it (read: no second compile)
        return golden_path(ROOT / "specs" / f"{name}.nn", backend).read_text(encoding="utf-8")
    prog = nndsl.parse((ROOT / "specs" / f"{name}.nn").read_text(encoding="utf-8"), filename=f"specs/{name}.nn")
    return nndsl.generate(prog, backend=backend, target=target, data_dir="specs")


def defined(node: ast.stmt) -> set[str]:
    """The module-level names a statement defines."""
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return {name.id for name in ast.walk(node) if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store)}


def run_at_import(node: ast.stmt) -> list[ast.AST]:
    """The parts of a module-level statement that Python evaluates when the module is imported:
    a function's decorators, defaults and annotations, a class's bases and the same of its methods, anything
    else whole."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg]
        return [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d),
                *(a.annotation for a in arguments if a is not None and a.annotation), *([node.returns] if node.returns else [])]
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases, *(k.value for k in node.keywords),
                *(part for statement in node.body for part in run_at_import(statement))]
    return [node]


@pytest.mark.parametrize(("name", "backend", "target"), CASES, ids=["-".join(case) for case in CASES])
def test_the_program_opens_with_the_model_and_its_training(name, backend, target):
    source = program(name, backend, target)
    lines = source.split("\n")
    tree = ast.parse(source)
    headings = [number for number, line in enumerate(lines, 1) if line.startswith((HEADING, CLOSING))]
    closing = [number for number, line in enumerate(lines, 1) if line.startswith(CLOSING)]
    assert headings[0] <= 60, f"the first section heading is at line {headings[0]}"
    assert len(closing) == 1 and closing[0] == headings[-1], "one closing heading, the last"

    top = {}  # name -> line of its definition
    for node in tree.body:
        for defined_name in defined(node):
            top.setdefault(defined_name, node.lineno)
        if node.lineno < headings[0]:  # the docstring, imports, constants (and TensorFlow's os.environ settings)
            constant = isinstance(node, ast.Assign) and all(
                isinstance(target, ast.Name) and target.id.isupper() for target in node.targets)
            environment = "os.environ" in ast.unparse(node)
            docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            assert isinstance(node, (ast.Import, ast.ImportFrom)) or constant or environment or docstring, \
                f"line {node.lineno}, before the first heading: {ast.unparse(node)[:80]}"

    trains = "Trainer" in top
    users = [top[name] for name in ("Trainer", "Predictor", "make_trainer", "load_data") if name in top]
    assert users and top[MODEL[backend]] < min(users), "the model comes first"
    if trains:
        assert top["Trainer"] < top["load_data"] < top["main"] < closing[0]
        trainer = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Trainer")
        methods = [node.name for node in trainer.body if isinstance(node, ast.FunctionDef)]
        assert methods[:len(READING_ORDER)] == READING_ORDER

    below = [node for node in tree.body if node.lineno > closing[0]]
    if trains:  # the command line runs last, once everything it calls is defined
        guard = below.pop()
        ending = "leave" if backend == "torch" else "sys.exit"  # torch: a rank of several skips Python's shutdown
        assert ast.unparse(guard) == f"if __name__ == '__main__':\n    {ending}(main())"
    for node in below:
        assert isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Assign)), ast.unparse(node)[:80]
        assert defined(node) <= MACHINERY, f"line {node.lineno}: {sorted(defined(node) - MACHINERY)} below the heading"
    above = {defined_name for node in tree.body if node.lineno < closing[0] for defined_name in defined(node)}
    assert not above & MACHINERY, f"machinery above the closing heading: {sorted(above & MACHINERY)}"

    known = set(dir(builtins))
    for node in tree.body:
        for part in run_at_import(node):
            needed = {n.id for n in ast.walk(part) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            missing = needed - known - defined(node) if isinstance(node, ast.If) else needed - known
            assert not missing, f"line {node.lineno} needs {sorted(missing)} at import, before they are defined"
        known |= defined(node)
