"""Lowering to PyTorch: an `nn.Sequential` of named layers and a plain training loop.

The model is built from `nn.Linear` and activation modules, so `state_dict`,
`torch.compile` and `torch.export` work on it as on any hand-written one.
Everything the IR defines the way torch does comes from torch (losses,
optimizers); everything that would change the numbers if torch drew it (initial
weights, batch order, dropout masks) comes from the same NumPy streams as in
the NumPy reference (docs/reproducibility.md), copied into the tensors.

Layout: `nn.Linear.weight` is (out_features, in_features), the IR's W layout
already, so parameters move between the IR and torch without a transpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nndsl import catalog, ir
from nndsl.codegen import common
from nndsl.codegen.naming import TORCH_NETWORK_ATTRIBUTES, Namer
from nndsl.codegen.render import drop_unused_functions, py, render_template, sort_imports, tidy

#: The layer kinds (ir layers' `kind`) this backend generates.
LAYER_KINDS = frozenset({"dense", "activation", "dropout", "conv2d", "maxpool", "avgpool", "global_avgpool",
                         "global_maxpool", "flatten", "batchnorm", "add", "concat"})

#: The IR's losses are torch's, with the default reduction (the batch mean).
LOSSES = {
    "binary_crossentropy": ("nn.BCEWithLogitsLoss()", "binary cross-entropy, fused with the sigmoid"),
    "categorical_crossentropy": ("nn.CrossEntropyLoss()", "categorical cross-entropy, fused with the softmax"),
    "mse": ("nn.MSELoss()", "mean squared error"),
    "mae": ("nn.L1Loss()", "mean absolute error"),
}

#: Activation modules; `{alpha}` is filled with the IR's parameter.
ACTIVATION_MODULES = {
    "relu": "nn.ReLU()",
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "softmax": "nn.Softmax(dim=1)",
    "gelu": 'nn.GELU(approximate="tanh")',  # the IR's GELU is the tanh approximation
    "softplus": "nn.Softplus()",
    "leaky_relu": "nn.LeakyReLU({alpha})",
    "elu": "nn.ELU({alpha})",
}

#: The functional form, for the output activation that predict() applies to the logits.
OUTPUT_FUNCTIONS = {"sigmoid": "torch.sigmoid({})", "softmax": "torch.softmax({}, dim=1)"}

#: Each metric form (common.metric_forms) summed over the rows of the model's `output`.
METRIC_SUMS = {
    "class_accuracy": "torch.count_nonzero(output.argmax(dim=1) == y)",
    "binary_accuracy": "torch.count_nonzero((output > 0) == (y > 0.5))",
    "mse": "({predictions} - {targets}).square().mean(dim=1).sum()",
    "mae": "({predictions} - {targets}).abs().mean(dim=1).sum()",
    # [true positives, predicted positives]; [true positives, actual positives]
    "class_precision": "torch.stack([torch.bincount(y[predicted == y], minlength={classes}), "
                       "torch.bincount(predicted, minlength={classes})])",
    "class_recall": "torch.stack([torch.bincount(y[predicted == y], minlength={classes}), "
                    "torch.bincount(y, minlength={classes})])",
    "binary_precision": "torch.stack([torch.count_nonzero((output > 0) & (y > 0.5)), torch.count_nonzero(output > 0)])",
    "binary_recall": "torch.stack([torch.count_nonzero((output > 0) & (y > 0.5)), torch.count_nonzero(y > 0.5)])",
    # fewer than k classes score strictly higher than the true one
    "top_k_accuracy": "torch.count_nonzero((output > output.gather(1, y[:, None])).sum(dim=1) < {k})",
}
#: The predicted classes, for the metrics that count them per class.
CLASS_PREDICTED = "predicted = output.argmax(dim=1)"

#: Penalty on W per regularizer: l1 adds rate·Σ|W|, l2 adds rate·ΣW².
PENALTY_METHODS = {"l1": "abs", "l2": "square"}

#: Where the generated program runs, per target; templates/torch/device/<target>.py defines
#: its select_device().
TARGET_NOTES = {
    "auto": "a CUDA GPU when torch sees one, else the CPU",
    "cpu": "the CPU",
    "gpu": "a CUDA GPU (DeviceError without one)",
    "tpu": "a TPU through torch_xla (DeviceError without it)",
}

USER_ERRORS = ("DataError", "CheckpointError", "TrainingDiverged", "DeviceError")


@dataclass
class Plan:
    """The nn.Sequential's layers, the parameters by IR name, and what the loss adds."""

    layers: list[dict] = field(default_factory=list)
    frozen: list[dict] = field(default_factory=list)
    parameters: list[dict] = field(default_factory=list)
    penalties: list[dict] = field(default_factory=list)
    predict_activation: str | None = None
    output_width: int = 0
    dropout: bool = False
    trainable: bool = False
    kernels: list[str] = field(default_factory=list)  # conv kernels: torch's layout is not the IR's
    #: A graph's forward(), one line per layer (empty for a stack, which stays an nn.Sequential)
    forward: list[dict] = field(default_factory=list)
    output: str = "x"  # the variable forward() returns


