"""Plain programs (`nndsl compile --plain`): the model and its training as a tutorial writes them.

A plain program is what an expert would write by hand to start a project from: the imports,
the data, the model as the framework's users build it, the loss, the optimizer, a training
loop that prints a line per epoch, and the final validation metrics — no command line, no
checkpoints, no defensive file reading. It computes the same numbers as the full program from
the same spec and seed: the data, the initial weights, the batch order and the dropout masks
come from the same NumPy streams (docs/reproducibility.md), through the same snippets
(templates/common), whose docstrings are cut to their first paragraph here.

This module holds what the three backends share: the header, the data, the initial weights
and the train block's controls (the schedule, reduce_lr_on_plateau, early stopping: the full
program's snippets, without their checkpoint methods). nndsl/codegen/plain_<backend>.py lower
the model and the loop.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import PurePath

from nndsl import __version__, catalog, ir
from nndsl.codegen import common
from nndsl.codegen.render import comment, parse_python, py, snippet
from nndsl.errors import SpecError

BACKEND_TITLES = {"numpy": "NumPy", "torch": "PyTorch", "tensorflow": "TensorFlow"}

#: What the full program adds beyond the ones every backend's has (the header's list).
FULL_EXTRAS = {"numpy": "saved weights ", "torch": "GPUs, TPUs, torch.compile ", "tensorflow": "GPUs, TPUs, XLA "}


class PlainModule:
    """The pieces of a plain program: import lines, and the snippet functions it pastes, in order."""

    def __init__(self, imports):
        self.imports: list[str] = list(imports)
        self.bodies: list[str] = []
        self.functions: set[str] = set()

    def use(self, name: str) -> None:
        """Paste templates/<name> with its docstrings cut to their first paragraph, once."""
        piece = snippet(name)
        body = short_docstrings(piece.body)
        if body not in self.bodies:
            self.bodies.append(body)
        self.imports.extend(piece.imports)
        self.functions.update(piece.functions)

    def text(self) -> str:
        """The pasted functions, as the lines after the imports: isort's one blank line after them
        before a statement, two before a function or a class, two between and after the pieces."""
        if not self.bodies:
            return ""
        first = "\n\n" if self.bodies[0].startswith(("def ", "class ", "@")) else "\n"
        return first + "\n\n".join(self.bodies) + "\n"

    def use_all(self, module: common.Module, drop: tuple[str, ...] = ()) -> None:
        """Paste every snippet a full backend's lowering chose (its `Module`), in its order, without
        the methods named in `drop`."""
        for bodies in module.snippets.values():
            for body in bodies:
                body = short_docstrings(drop_methods(body, drop) if drop else body)
                if body not in self.bodies:
                    self.bodies.append(body)
        self.imports.extend(module.imports)
        self.functions.update(module.functions)


def drop_methods(source: str, names: tuple[str, ...]) -> str:
    """`source` without the methods called one of `names` in its classes."""
    tree = parse_python(source)
    lines = source.split("\n")
    doomed = [node for cls in tree.body if isinstance(cls, ast.ClassDef) for node in cls.body
              if isinstance(node, ast.FunctionDef) and node.name in names]
    for node in sorted(doomed, key=lambda node: node.lineno, reverse=True):
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        end = node.end_lineno
        while start > 0 and not lines[start - 1].strip():  # the blank line before it
            start -= 1
        lines[start:end] = []
    return "\n".join(lines)


def short_docstrings(source: str) -> str:
    """`source` with every docstring cut to its first paragraph: a plain program keeps the summary
    and leaves the full account (draw order, edge cases) to the full program."""
    tree = parse_python(source)
    lines = source.split("\n")
    cuts = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                cuts.append(first)
    for node in sorted(cuts, key=lambda node: node.lineno, reverse=True):
        paragraph = " ".join(line.strip() for line in node.value.value.strip().split("\n\n")[0].split("\n"))
        sentence = paragraph.split(". ")[0].rstrip(".") + "."
        indent = " " * node.col_offset
        line = f'{indent}"""{sentence}"""'
        # A summary that fits one line stays; a longer one goes, with the rest of the docstring.
        lines[node.lineno - 1 : node.end_lineno] = [line] if len(line) <= 100 else []
        if len(line) > 100 and not lines[node.lineno - 1].strip():  # the blank line under a class's docstring
            del lines[node.lineno - 1]
    return "\n".join(lines)


def header(program: ir.Program, backend: str) -> dict:
    return {
        "title": comment(program.model.name or "model"),
        "spec": comment(program.filename),
        "version": __version__,
        "backend": BACKEND_TITLES[backend],
        "flag": backend,
        "extras": FULL_EXTRAS[backend],
    }


def lower_data(program: ir.Program, module: PlainModule, data_dir: str) -> dict:
    """The data as NumPy arrays x and y, split by the index arrays `train` and `val`: the same
    draws, in the same order, as the full program's load_data()."""
    data = program.data
    source = data.source
    task = program.task
    context: dict = {"seed": py(program.data_seed),
                     "split": py(data.split), "validates": data.validates, "playground": None, "file": None}
    if isinstance(source, ir.PlaygroundData):
        module.use(f"common/data/{source.generator}.py")
        args = [f"samples={py(source.samples)}", f"noise={py(source.noise)}"] + \
            ([f"classes={py(source.classes)}"] if source.generator == "spiral" else [])
        names = [feature.name for feature in data.features]
        columns = [name for name in ("x1", "x2") if any(name in feature for feature in names)]
        context["playground"] = {
            "function": f"{source.generator}_data",
            "args": ", ".join(args),
            "columns": [] if names == ["x1", "x2"] else columns,
            "column_values": [f"points[:, {('x1', 'x2').index(name)}]" for name in columns],
            "features": [common.FEATURE_EXPRESSIONS[name] for name in names],
            "feature_names": ", ".join(names),
        }
        labels = "labels"
    else:
        kind = "csv" if isinstance(source, ir.CsvData) else "images" if isinstance(source, ir.ImageFolderData) else "npz"
        shape = ", ".join(map(str, program.model.in_shape))
        # the spec's path from the folder data paths are relative to (the spec's, as the command line named it)
        path = PurePath(data_dir, source.path).as_posix() if data_dir not in ("", ".") else source.path
        context["file"] = {"kind": kind, "path": py(path), "shape": shape,
                           "where": "" if PurePath(path).is_absolute() else
                           " (path relative to where nndsl compile ran)"}
        if kind == "csv":
            module.imports.append("import csv")
            features = None if data.features is None else [feature.name for feature in data.features]
            context["file"] |= {"target": py(source.target), "features": py(features)}
        elif kind == "npz":
            context["file"] |= {"x_key": py(source.x_key), "y_key": py(source.y_key)}
        else:
            module.imports += ["from pathlib import Path", "from PIL import Image"]
            height, width = source.size
            context["file"] |= {"mode": py("L" if source.color == "grayscale" else "RGB"), "size": py((width, height))}
        labels = "labels"
    context["normalize"] = _normalize(program)
    context["labels"] = {
        "binary": f"{labels}.astype(np.float32).reshape(-1, 1)  # 0/1 labels, one column",
        "multiclass": f"{labels}.astype(np.int64)  # class labels 0 … {program.model.out_features - 1}",
        "regression": f"{labels}.astype(np.float32).reshape(len({labels}), -1)  # the targets, one column per output",
    }[task]
    return context


