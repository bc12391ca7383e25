"""The plain PyTorch program: an nn.Sequential for a stack (a small nn.Module for a graph) and the
training loop of PyTorch's own tutorials.

The layers are the full program's (torch_backend.plan_network decides each module), so both
compute the same thing; here they are written as a PyTorch user writes them.
"""

from __future__ import annotations

import re

from nndsl import ir
from nndsl.codegen import common, plain, torch_backend
from nndsl.codegen.naming import Namer, is_safe_identifier
from nndsl.codegen.render import drop_unused_functions, render_template, sort_imports, tidy

#: Each metric on the validation logits `output` against `y`, as a mean over the rows.
METRICS = {
    "class_accuracy": "(output.argmax(dim=1) == y).float().mean()",
    "binary_accuracy": "((output > 0) == (y > 0.5)).float().mean()",
    "mse": "({predictions} - {targets}).square().mean()",
    "mae": "({predictions} - {targets}).abs().mean()",
    "class_precision": "precision(output.argmax(dim=1).numpy(), y.numpy(), {classes}).mean()",
    "class_recall": "recall(output.argmax(dim=1).numpy(), y.numpy(), {classes}).mean()",
    "binary_precision": "((output > 0) & (y > 0.5)).sum() / (output > 0).sum().clamp(min=1)",
    "binary_recall": "((output > 0) & (y > 0.5)).sum() / (y > 0.5).sum().clamp(min=1)",
    "top_k_accuracy": "((output > output.gather(1, y[:, None])).sum(dim=1) < {k}).float().mean()",
}


def lower(program: ir.Program, data_dir: str) -> str:
    module = plain.PlainModule(["import numpy as np", "import torch", "from torch import nn"])
    data = plain.lower_data(program, module, data_dir)
    program = plain.network_program(program)  # the data above are normalized already
    values = plain.initial_values(program, module)
    network = common.Module()
    stack = program.model.is_stack
    if stack:
        plan, forward = torch_backend.plan_network(program, network), []
    else:
        plan, forward = graph_network(program, network)
    module.use_all(network)
    if any("OrderedDict(" in entry["module"] for entry in plan.layers):  # a conv padded unevenly (same, stride 2)
        module.imports.append("from collections import OrderedDict")
    index = {entry["name"]: position for position, entry in enumerate(plan.layers)}

    def tensor(path: str) -> str:
        """`dense_1.weight` as the model's attribute: model[0].weight in a Sequential."""
        attr, _, rest = path.partition(".")
        return f"model[{index[attr]}].{rest}" if stack else f"model.{path}"

    weights: dict[str, dict] = {}  # each layer's: its weight and bias, in the order rng draws them
    for entry in plan.parameters:
        name = py_name(entry["name"])
        if name.endswith((".mean", ".var", ".gamma", ".beta")):
            continue  # batch norm starts as torch's own: γ = 1, β = 0, mean 0, variance 1
        value = values[name]
        expression = value["fill"] if value["fill"] is not None else value["expression"]
        if name in plan.kernels and value["fill"] is None:
            expression += ".transpose(0, 3, 1, 2)"  # the IR's (out, kh, kw, in) as torch's (out, in, kh, kw)
        owner, _, tensor_name = tensor(entry["tensor"]).rpartition(".")
        weights.setdefault(owner, {})[tensor_name] = expression
    frozen = [tensor(f"{entry['name']}.weight").rpartition(".")[0] for entry in plan.frozen]
    fused = plan.predict_activation
    predictions = torch_backend.OUTPUT_FUNCTIONS[fused].format("output") if fused else "output"
    targets = f"nn.functional.one_hot(y, {program.model.out_features})" if program.task == "multiclass" else "y"
    metrics = plain.metric_expressions(program, METRICS, module, predictions=predictions, targets=targets)
    penalties = [f"{entry['rate']} * {tensor(entry['layer'] + '.weight')}.{entry['method']}().sum()"
                 for entry in plan.penalties]
    layers = [{"module": torch_arguments(entry["module"]), "name": entry["name"], "comment": None}
              for entry in plan.layers if stack or entry["module"] not in (*FUNCTIONS, *METHODS, "nn.Identity()")]
    if fused and layers:
        layers[-1]["comment"] = f"logits: the loss applies the {fused}"
    loss = "(loss_fn(output, y) + penalty())" if penalties else "loss_fn(output, y)"
    optimizer = torch_backend.lower_optimizer(program, lr="learning_rate")["call"]
    optimizer = optimizer.replace("(trainable,", "(model.parameters(),")
    controls = plain.lower_controls(program, module, weights="lambda: copy.deepcopy(model.state_dict())",
                                    restore=["model.load_state_dict(early_stopping.best_weights)"])
    if controls["clip_norm"]:
        module.use("torch/clip_norm.py")  # the full program's: torch's clip_grad_norm_ adds 1e-6 to the norm
    if controls["early_stopping"] and controls["early_stopping"]["restore"]:
        module.imports.append("import copy")
    source = render_template(
        "plain/torch.py.j2",
        controls=controls,
        set_lr=["for group in optimizer.param_groups:", '    group["lr"] = lr'],
        header=plain.header(program, "torch"),
        imports=sort_imports(module.imports),
        snippets=module.text(),
        data=data,
        label_dtype="torch.int64" if program.task == "multiclass" else "torch.float32",
        streams=plain.streams(program),
        stack=stack,
        layers=layers,
        forward=forward,
        weights=plain.listed("for layer, weight, bias in ", [f"({owner}, {pair['weight']}, {pair['bias']})"
                                                            for owner, pair in weights.items()], ":", indent=4),
        kernels=bool(plan.kernels),
        frozen=frozen,
        penalties=penalties,
        loss=torch_backend.LOSSES[program.loss.name][0],
        optimizer=optimizer,
        report=plain.report(program, [f"{loss}.item()"] + [f"{m}.item()" for m in metrics], indent=8,
                            output=plain.output_name(program)),
        output_name=plain.output_name(program),
        hyper=plain.hyperparameters(program),
        order=plain.order(program),
    )
    return tidy(drop_unused_functions(source, module.functions))