def plan_network(program: ir.Program, module: common.Module) -> Plan:
    """One named module per layer, and one per non-linear activation (except a fused output one)."""
    model = program.model
    fused = common.FUSED.get(program.loss.name) if program.loss else None
    last_activation = common.output_activation_index(model)
    names = Namer(TORCH_NETWORK_ATTRIBUTES)
    plan = Plan(output_width=model.out_features)
    if model.normalize is not None:  # first: the statistics are per channel of the (n, h, w, c) images
        module.use("torch/normalize.py", "network")
        attr = names.name("normalize")
        normalize = common.lower_normalize(program, module)
        plan.layers.append({"name": attr, "module": f"InputScaling({model.normalize.features})",
                            "comment": f"normalize {model.normalize.method}: {normalize['formula']}, "
                                       f"{normalize['where']}"})
        for parameter, tensor in zip(model.normalize.parameters, ("shift", "scale"), strict=True):
            plan.parameters.append({"name": py(parameter.name), "tensor": f"{attr}.{tensor}"})
        if not model.is_stack:
            plan.forward.append({"variable": "x", "expression": f"self.{attr}(x)", "comment": None})
    if model.images:
        module.use("torch/images/channels_first.py", "network")
        plan.layers.append({"name": names.name("channels_first"), "module": "ChannelsFirst()",
                            "comment": "the data's (n, h, w, c) images as torch's (n, c, h, w)"})
    variables = {model.input_name: "x"}  # the forward() variable of each layer's output (graphs)
    if model.images and not model.is_stack:
        plan.forward.append({"variable": "x", "expression": "self.channels_first(x)", "comment": None})
    for position, layer in enumerate(model.layers):
        first = len(plan.layers)
        _lower_layer(program, module, plan, names, layer, fused is not None and position == last_activation)
        if not model.is_stack:
            _forward_line(model, layer, plan.layers[first:], variables, plan)
    plan.output = variables[model.layers[-1].name] if model.layers and not model.is_stack else "x"
    return plan


#: Names forward() must not give a variable: the module's imports, `self` and the input.
FORWARD_TAKEN = frozenset({"self", "x", "torch", "nn", "np", "math", "OrderedDict"})


def _forward_line(model: ir.Model, layer: ir.Layer, modules: list[dict], variables: dict, plan: Plan) -> None:
    """One statement of a graph's forward(): the layer's modules applied to what it reads, or its merge."""
    sources = [variables[source] for source in model.sources(layer)]
    if isinstance(layer, (ir.Add, ir.Concat)):
        expression = " + ".join(sources) if layer.kind == "add" else f"torch.cat([{', '.join(sources)}], dim=1)"
        axis = "channels" if len(layer.out_shape) == 3 else "features"
        comment = None if layer.kind == "add" else f"side by side along the {axis}"
    elif not modules:  # an identity (a linear activation, or one the loss applies)
        variables[layer.name] = sources[0]
        return
    else:
        expression = sources[0]
        for entry in modules:
            expression = f"self.{entry['name']}({expression})"
        comment = None
    variable = common.local_variable(layer.name, {*variables.values(), *FORWARD_TAKEN})
    variables[layer.name] = variable
    plan.forward.append({"variable": variable, "expression": expression, "comment": comment})