#: Each normalize method's statistics of the training rows x[train], as the full program's
#: templates/common/normalize/<method>.py computes them: (shift, scale).
NORMALIZE_STATISTICS = {
    "standard": ("x[train].mean(axis={axes}, dtype=np.float64)", "x[train].std(axis={axes}, dtype=np.float64)"),
    "minmax": ("x[train].min(axis={axes}).astype(np.float64)", "np.ptp(x[train], axis={axes}).astype(np.float64)"),
}


def _normalize(program: ir.Program) -> dict | None:
    """The data block's normalize: the statistics of the training rows, then every row scaled by them."""
    normalize = program.model.normalize
    if normalize is None:
        return None
    axes = "(0, 1, 2)" if program.model.images else "0"  # per feature, or per channel of the images
    shift, scale = NORMALIZE_STATISTICS[normalize.method]
    return {"shift": shift.format(axes=axes), "scale": scale.format(axes=axes),
            "comment": comment(f"normalize {normalize.method} ({program.filename}:{normalize.span.line}): "
                               f"{common.NORMALIZE_FORMULAS[normalize.method]}, by the statistics of the training rows")}


def network_program(program: ir.Program) -> ir.Program:
    """The program as the plain network sees it: a normalize is done on the data (lower_data), so
    the model takes x as it is and has no statistics among its parameters."""
    if program.model.normalize is None:
        return program
    return dataclasses.replace(program, model=dataclasses.replace(program.model, normalize=None))


