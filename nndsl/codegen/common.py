"""Lowering shared by every backend: header, constants, data, initial weights.

Data and initial weights are generated with NumPy in every backend, from the
same seeded streams (docs/reproducibility.md), so the same spec starts from the
same numbers everywhere. Everything here returns plain data for the templates;
code fragments are assembled only from fixed vocabulary, validated identifiers
and `py()` literals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nndsl import __version__, catalog, ir
from nndsl.codegen.render import comment, py, snippet

#: Python for each Playground feature, given columns x1 and x2.
FEATURE_EXPRESSIONS = {
    "x1": "x1",
    "x2": "x2",
    "x1^2": "x1 * x1",
    "x2^2": "x2 * x2",
    "x1*x2": "x1 * x2",
    "sin(x1)": "np.sin(x1)",
    "sin(x2)": "np.sin(x2)",
}

ACTIVATION_TITLES = {"linear": "linear"}

#: Output activations that the loss absorbs: the model computes logits, the loss and
#: predict() apply the activation (binary/categorical cross-entropy in the stable, fused form).
FUSED = {"binary_crossentropy": "sigmoid", "categorical_crossentropy": "softmax"}


@dataclass
class Module:
    """What a generated module is made of, before rendering."""

    imports: list[str] = field(default_factory=list)
    snippets: dict[str, list[str]] = field(default_factory=dict)  # section -> bodies
    functions: set[str] = field(default_factory=set)  # defined by the snippets: dropped if never called

    def use(self, name: str, section: str) -> None:
        """Include the snippet templates/<name> in `section`, unless a section already has it."""
        piece = snippet(name)
        if not any(piece.body in bodies for bodies in self.snippets.values()):
            self.snippets.setdefault(section, []).append(piece.body)
        self.imports.extend(piece.imports)
        self.functions.update(piece.functions)

    def section(self, name: str) -> list[str]:
        return self.snippets.get(name, [])


def use_main_snippets(program: ir.Program, module: Module) -> None:
    """What the command line of a training program (templates/common/main.j2) uses: the lines and the
    bar a run prints, and --tensorboard's event files (under the closing heading: common/machinery.j2).
    An inference program (a model alone) has no command line, so nothing."""
    if program.train is None:
        return
    module.use("common/progress.py", "main")
    module.use("common/tensorboard.py", "main")


def where(program: ir.Program, node) -> str:
    """`file:line` of an IR node, for comments pointing back at the spec."""
    return comment(f"{program.filename}:{node.span.line}")


def architecture(program: ir.Program) -> str:
    """One line: input 2 → dense_1 (8, relu) → dense_2 (1, sigmoid)."""
    parts = [f"input {'x'.join(map(str, program.model.in_shape))}"]
    for layer in program.model.layers:
        if isinstance(layer, ir.Dense):
            parts.append(f"{layer.name} ({layer.units}, {layer.activation.name})")
        elif isinstance(layer, ir.Conv2D):
            parts.append(f"{layer.name} ({layer.filters} {'x'.join(map(str, layer.kernel))}, {layer.activation.name})")
        elif isinstance(layer, ir.Dropout):
            parts.append(f"{layer.name} ({layer.rate})")
        elif isinstance(layer, ir.ActivationLayer):
            parts.append(f"{layer.name} ({layer.activation.name})")
        else:
            parts.append(f"{layer.name} ({'x'.join(map(str, layer.out_shape))})")
    return " → ".join(parts)


def header(program: ir.Program, backend: str, target: str) -> dict:
    model = program.model
    title = model.name or "model"
    return {
        "title": comment(title),
        "spec": comment(program.filename),
        "version": __version__,
        "backend": backend,
        "target": target,
        "architecture": comment(architecture(program)) if len(model.layers) <= 12 else f"{len(model.layers)} layers",
        "trains": program.train is not None,  # else an inference program: no command line
    }


def constants(program: ir.Program) -> list[dict]:
    """Module-level settings from the spec, each with where it came from."""
    train = program.train
    out = [
        {"name": "SPEC", "value": py(program.filename), "note": "the spec this program was generated from"},
    ]
    if train is None:  # an inference program
        out += [
            {"name": "SEED", "value": "0", "note": "initial weights drawn (the spec has no train block)"},
            {"name": "NO_TRAINING", "value": py(no_training(program)), "note": ""},
        ]
        return out
    out += [
        {"name": "SEED", "value": py(train.seed),
         "note": "initial weights, batch order" + (", dropout" if any(isinstance(layer, ir.Dropout)
                                                                      for layer in program.model.layers) else "")},
        {"name": "DATA_SEED", "value": py(program.data_seed), "note": "the data set and its split"},
        {"name": "EPOCHS", "value": py(train.epochs), "note": ""},
        {
            "name": "OPTIMIZER",
            "value": py(optimizer_kind(train.optimizer)),
            "note": "checkpoints record it: one of another optimizer cannot be resumed",
        },
        {
            "name": "LR",
            "value": py(train.optimizer.lr),
            "note": "the optimizer's learning rate" + ("; the schedule's peak" if train.schedule.kind != "constant"
                                                         else ""),
        },
        {
            "name": "BATCH_SIZE",
            "value": "None" if train.batch is None else py(train.batch),
            "note": "None: the whole training set per step (`batch all`)",
        },
        {"name": "SHUFFLE", "value": py(train.shuffle), "note": "reshuffle the training set every epoch"},
        {
            "name": "CHECKPOINT_EVERY",
            "value": py(train.checkpoint_every or 10),
            "note": "epochs between checkpoints, when checkpointing",
        },
    ]
    names = {"seed": "SEED", "epochs": "EPOCHS", "checkpoint_every": "CHECKPOINT_EVERY"}
    for key, spec_value in train.overridden:  # what `nndsl train --seed/--epochs/...` replaced
        constant = next(c for c in out if c["name"] == names[key])
        said = "sets none" if spec_value is None else f"says {spec_value}"
        option = "--" + key.replace("_", "-")
        constant["note"] = "; ".join(filter(None, [constant["note"], f"from nndsl train {option} (the spec {said})"]))
    return out


def no_training(program: ir.Program) -> str:
    """What fit() and evaluate() of an inference program say: which blocks the spec lacks."""
    missing = [name for name in ("data", "loss", "train") if getattr(program, name) is None]
    return (f"{program.filename} has no {', no '.join(missing)} block, so this program only runs the model "
            "(predict, get_weights, set_weights, save, load); a spec with data, loss and train blocks trains it")


def optimizer_kind(optimizer: ir.Optimizer) -> str:
    """The optimizer as far as its state goes: sgd keeps none, sgd with momentum a velocity."""
    if isinstance(optimizer, ir.SGD) and (optimizer.momentum or optimizer.nesterov):
        return "sgd with momentum"
    return optimizer.kind


def model_inputs(program: ir.Program) -> dict:
    """What one input sample is, for the shape checks of inputs() and of data files: the test on x
    (a batch) and the words for it."""
    shape = program.model.in_shape
    if len(shape) == 1:
        n = shape[0]
        return {"shape": py(shape), "check": f"x.ndim != 2 or x.shape[1] != {n}", "batch": f"(n, {n})",
                "text": f"{n} input feature{'s' if n != 1 else ''}", "rows": f"rows of {n} feature{'s' if n != 1 else ''}"}
    size = "x".join(map(str, shape))
    return {"shape": py(shape), "check": f"x.shape[1:] != {py(shape)}", "batch": f"(n, {', '.join(map(str, shape))})",
            "text": f"images of {size} (height x width x channels)", "rows": f"images of {size}"}


def lower_data(program: ir.Program, module: Module, data_dir: str | None) -> dict | None:
    """The data section: which generator or loader, which features, which labels."""
    data = program.data
    if data is None:
        return None
    module.use("common/data/errors.py", "data")
    module.use("common/split.py", "data")
    source = data.source
    task = program.task
    context: dict = {
        "where": where(program, data),
        "split": py(data.split),
        "validates": data.validates,  # split 1: no validation set, no val_ keys
        "task": task,
        "classes": None,
        "outputs": program.model.out_features,
        "playground": None,
        "file": None,
    }
    if isinstance(source, ir.PlaygroundData):
        module.use(f"common/data/{source.generator}.py", "data")
        args = [py(source.samples), py(source.noise)]
        if source.generator == "spiral":
            args.append(py(source.classes))
        context["playground"] = {
            "function": f"{source.generator}_data",
            "args": ", ".join(args),
            "description": comment(
                f"{source.generator}(samples={source.samples}, noise={source.noise})"
            ),
            "features": [FEATURE_EXPRESSIONS[f.name] for f in data.features],
            "feature_names": ", ".join(f.name for f in data.features),
            "columns": [
                {"name": name, "index": index}
                for index, name in enumerate(("x1", "x2"))
                if any(name in f.name for f in data.features)
            ],
        }
        context["classes"] = source.classes if task != "regression" else None
    else:
        kind = "csv" if isinstance(source, ir.CsvData) else "images" if isinstance(source, ir.ImageFolderData) else "npz"
        module.use("common/data/images.py" if kind == "images" else f"common/data/{kind}_file.py", "data")
        if kind == "npz":
            module.use("common/npy_header.py", "files")  # with the checkpoints' checks, at the end
        module.use("common/data/labels.py", "data")
        module.imports.append("from pathlib import Path")
        if kind == "csv":
            call = (
                f"load_csv(path, target={py(source.target)}, "
                f"features={py(None if data.features is None else [f.name for f in data.features])})"
            )
        elif kind == "images":
            call = f"load_images(path, size={py(source.size)}, color={py(source.color)})"
        else:
            call = f"load_npz(path, x_key={py(source.x_key)}, y_key={py(source.y_key)})"
        context["file"] = {
            "kind": kind,
            "call": call,
            "path": py(source.path),
            "description": comment(f"{kind}({source.path})"),
            "data_dir": py(data_dir if data_dir is not None else "."),
            "inputs": program.model.in_features,
            "shape": py(program.model.in_shape),
            "text": model_inputs(program)["text"],
        }
        if task == "multiclass":
            context["classes"] = program.model.out_features
    module.use("common/data/given_labels.py", "data")
    context["given_labels"] = {  # for evaluate(x, y): the labels a user holds, checked and converted
        "binary": "given_binary_labels(y, len(x))",
        "multiclass": f"given_class_labels(y, len(x), {program.model.out_features})",
        "regression": f"given_targets(y, len(x), {program.model.out_features})",
    }[task]
    return context


NORMALIZE_FORMULAS = catalog.NORMALIZE_FORMULAS


def lower_normalize(program: ir.Program, module: Module) -> dict | None:
    """The data block's feature scaling as the network's first step, x' = (x - shift) / scale with
    the statistics normalize.shift and normalize.scale (state beside the parameters). A program that
    trains computes them from its training rows (templates/common/normalize/<method>.py); an
    inference program has them from the weights it loads."""
    normalize = program.model.normalize
    if normalize is None:
        return None
    method = normalize.method
    shift, scale = catalog.NORMALIZE_METHODS[method]
    per = "channel" if program.model.images else "feature"
    out = {
        "method": method,
        "formula": NORMALIZE_FORMULAS[method],
        "where": where(program, normalize),
        "comment": comment(f"normalize {method} ({program.filename}:{normalize.span.line}): "
                           f"each input {per} becomes {NORMALIZE_FORMULAS[method]}, with the {shift} and {scale} "
                           "of the training rows"),
        "statistics": None,
    }
    if program.train is not None and program.data is not None:
        module.use(f"common/normalize/{method}.py", "data")
        out["statistics"] = f"{method}_statistics(data.x_train)"
    return out


#: Initialisers that draw nothing from the init stream.
DRAWS_NOTHING = frozenset({"values", "zeros", "ones", "constant"})


def lower_weights(program: ir.Program, module: Module) -> list[dict]:
    """How each parameter starts: one NumPy expression per parameter, in IR order."""
    out = []
    normalize = program.model.normalize
    if normalize is not None:  # the identity, until the training rows' statistics replace it
        for parameter, kind in zip(normalize.parameters, ("zeros", "ones"), strict=True):
            out.append({"name": py(parameter.name), "draws": False, "where": where(program, normalize),
                        "expression": _initial_value(ir.Initializer(kind), parameter.shape, (0, 0), module)})
    for layer in program.model.layers:
        if isinstance(layer, ir.BatchNorm):  # γ = 1, β = 0, and the running statistics of a standard normal
            starts = ("ones", "zeros", "zeros", "ones")
            for parameter, kind in zip(layer.parameters, starts, strict=True):
                out.append({"name": py(parameter.name), "draws": False, "where": where(program, layer),
                            "expression": _initial_value(ir.Initializer(kind), parameter.shape, (0, 0), module)})
            continue
        if isinstance(layer, ir.Conv2D):  # a patch of kh·kw·c_in values in, kh·kw·filters out (Keras's fans)
            kh, kw = layer.kernel
            fans = (kh * kw * layer.in_shape[2], kh * kw * layer.filters)
        elif isinstance(layer, ir.Dense):
            fans = (layer.in_features, layer.units)
        else:
            continue
        for parameter, init in zip(layer.parameters, (layer.kernel_init, layer.bias_init), strict=True):
            out.append(
                {
                    "name": py(parameter.name),
                    "expression": _initial_value(init, parameter.shape, fans, module),
                    "draws": init.kind not in DRAWS_NOTHING,
                    "where": where(program, init if init.span != ir.NO_SPAN else layer),
                }
            )
    return out


def _initial_value(init: ir.Initializer, shape: tuple[int, ...], fans: tuple[int, int], module: Module) -> str:
    if init.kind == "values":
        return f"np.array({py(init.values)}, dtype=np.float32)"
    if init.kind == "zeros":
        return f"np.zeros({py(shape)}, dtype=np.float32)"
    if init.kind == "ones":
        return f"np.ones({py(shape)}, dtype=np.float32)"
    if init.kind == "constant":
        return f"np.full({py(shape)}, {py(init.value)}, dtype=np.float32)"
    module.use(f"common/init/{init.kind}.py", "weights")
    if init.kind == "normal":
        return f"normal(rng, {py(shape)}, std={py(init.value)})"
    fan_in, fan_out = fans
    return f"{init.kind}(rng, {py(shape)}, fan_in={py(fan_in)}, fan_out={py(fan_out)})"


def output_activation_index(model: ir.Model) -> int | None:
    """The position of the layer whose activation is the model's output activation (None: linear),
    along the output's chain of single inputs (ir.Model.output_chain): a merge ends it."""
    for index in model.output_chain():
        layer = model.layers[index]
        if isinstance(layer, ir.ActivationLayer) or (
            isinstance(layer, ir.Dense) and layer.activation.name != "linear"
        ):
            return index
        if isinstance(layer, (ir.Dense, ir.Add, ir.Concat)):
            return None
    return None