def torch_arguments(module: str) -> str:
    """A module as the PyTorch tutorials write it: nn.Conv2d(1, 16, 3, padding=1), nn.MaxPool2d(2)
    (square windows as one number, defaults and a pool's stride equal to its window left out)."""
    if not module.startswith("nn."):  # the program's own modules (AvgPoolSame, GlobalPool) take tuples
        return module
    module = re.sub(r"(?:^|(?<=[=(]))\((\d+), \1\)", r"\1", module)  # (3, 3) -> 3
    # a conv's stride 1 is its default (a pool's default is its window: there it stays)
    module = re.sub(r"(Conv2d\(.*?), stride=1(?=[,)])", r"\1", module).replace("kernel_size=", "")
    return re.sub(r"(Pool2d\((\d+)), stride=\2\)", r"\1)", module)


def py_name(literal: str) -> str:
    """A parameter name back from its rendered literal (the plan holds `"dense_1.W"`)."""
    import ast

    return ast.literal_eval(literal)


# A graph's nn.Module, written as a person writes a ResNet: the modules named after the spec's
# blocks, one line per layer with a parameter, the joins and activations around them.

#: Activation modules forward() calls as torch's functions instead: the same operations.
FUNCTIONS = {"nn.ReLU()": "torch.relu({})", "nn.Tanh()": "torch.tanh({})", "nn.Sigmoid()": "torch.sigmoid({})"}

#: The program's own reshaping modules, as the expression each one's forward() is (method calls on x).
METHODS = {'GlobalPool("avg")': "{}.mean(dim=(2, 3))", 'GlobalPool("max")': "{}.flatten(2).max(dim=2).values",
           "FlattenHWC()": "{}.permute(0, 2, 3, 1).flatten(1)"}

#: The short name of a module attribute per layer kind (conv1, fc2, …), for a layer the spec left unnamed.
SHORT = {"conv2d": "conv", "dense": "fc", "batchnorm": "bn", "dropout": "dropout", "maxpool": "pool",
         "avgpool": "pool", "activation": "act", "flatten": "flatten", "global_avgpool": "pool",
         "global_maxpool": "pool"}


def spec_named(layer: ir.Layer) -> bool:
    """Whether the spec named the layer (name=…), rather than the checker's kind_N."""
    return re.fullmatch(rf"{re.escape(layer.kind)}_\d+", layer.name) is None