def _lower_layer(program: ir.Program, module: common.Module, plan: Plan, names, layer: ir.Layer,
                 absorbed: bool) -> None:
    """The modules of one layer, appended to plan.layers (none for a merge or an identity)."""
    where = common.where(program, layer)
    if isinstance(layer, (ir.Add, ir.Concat)):
        return
    if isinstance(layer, ir.Conv2D):
        attr = names.name(layer.name)
        conv, tensor = _conv_module(layer), attr
        if conv.startswith("nn.Sequential"):
            tensor = f"{attr}.conv"
        plan.layers.append({"name": attr, "module": conv,
                            "comment": f"conv2d {layer.filters} {_pair(layer.kernel)} {layer.activation.name}, {where}"})
        weight, bias = layer.parameters
        plan.kernels.append(weight.name)
        module.use("torch/images/layout.py", "network")
        plan.parameters += [{"name": py(weight.name), "tensor": f"{tensor}.weight"},
                            {"name": py(bias.name), "tensor": f"{tensor}.bias"}]
        if layer.trainable:
            plan.trainable = True
        else:
            plan.frozen.append({"name": attr, "where": where})
        plan.penalties += [
            {"rate": py(reg.rate), "layer": tensor, "method": PENALTY_METHODS[reg.kind],
             "note": f"{reg.kind}({reg.rate})  ({where})"}
            for reg in layer.regularizers
        ]
        if layer.activation.name != "linear":
            plan.layers.append(_activation_layer(layer.activation, names.name(f"{layer.name}_{layer.activation.name}"),
                                                 None))
        return
    if isinstance(layer, ir.BatchNorm):
        module.use("torch/images/batchnorm.py", "network")
        attr = names.name(layer.name)
        kind = "BatchNorm2d" if len(layer.in_shape) == 3 else "BatchNorm1d"
        plan.layers.append({"name": attr, "module": f"{kind}({layer.channels}, eps={py(layer.eps)}, "
                                                    f"momentum={py(round(1 - layer.momentum, 12))})",
                            "comment": f"batchnorm, Keras's momentum {layer.momentum} ({where})"})
        for parameter, tensor in zip(layer.parameters, ("weight", "bias", "running_mean", "running_var"),
                                     strict=True):
            plan.parameters.append({"name": py(parameter.name), "tensor": f"{attr}.{tensor}"})
        plan.trainable = True
        return
    if isinstance(layer, (ir.Pool2D, ir.GlobalPool, ir.Flatten)):
        plan.layers.append({"name": names.name(layer.name), "module": _pool_module(layer, module),
                            "comment": f"{layer.kind} → {'x'.join(map(str, layer.out_shape))}  ({where})"})
        return
    if isinstance(layer, ir.Dense):
        attr = names.name(layer.name)
        note = f"dense {layer.units} {layer.activation.name}"
        if absorbed:
            note += f" (logits: the {layer.activation.name} is in the loss)"
        plan.layers.append(
            {"name": attr, "module": f"nn.Linear({layer.in_features}, {layer.units})", "comment": f"{note}, {where}"}
        )
        weight, bias = layer.parameters
        plan.parameters += [
            {"name": py(weight.name), "tensor": f"{attr}.weight"},
            {"name": py(bias.name), "tensor": f"{attr}.bias"},
        ]
        if layer.trainable:
            plan.trainable = True
        else:
            plan.frozen.append({"name": attr, "where": where})
        plan.penalties += [
            {"rate": py(reg.rate), "layer": attr, "method": PENALTY_METHODS[reg.kind], "note": f"{reg.kind}({reg.rate})  ({where})"}
            for reg in layer.regularizers
        ]
        activation = layer.activation
        if activation.name == "linear" or absorbed:
            if absorbed:
                plan.predict_activation = activation.name
            return
        plan.layers.append(_activation_layer(activation, names.name(f"{layer.name}_{activation.name}"), None))
    elif isinstance(layer, ir.ActivationLayer):
        if absorbed:
            plan.predict_activation = layer.activation.name
            return
        plan.layers.append(_activation_layer(layer.activation, names.name(layer.name), where))
    elif isinstance(layer, ir.Dropout):
        module.use("torch/dropout.py", "network")
        plan.dropout = True
        plan.layers.append(
            {
                "name": names.name(layer.name),
                "module": f"NumpyDropout({py(layer.rate)}, dropout_rng)",
                "comment": f"dropout {layer.rate}  ({where})",
            }
        )


