"""The plain PyTorch program: an nn.Sequential for a stack (a small nn.Module for a graph) and the
training loop of PyTorch's own tutorials.

The layers are the full program's (torch_backend.plan_network decides each module), so both
compute the same thing; here they are written as a PyTorch user writes them.
"""

from __future__ import annotations

import re

from nndsl import ir
from nndsl.codegen import common, plain, torch_backend
from nndsl.codegen.render import drop_unused_functions, py, render_template, sort_imports, tidy

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
    plan = torch_backend.plan_network(program, network)
    module.use_all(network)
    if any("OrderedDict(" in entry["module"] for entry in plan.layers):  # a conv padded unevenly (same, stride 2)
        module.imports.append("from collections import OrderedDict")
    stack = program.model.is_stack
    index = {entry["name"]: position for position, entry in enumerate(plan.layers)}

    def tensor(path: str) -> str:
        """`dense_1.weight` as the model's attribute: model[0].weight in a Sequential."""
        attr, _, rest = path.partition(".")
        return f"model[{index[attr]}].{rest}" if stack else f"model.{path}"

    weights = []
    for entry in plan.parameters:
        name = py_name(entry["name"])
        if name.endswith((".mean", ".var", ".gamma", ".beta")):
            continue  # batch norm starts as torch's own: γ = 1, β = 0, mean 0, variance 1
        value = values[name]
        if value["fill"] is not None:
            weights.append({"tensor": tensor(entry["tensor"]), "value": value["fill"]})
            continue
        expression = value["expression"]
        if name in plan.kernels:
            expression += ".transpose(0, 3, 1, 2)"  # the IR's (out, kh, kw, in) as torch's (out, in, kh, kw)
        weights.append({"tensor": tensor(entry["tensor"]), "value": f"torch.from_numpy({expression})"})
    frozen = [tensor(f"{entry['name']}.weight").rpartition(".")[0] for entry in plan.frozen]
    fused = plan.predict_activation
    predictions = torch_backend.OUTPUT_FUNCTIONS[fused].format("output") if fused else "output"
    targets = f"nn.functional.one_hot(y, {program.model.out_features})" if program.task == "multiclass" else "y"
    metrics = plain.metric_expressions(program, METRICS, module, predictions=predictions, targets=targets)
    penalties = [f"{entry['rate']} * {tensor(entry['layer'] + '.weight')}.{entry['method']}().sum()"
                 for entry in plan.penalties]
    layers = [{"module": torch_arguments(entry["module"]), "name": entry["name"], "comment": None}
              for entry in plan.layers]
    if fused and layers:
        layers[-1]["comment"] = f"logits: the loss applies the {fused}"
    loss = "(loss_fn(output, y) + penalty())" if penalties else "loss_fn(output, y)"
    optimizer = torch_backend.lower_optimizer(program, lr=py(program.train.optimizer.lr))["call"].replace("(trainable,", "(model.parameters(),")
    train = program.train
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
        forward=plan.forward,
        output=plan.output,
        weights=weights,
        frozen=frozen,
        penalties=penalties,
        loss=torch_backend.LOSSES[program.loss.name][0],
        optimizer=optimizer,
        report=plain.report(program, [f"{loss}.item()"] + [f"{m}.item()" for m in metrics], indent=8),
        epochs=py(train.epochs),
        epochs_end=py(train.epochs + 1),
        batches=("torch.from_numpy(shuffle_rng.permutation(len(x_train)))" if train.shuffle
                 else "torch.arange(len(x_train))") + f".split({py(train.batch) if train.batch else 'len(x_train)'})",
    )
    return tidy(drop_unused_functions(source, module.functions))


def torch_arguments(module: str) -> str:
    """A module as the PyTorch tutorials write it: nn.Conv2d(1, 16, 3, padding=1), nn.MaxPool2d(2)
    (square windows as one number, defaults and a pool's stride equal to its window left out)."""
    if not module.startswith("nn."):  # the program's own modules (AvgPoolSame, GlobalPool) take tuples
        return module
    module = re.sub(r"(?:^|(?<=[=(]))\((\d+), \1\)", r"\1", module)  # (3, 3) -> 3
    module = module.replace(", stride=1", "").replace("kernel_size=", "")
    return re.sub(r"(Pool2d\((\d+)), stride=\2\)", r"\1)", module)


def py_name(literal: str) -> str:
    """A parameter name back from its rendered literal (the plan holds `"dense_1.W"`)."""
    import ast

    return ast.literal_eval(literal)