class _Graph:
    """The model's layers with the identities (a linear activation, one the loss applies) left out:
    `source(name)` is what a layer's value is, `readers` who reads each value."""

    def __init__(self, model: ir.Model, modules: dict[str, list[dict]]):
        self.model, self.modules = model, modules
        self.by_name = {layer.name: layer for layer in model.layers}
        self.alias: dict[str, str] = {}
        for layer in model.layers:
            if not self.is_merge(layer) and not modules[layer.name]:
                self.alias[layer.name] = self.value(model.sources(layer)[0])
        self.nodes = [layer for layer in model.layers if layer.name not in self.alias]
        self.readers: dict[str, list[str]] = {model.input_name: []}
        for layer in self.nodes:
            self.readers.setdefault(layer.name, [])
            for source in self.sources(layer):
                self.readers[source].append(layer.name)
        self.output = self.value(model.layers[-1].name)

    def value(self, name: str) -> str:
        return self.alias.get(name, name)

    def sources(self, layer: ir.Layer) -> list[str]:
        return [self.value(source) for source in self.model.sources(layer)]

    @staticmethod
    def is_merge(layer: ir.Layer) -> bool:
        return isinstance(layer, (ir.Add, ir.Concat))

    def chain(self, name: str) -> list[str]:
        """`name` and the single-input layers above it, up to a join or the input (included)."""
        out = [name]
        while name in self.by_name and not self.is_merge(self.by_name[name]):
            name = self.sources(self.by_name[name])[0]
            out.append(name)
        return out

    def blocks(self) -> list[tuple[ir.Add, list[str], list[str]]]:
        """Each residual join y = g(x) + f(x): the add, f's layers and g's (none for the identity)."""
        found = []
        for layer in self.nodes:
            if not isinstance(layer, ir.Add) or len(layer.inputs) != 2:
                continue
            shortcut_side, body_side = self.sources(layer)
            shortcut_chain = self.chain(shortcut_side)
            body = []
            for name in self.chain(body_side):
                if name in shortcut_chain:
                    shortcut = shortcut_chain[:shortcut_chain.index(name)]
                    members = body + shortcut
                    if body and all(len(self.readers[member]) == 1 for member in members):
                        found.append((layer, body[::-1], shortcut[::-1]))
                    break
                body.append(name)
        return found


def attribute_names(model: ir.Model, graph: _Graph) -> dict[str, str]:
    """The module attribute of each layer the spec left unnamed: block1_conv1, block1_shortcut in
    residual blocks (block<k>, or the block's name), conv1, fc2 outside them."""
    out: dict[str, str] = {}
    for number, (add, body, shortcut) in enumerate(graph.blocks(), start=1):
        prefix = add.name if spec_named(add) else f"block{number}"
        counts: dict[str, int] = {}
        for name in body:
            short = SHORT.get(graph.by_name[name].kind, "layer")
            counts[short] = counts.get(short, 0) + 1
            out[name] = name if spec_named(graph.by_name[name]) else f"{prefix}_{short}{counts[short]}"
        for index, name in enumerate(shortcut, start=1):
            out[name] = name if spec_named(graph.by_name[name]) else \
                f"{prefix}_shortcut" + (str(index) if len(shortcut) > 1 else "")
    counts = {}
    for layer in model.layers:
        if layer.name not in out and not spec_named(layer):
            short = SHORT.get(layer.kind, "layer")
            counts[short] = counts.get(short, 0) + 1
            out[layer.name] = f"{short}{counts[short]}"
    return out


class _Attributes(Namer):
    """torch_backend's attribute names for a layer's modules, with the layer's name as attribute_names() gives."""

    def __init__(self, rename: dict[str, str], avoid: frozenset[str]):
        super().__init__(avoid)
        self.rename = rename
        self.layer: ir.Layer | None = None

    def name(self, wanted: str) -> str:
        old = self.layer.name
        if wanted == old or wanted.startswith(old + "_"):
            wanted = self.rename.get(old, old) + wanted[len(old):]
        return super().name(wanted)


def graph_network(program: ir.Program, network: common.Module) -> tuple[torch_backend.Plan, list[str]]:
    """The plan of the graph's modules (torch_backend's, under our names) and forward()'s lines."""
    model = program.model
    fused = common.FUSED.get(program.loss.name) if program.loss else None
    last_activation = common.output_activation_index(model)
    plan = torch_backend.Plan(output_width=model.out_features)
    modules: dict[str, list[dict]] = {}
    scratch = torch_backend.Plan()
    for position, layer in enumerate(model.layers):  # first the modules under the IR's names, to see the graph
        first = len(scratch.layers)
        torch_backend._lower_layer(program, common.Module(), scratch, Namer(), layer,
                                   fused is not None and position == last_activation)
        modules[layer.name] = [entry for entry in scratch.layers[first:] if entry["module"] != "nn.Identity()"]
    graph = _Graph(model, modules)
    names = _Attributes(attribute_names(model, graph), torch_backend.TORCH_NETWORK_ATTRIBUTES)
    for position, layer in enumerate(model.layers):
        first = len(plan.layers)
        names.layer = layer
        absorbed = fused is not None and position == last_activation
        torch_backend._lower_layer(program, network, plan, names, layer, absorbed)
        modules[layer.name] = [entry for entry in plan.layers[first:] if entry["module"] != "nn.Identity()"]
    for entry in plan.layers:  # a padded conv or pool: its padding in forward(), by nn.functional.pad
        for pattern, value in PADDED:
            padded = pattern.fullmatch(entry["module"])
            if padded:
                entry["module"], entry["pad"] = padded["module"], padded["pad"] + value
    for entry in plan.parameters:
        entry["tensor"] = re.sub(r"^(\w+)\.conv\.", r"\1.", entry["tensor"])
    for entry in plan.penalties:
        entry["layer"] = re.sub(r"^(\w+)\.conv$", r"\1", entry["layer"])
    return plan, _forward_lines(model, graph, modules)