def _pair(pair) -> str:
    return "x".join(map(str, pair))


def _conv_module(layer: ir.Conv2D) -> str:
    """nn.Conv2d, with TensorFlow's padding: as its own argument where it is symmetric, else an
    nn.ZeroPad2d before it (`same` with an even kernel or a stride puts the extra cell after)."""
    top, bottom, left, right = layer.padding
    args = f"{layer.in_shape[2]}, {layer.filters}, kernel_size={py(layer.kernel)}, stride={py(layer.stride)}"
    if top == bottom and left == right:
        padding = f", padding={py((top, left))}" if top or left else ""
        return f"nn.Conv2d({args}{padding})"
    return (f"nn.Sequential(OrderedDict(pad=nn.ZeroPad2d({py((left, right, top, bottom))}), "
            f"conv=nn.Conv2d({args})))")


def _pool_module(layer, module: common.Module) -> str:
    if isinstance(layer, ir.Flatten):
        module.use("torch/images/flatten.py", "network")
        return "FlattenHWC()"
    if isinstance(layer, ir.GlobalPool):
        module.use("torch/images/global_pool.py", "network")
        return f"GlobalPool({py(layer.op)})"
    top, bottom, left, right = layer.padding
    args = f"{py(layer.pool)}, stride={py(layer.stride)}"
    if layer.op == "avg":
        if any(layer.padding):
            module.use("torch/images/avgpool_same.py", "network")
            return f"AvgPoolSame({py(layer.pool)}, {py(layer.stride)}, {py(layer.padding)}, {py(layer.in_shape[:2])})"
        return f"nn.AvgPool2d({args})"
    if any(layer.padding):  # TensorFlow's max pooling never picks a padded cell: pad with −∞
        return (f"nn.Sequential(nn.ConstantPad2d({py((left, right, top, bottom))}, float(\"-inf\")), "
                f"nn.MaxPool2d({args}))")
    return f"nn.MaxPool2d({args})"


def _activation_layer(activation: ir.Activation, name: str, where: str | None) -> dict:
    if activation.name == "linear":
        return {"name": name, "module": "nn.Identity()", "comment": f"linear  ({where})" if where else None}
    text = ACTIVATION_MODULES[activation.name].format(alpha=py(activation.alpha))
    return {"name": name, "module": text, "comment": f"{activation.name}  ({where})" if where else None}


def lower_optimizer(program: ir.Program, lr: str = "LR") -> dict:
    """torch.optim's optimizers compute the IR's updates exactly (see the IR's docstrings). `lr`: the
    expression of the learning rate (the full program's constant LR; a plain program's number)."""
    opt = program.train.optimizer
    where = common.where(program, opt if opt.span != ir.NO_SPAN else program.train)
    if isinstance(opt, ir.SGD):
        args = f"lr={lr}"
        if opt.momentum or opt.nesterov:
            args += f", momentum={py(opt.momentum)}, nesterov={py(opt.nesterov)}"
        return {"call": f"torch.optim.SGD(trainable, {args})", "where": where, "note": None}
    if isinstance(opt, ir.Adam):
        args = f"lr={lr}, betas={py((opt.beta1, opt.beta2))}, eps={py(opt.eps)}"
        return {"call": f"torch.optim.Adam(trainable, {args})", "where": where, "note": None}
    args = f"lr={lr}, alpha={py(opt.rho)}, eps={py(opt.eps)}"
    return {"call": f"torch.optim.RMSprop(trainable, {args})", "where": where, "note": "torch's alpha is rho"}


def lower_loss(program: ir.Program) -> dict:
    """torch.nn's loss for the IR's: the same definitions, batch means, fused where the IR fuses."""
    call, note = LOSSES[program.loss.name]
    return {"call": call, "note": note, "where": common.where(program, program.loss)}