def initial_values(program: ir.Program, module: PlainModule) -> dict[str, dict]:
    """Each parameter's initial value, by IR name: `expression`, a NumPy array in the IR's layout
    drawn from the stream `rng` (in IR order, as every backend draws them), or `fill`, the one
    number a constant parameter starts at. Batch norm's start at the frameworks' own defaults."""
    scratch = common.Module()
    out = {}
    for entry in common.lower_weights(program, scratch):  # drawn from the stream the program calls init_rng
        expression = re.sub(r"\brng\b", "init_rng", entry["expression"])
        out[ast.literal_eval(entry["name"])] = {"expression": expression, "fill": None}
    for layer in program.model.layers:
        for parameter, init in zip(layer.parameters, _initializers(layer), strict=True):
            if init is not None and init.kind in ("zeros", "ones", "constant"):
                out[parameter.name]["fill"] = py({"zeros": 0.0, "ones": 1.0}.get(init.kind, init.value))
    module.use_all(scratch)  # the initialisers' functions, in the order of first use
    return out


def _initializers(layer) -> tuple:
    if isinstance(layer, (ir.Dense, ir.Conv2D)):
        return (layer.kernel_init, layer.bias_init)
    if isinstance(layer, ir.BatchNorm):
        return (ir.Initializer("ones"), ir.Initializer("zeros"), ir.Initializer("zeros"), ir.Initializer("ones"))
    return ()


def streams(program: ir.Program) -> str:
    """The lines that make the training streams from the seed (common/streams.py's split): the
    dropout stream only where there is dropout (SeedSequence.spawn's first children do not depend
    on how many it makes, so the other two are the same either way)."""
    seed = f"np.random.SeedSequence({py(program.train.seed)})"
    if any(isinstance(layer, ir.Dropout) for layer in program.model.layers):
        return ("# One seed, three streams: the initial weights (the same on every backend), the batch order, "
                "the dropout masks\n"
                f"init_rng, shuffle_rng, dropout_rng = (np.random.default_rng(s) for s in {seed}.spawn(3))")
    return f"init_rng, shuffle_rng = (np.random.default_rng(s) for s in {seed}.spawn(2))  # weights, batch order"


def metric_expressions(program: ir.Program, forms: dict[str, str], module: PlainModule, **names: str) -> list[str]:
    """Each metric of the train block on the whole validation set, as the backend's `forms`
    (common.metric_forms) write it with `names` (predictions, targets); precision and recall
    over classes call plain/metrics.py."""
    out = []
    for key, form in common.metric_forms(program):
        if form in ("class_precision", "class_recall"):
            module.use("plain/metrics.py")
        out.append(forms[form].format(classes=program.model.out_features, k=catalog.metric_argument(key), **names))
    return out


def listed(head: str, entries: list[str], tail: str, indent: int) -> list[str]:
    """`head[entry, entry, …]tail` as a person lays it out: the entries under the first where every
    line fits in 120 columns, else one per line under the head, the bracket closing alone."""
    aligned = [f"{head}[{entries[0]}", *(" " * (len(head) + 1) + entry for entry in entries[1:])]
    aligned = [line + ("," if position < len(aligned) - 1 else "]" + tail) for position, line in enumerate(aligned)]
    if all(indent + len(line) <= 120 for line in aligned):
        return aligned
    return [f"{head}[", *(f"    {entry}," for entry in entries), f"]{tail}"]


def hyperparameters(program: ir.Program) -> dict:
    """The constants the loop reads: the optimizer's rate, the batch size (the whole training set where
    the spec gives none) and the epochs."""
    train = program.train
    return {"learning_rate": py(train.optimizer.lr), "epochs": py(train.epochs), "full_batch": not train.batch,
            "batch_size": py(train.batch) if train.batch else "len(x_train)"}


def order(program: ir.Program) -> str:
    """The epoch's order of the training rows: shuffled by the seed's stream, or as they are."""
    return "shuffle_rng.permutation(len(x_train))" if program.train.shuffle else "np.arange(len(x_train))"


def output_name(program: ir.Program) -> str:
    """What evaluate() calls the model's outputs: logits where the loss applies the output activation."""
    return "logits" if common.FUSED.get(program.loss.name) else "predictions"


def report(program: ir.Program, values: list[str], indent: int, output: str) -> dict:
    """evaluate()'s return statement (the loss, then each metric: `values`, as expressions) and the
    lines that print each epoch and the final validation metrics, as the full program prints them
    (with `split 1`, the training set's, measured once after training)."""
    keys = ["loss", *program.train.metrics]
    values = [re.sub(r"\b(z|output)\b", output, value) for value in values]  # the backend's name for the outputs
    joined = ", ".join(values)
    returns = [f"return {joined}"] if indent + len("return ") + len(joined) <= 120 else \
        ["return (", *[f"    {value}," for value in values], ")"]
    if "binary_accuracy" in dict(common.metric_forms(program)).values():
        note = "  # logit > 0 ⇔ p > 0.5"
        at = 0 if len(returns) == 1 and indent + len(returns[0] + note) <= 120 else len(returns) - 1
        returns[at] += note
    names = [f"{'val' if program.validates else 'train'}_{key}" for key in keys]
    shown = [f"{name}: {{{name}:.4f}}" for name in names]
    return {
        "validates": program.validates,  # split 1: the end measures the training set
        "returns": returns,
        "names": ", ".join(names),
        # the rate as the full program prints it, where a schedule or the plateau changes it
        "epoch": ["loss: {total_loss / len(x_train):.4f}", *(shown if program.validates else []),
                  *(["lr: {lr:.4g}"] if changes_lr(program) else [])],
        "final": " - ".join(f"{key}: {{{name}:.4f}}" for key, name in zip(keys, names, strict=True)),
    }