def metric_forms(program: ir.Program) -> list[tuple[str, str]]:
    """(history key, form) for each metric of the train block, the form naming the formula a backend writes:

    * ``class_accuracy``: argmax of the outputs equals the integer class label;
    * ``binary_accuracy``: output logit > 0 (probability > ½) agrees with the 0/1 label;
    * ``mse``, ``mae``: per row, the mean over the outputs of the squared (absolute) difference
      between the predictions (output activation applied) and the targets (one-hot for classes);
    * ``class_precision``, ``class_recall``: per class, [true positives, predicted (actual)
      positives], the predicted class the argmax; ``binary_precision``, ``binary_recall`` the
      same two counts of class 1, predicted where the logit is > 0 (as binary_accuracy);
    * ``top_k_accuracy``: the true class's score is beaten (strictly) by fewer than k scores,
      k from the key (catalog.metric_argument).

    Each is a sum over rows, added up over an epoch's batches; metric_values() turns the sums
    into the metrics: a count over the rows for most, a mean over classes of hits / counts for
    the catalog's COUNTED_METRICS.
    """
    out = []
    task = "class" if program.task == "multiclass" else "binary"
    for key in program.train.metrics if program.train else ():
        name = catalog.metric_name(key)
        if name in ("accuracy", "precision", "recall"):
            out.append((key, f"{task}_{name}"))
        else:
            out.append((key, name))
    return out