def metric_sums(program: ir.Program, plan: Plan) -> list[dict]:
    """For each metric, a torch expression summing it over the rows of the model's `output` against `y`."""
    fused = plan.predict_activation
    predictions = OUTPUT_FUNCTIONS[fused].format("output") if fused else "output"
    targets = f"nn.functional.one_hot(y, {program.model.out_features})" if program.task == "multiclass" else "y"
    return [
        {"key": py(key), "expression": METRIC_SUMS[form].format(
            predictions=predictions, targets=targets, classes=program.model.out_features,
            k=catalog.metric_argument(key))}
        for key, form in common.metric_forms(program)
    ]


def metric_values(program: ir.Program, module: common.Module) -> dict:
    """metric_values(sums, n): each metric's value from the sums of metric_sums over n rows."""
    if common.uses_counts(program):
        module.use("common/macro_ratio.py", "training")
    return common.metric_values(program, mean="{sums}.item() / n", counted="macro_ratio(to_numpy({sums}))")


def lower_device(target: str, module: common.Module) -> dict:
    """select_device() for the target, and what a training step must add there."""
    module.use("torch/device/errors.py", "device")
    module.use(f"torch/device/{target}.py", "device")
    module.use("torch/processes.py", "device")
    return {
        "target": py(target),
        "note": TARGET_NOTES[target],
        # torch_xla records operations lazily; each step's graph must be cut and run.
        "end_step": "torch_xla_sync()" if target == "tpu" else None,
    }


def lower(program: ir.Program, target: str, data_dir: str | None) -> str:
    """The standalone PyTorch program for `program`, running on `target` (auto, cpu, gpu, tpu)."""
    module = common.Module(
        imports=["import argparse", "import json", "import sys", "import warnings", "from pathlib import Path",
                 "from collections import OrderedDict", "import numpy as np", "import torch", "from torch import nn"]
    )
    module.use("common/streams.py", "weights")
    data = common.lower_data(program, module, data_dir) if program.train is not None else None  # inference: no data
    weights = common.lower_weights(program, module)
    device = lower_device(target, module)
    plan = plan_network(program, module)
    normalize = common.lower_normalize(program, module)
    module.use("torch/to_numpy.py", "training")
    module.use("common/npy_header.py", "files")  # used by checkpoint.py
    module.use("common/checkpoint.py", "files")
    trains = program.train is not None  # else an inference program: a Predictor, no command line
    common.use_main_snippets(program, module)
    if trains:
        module.use("torch/optimizer_state.py", "files")
    controls = common.lower_controls(program, module)
    if controls["clip_norm"]:
        module.use("torch/clip_norm.py", "training")
    if plan.dropout and trains:
        module.use("torch/batch_masks.py", "training")
    source = render_template(
        "torch/module.py.j2",
        header=dict(common.header(program, "PyTorch", target), needs="PyTorch and NumPy"),
        imports=sort_imports(module.imports),
        constants=common.constants(program),
        snippets=module.snippets,
        data=data,
        weights=weights,
        device=device,
        network=plan,
        normalize=normalize,
        has_train=trains,
        loss=lower_loss(program) if trains else None,
        optimizer=lower_optimizer(program) if trains and plan.trainable else None,
        controls=controls,
        history_keys=common.history_keys(program),
        metrics=list(program.train.metrics) if trains else [],
        metric_sums=metric_sums(program, plan),
        metric_values=metric_values(program, module),
        predicted=CLASS_PREDICTED if common.uses_counts(program) and program.task == "multiclass" else None,
        predict=OUTPUT_FUNCTIONS[plan.predict_activation].format("output") if plan.predict_activation else "output",
        label_dtype="torch.int64" if program.task == "multiclass" else "torch.float32",
        model_inputs=program.model.in_features,
        inputs=common.model_inputs(program),
        epochs=program.train.epochs if trains else 0,
        user_errors=", ".join(USER_ERRORS),
        processes=True,  # torchrun's ranks: templates/torch/processes.py
    )
    return tidy(drop_unused_functions(source, module.functions))