def changes_lr(program: ir.Program) -> bool:
    """Whether a schedule or reduce_lr_on_plateau sets the rate of each epoch (a constant schedule does not)."""
    train = program.train
    return (train.schedule.span != ir.NO_SPAN and train.schedule.kind != "constant") or \
        train.reduce_lr_on_plateau is not None


#: The methods of the control snippets a plain program does not call: it keeps no checkpoints.
CHECKPOINT_METHODS = ("state", "load_state")


def lower_controls(program: ir.Program, module: PlainModule, weights: str, restore: list[str]) -> dict:
    """The train block's schedule, reduce_lr_on_plateau, early stopping and clip_norm as the plain
    loop writes them: the full program's snippets (templates/common/schedules, controls), the rate
    of each epoch as one expression, the logs the controls read, and the early-stopping `break`.
    `weights` is the backend's callable that copies the weights, `restore` its lines putting the
    best epoch's back (restore_best)."""
    train = program.train
    scratch = common.Module()
    full = common.lower_controls(program, scratch)
    module.use_all(scratch, drop=CHECKPOINT_METHODS)
    schedule, plateau, stopping = train.schedule, train.reduce_lr_on_plateau, train.early_stopping
    lr = "learning_rate"
    notes = []
    if schedule.span != ir.NO_SPAN and schedule.kind != "constant":
        args = ", ".join(["epoch - 1", lr] + [f"{key}={py(value)}" for key, value in schedule.args]
                         + ([f"epochs={py(train.epochs)}"] if schedule.kind == "cosine" else []))
        lr = f"{common.SCHEDULE_FUNCTIONS[schedule.kind]}({args})"
        notes.append(f"the {schedule.kind} schedule's (epochs counted from 0)")
    if plateau is not None:
        lr = f"plateau.adjust({lr})"
        notes.append("less the plateau's cuts")
    setup = []
    if plateau is not None:
        setup += [f"# Cut the rate when {plateau.monitor} stops improving: Keras's ReduceLROnPlateau rule",
                  f"plateau = ReduceLROnPlateau({full['plateau']['args']})"]
    if stopping is not None:
        setup += [f"# Stop when {stopping.monitor} stops improving: Keras's EarlyStopping rule",
                  f"early_stopping = EarlyStopping({full['early_stopping']['args']})"]
    monitored = {control.monitor for control in (plateau, stopping) if control is not None}
    for control in (plateau, stopping):
        if control is not None and control.monitor != "loss" and not control.monitor.startswith("val_"):
            raise SpecError(f"plain programs print the training loss but no training metric, so they cannot "
                            f"monitor {control.monitor!r}; monitor 'loss' or 'val_{control.monitor}', or compile "
                            f"without --plain", filename=program.filename,
                            span=control.span if control.span != ir.NO_SPAN else None)
    keys = [key for key in common.history_keys(program) if key in monitored]
    logs = ", ".join(f"{py(key)}: {'total_loss / len(x_train)' if key == 'loss' else key}" for key in keys)
    return {
        "lr": lr if notes else None,
        "lr_note": "the epoch's rate: " + ", ".join(notes if len(notes) != 1 or plateau is None
                                                     else ["the optimizer's", *notes]),
        "setup": setup,
        "logs": "{" + logs + "}" if keys else None,
        "plateau": plateau is not None,
        "early_stopping": None if stopping is None else {
            "weights": weights if stopping.restore_best else "None",
            "restore": restore if stopping.restore_best else [],
        },
        "clip_norm": full["clip_norm"],
    }


def generate_plain(program: ir.Program, backend: str, data_dir: str) -> str:
    if backend == "numpy":
        from nndsl.codegen import plain_numpy as lowering
    elif backend == "torch":
        from nndsl.codegen import plain_torch as lowering
    else:
        from nndsl.codegen import plain_tensorflow as lowering
    return lowering.lower(program, data_dir)