#: torch_backend's modules for a conv padded unevenly (TensorFlow's `same` with a stride) and a max
#: pool padded with −∞: each the padding (nn.functional.pad's, with its value) and the module after it.
PADDED = [
    (re.compile(r"nn\.Sequential\(OrderedDict\(pad=nn\.ZeroPad2d\((?P<pad>\([^()]*\))\), "
                r"conv=(?P<module>nn\.Conv2d\(.*\))\)\)"), ""),
    (re.compile(r'nn\.Sequential\(nn\.ConstantPad2d\((?P<pad>\([^()]*\)), float\("-inf"\)\), '
                r"(?P<module>nn\.MaxPool2d\(.*\))\)"), ', value=float("-inf")'),
]


def _forward_lines(model: ir.Model, graph: _Graph, modules: dict[str, list[dict]]) -> list[str]:
    """forward()'s statements: each value with a parameter on its own line, except the last layer
    of a residual branch, which goes into its join; an activation wraps the join it follows.
    Every dropout is its own statement, so the masks are drawn in the layers' order."""

    def calls(layer: ir.Layer, argument: str) -> str:
        for entry in modules[layer.name]:
            module = entry["module"]
            if module in FUNCTIONS:
                argument = FUNCTIONS[module].format(argument)
            elif module in METHODS:
                argument = METHODS[module].format(f"({argument})" if _is_sum(argument) else argument)
            else:
                if "pad" in entry:
                    argument = f"nn.functional.pad({argument}, {entry['pad']})"
                argument = f"self.{entry['name']}({argument})"
        return argument

    def dropout(layer: ir.Layer) -> bool:
        return isinstance(layer, ir.Dropout)

    inline: dict[str, str] = {}  # a value written into its reader's line: that reader
    for layer in graph.nodes:
        readers = graph.readers[layer.name]
        if layer.name == graph.output or len(readers) != 1 or dropout(layer):
            continue
        reader = graph.by_name[readers[0]]
        single_call = (not graph.is_merge(layer) and len(modules[layer.name]) == 1
                       and modules[layer.name][0]["module"] not in FUNCTIONS)
        if isinstance(reader, ir.ActivationLayer) or (isinstance(reader, ir.Add) and single_call):
            inline[layer.name] = reader.name

    def statement(name: str) -> str:
        while name in inline:
            name = inline[name]
        return name

    order = {layer.name: index for index, layer in enumerate(graph.nodes)}
    last_use = {name: max((order[statement(reader)] for reader in readers), default=-1)
                for name, readers in graph.readers.items()}
    variables = {model.input_name: "x"}
    expressions: dict[str, str] = {}
    live: dict[str, str] = {"x": model.input_name}  # variable -> the value it holds, while it is read later
    lines = []
    if model.images:
        lines.append("x = x.permute(0, 3, 1, 2)  # the data's (n, h, w, c) images as torch's (n, c, h, w)")

    def operand(name: str) -> str:
        return expressions.pop(name) if name in expressions else variables[name]

    for index, layer in enumerate(graph.nodes):
        sources = [operand(source) for source in graph.sources(layer)]
        if isinstance(layer, ir.Add):
            expression = " + ".join(sources)
        elif isinstance(layer, ir.Concat):
            expression = f"torch.cat([{', '.join(sources)}], dim=1)"
        else:
            expression = calls(layer, sources[0])
        if layer.name in inline:
            expressions[layer.name] = expression
            continue
        if layer.name == graph.output:
            lines.append(f"return {expression}")
            break
        for variable, value in list(live.items()):
            if last_use[value] <= index:
                del live[variable]
        if spec_named(layer) and is_safe_identifier(layer.name, torch_backend.FORWARD_TAKEN) \
                and layer.name not in live:
            variable = layer.name
        elif "x" not in live:
            variable = "x"
        else:
            variable = next(name for name in ("h", *(f"h{k}" for k in range(2, len(graph.nodes) + 2)))
                            if name not in live)
        variables[layer.name] = variable
        live[variable] = layer.name
        comment = "  # side by side along the channels" if isinstance(layer, ir.Concat) and len(layer.out_shape) == 3 \
            else "  # in (h, w, c) order, as Keras and NumPy flatten" if ".permute(0, 2, 3, 1)" in expression else ""
        lines.append(f"{variable} = {expression}{comment}")
    return lines


def _is_sum(expression: str) -> bool:
    """Whether `expression` is a sum at its top level (a method call on it needs parentheses)."""
    depth = 0
    for position, char in enumerate(expression):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and expression.startswith(" + ", position):
            return True
    return False