def metric_values(program: ir.Program, mean: str, counted: str) -> dict:
    """metric_values(sums, n) as every full program writes it: each metric's value from `sums` over
    `n` rows, `mean` (the sum over n) or, for precision and recall, `counted` (macro_ratio of the
    counts), each a format string of `sums`, the sum's expression; and the docstring saying which."""
    keys = program.train.metrics if program.train else ()
    values = [{"key": key, "expression": (counted if catalog.metric_name(key) in catalog.COUNTED_METRICS else mean)
               .format(sums=f"sums[{py(key)}]")} for key in keys]
    how = "precision and recall\n    from their counts (macro_ratio), the others as means over the rows" \
        if uses_counts(program) else "means over the rows"
    return {"values": values,
            "docstring": f"The metrics of n rows from their metric_sums, added up over the batches: {how}."}


def uses_counts(program: ir.Program) -> bool:
    """Whether a metric is a ratio of counts (precision, recall): the program needs macro_ratio."""
    return any(catalog.metric_name(key) in catalog.COUNTED_METRICS for key in program.train.metrics) \
        if program.train else False


def history_keys(program: ir.Program) -> list[str]:
    """Keras's History layout: loss, metrics…, val_loss, val_metrics… (none for `split 1`), then lr
    (ir.history_keys)."""
    metrics = list(program.train.metrics) if program.train else []
    return ir.history_keys(metrics, validates=program.validates)


def local_variable(name: str, taken) -> str:
    """A variable for a layer's output in a graph's generated forward code: the layer's name,
    unless that is taken (`taken`, the builtins): then with a suffix."""
    import builtins

    variable = name.lstrip("_") or "h"
    if variable[0].isdigit():
        variable = f"h{variable}"
    taken = set(taken) | set(dir(builtins))
    stem, k = variable, 2
    while variable in taken:
        variable, k = f"{stem}_{k}", k + 1
    return variable


#: Each schedule's function (templates/common/schedules/<kind>.py) and the arguments it takes
#: besides the epoch and the peak rate; constant has none: the rate is the optimizer's lr.
SCHEDULE_FUNCTIONS = {
    "step": "step_decay",
    "exponential": "exponential_decay",
    "cosine": "cosine_decay",
}


def lower_controls(program: ir.Program, module: Module) -> dict:
    """The train block's controls of the learning rate and of when to stop, for fit() (the same in
    every backend): the schedule as a call, early stopping and the plateau as constructor
    arguments, clip_norm as a number. Each is its own snippet under templates/common/."""
    train = program.train
    if train is None:
        return {"schedule": None, "early_stopping": None, "plateau": None, "clip_norm": None, "stateful": False}
    schedule = train.schedule
    lr = "LR"  # the constant constants() defines
    if schedule.span == ir.NO_SPAN:  # no schedule statement
        call, text = lr, "the optimizer's lr, as no schedule changes it"
    elif schedule.kind == "constant":
        call, text = lr, "schedule constant"
    else:
        module.use(f"common/schedules/{schedule.kind}.py", "training")
        args = ", ".join(f"{key}={py(value)}" for key, value in schedule.args)
        extra = ", epochs=EPOCHS" if schedule.kind == "cosine" else ""
        call = f"{SCHEDULE_FUNCTIONS[schedule.kind]}(self.epoch, {lr}, {args}{extra})"
        text = comment(f"schedule {schedule.kind}({args})")
    out = {
        "schedule": {"call": call, "text": text,
                     "where": where(program, train.optimizer if schedule.span == ir.NO_SPAN else schedule)},
        "early_stopping": None,
        "plateau": None,
        "clip_norm": py(train.clip_norm) if train.clip_norm is not None else None,
        "stateful": train.early_stopping is not None or train.reduce_lr_on_plateau is not None,  # state to checkpoint
    }
    stopping, plateau = train.early_stopping, train.reduce_lr_on_plateau
    if stopping is not None or plateau is not None:
        module.use("common/controls/improvement.py", "training")
    if stopping is not None:
        module.use("common/controls/early_stopping.py", "training")
        out["early_stopping"] = {
            "args": f"monitor={py(stopping.monitor)}, patience={py(stopping.patience)}, "
                    f"min_delta={py(stopping.min_delta)}, direction={py(stopping.direction)}, "
                    f"restore_best={py(stopping.restore_best)}",
            "restore_best": stopping.restore_best,
            "where": where(program, stopping),
        }
    if plateau is not None:
        module.use("common/controls/reduce_lr_on_plateau.py", "training")
        out["plateau"] = {
            "args": f"monitor={py(plateau.monitor)}, factor={py(plateau.factor)}, patience={py(plateau.patience)}, "
                    f"min_delta={py(plateau.min_delta)}, min_lr={py(plateau.min_lr)}, direction={py(plateau.direction)}",
            "where": where(program, plateau),
        }
    return out
