"""The plain NumPy program: the network as a list of layers, each with its forward and backward
pass as the lecture draws them, the loss with its gradient, and a mini-batch SGD loop.

The full program (numpy_backend) computes the same, with preallocated buffers and fused
in-place steps for speed; the plain one writes each formula once, as an expression.
"""

from __future__ import annotations

from nndsl import ir
from nndsl.catalog import ACTIVATION_ALPHA
from nndsl.codegen import common, plain
from nndsl.codegen.render import drop_unused_functions, py, render_template, sort_imports, tidy

#: The activation classes of templates/plain/numpy/activations.py.
ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax", "leaky_relu": "LeakyReLU",
               "elu": "ELU", "gelu": "GELU", "softplus": "Softplus"}

#: Each metric on the validation outputs `z` (logits where the loss is fused) against `y`.
METRICS = {
    "class_accuracy": "np.mean(z.argmax(axis=1) == y)",
    "binary_accuracy": "np.mean((z > 0) == (y > 0.5))",
    "mse": "np.mean(({predictions} - {targets}) ** 2)",
    "mae": "np.mean(np.abs({predictions} - {targets}))",
    "class_precision": "precision(z.argmax(axis=1), y, {classes}).mean()",
    "class_recall": "recall(z.argmax(axis=1), y, {classes}).mean()",
    "binary_precision": "np.sum((z > 0) & (y > 0.5)) / max(np.sum(z > 0), 1)",
    "binary_recall": "np.sum((z > 0) & (y > 0.5)) / max(np.sum(y > 0.5), 1)",
    "top_k_accuracy": "np.mean((z > np.take_along_axis(z, y[:, None], axis=1)).sum(axis=1) < {k})",
}
PREDICTIONS = {"sigmoid": "0.5 * (1 + np.tanh(z / 2))", "softmax": "np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)"}


def lower(program: ir.Program, data_dir: str) -> str:
    model = program.model
    module = plain.PlainModule(["import numpy as np"])
    data = plain.lower_data(program, module, data_dir)
    program = plain.network_program(program)  # the data above are normalized already
    values = plain.initial_values(program, module)
    for name in ("layers", "activations", "losses", "optimizers"):
        module.use(f"plain/numpy/{name}.py")
    if model.images or any(isinstance(layer, ir.BatchNorm) for layer in model.layers):
        # the full program's operations, and the layers that call them (batch norm on vectors too)
        for name in ("conv2d", "maxpool", "avgpool", "global_pool", "batchnorm"):
            module.use(f"numpy/ops/{name}.py")
        module.use("plain/numpy/images.py")
    fused = common.FUSED.get(program.loss.name)
    fused_at = common.output_activation_index(model) if fused else None
    steps: dict[str, list[dict]] = {}  # each IR layer's plain layers, in order (none for a merge)
    for position, layer in enumerate(model.layers):
        absorbed = position == fused_at
        layers = steps[layer.name] = []
        if isinstance(layer, (ir.Add, ir.Concat)):
            continue
        if isinstance(layer, ir.Dense):
            weight, bias = layer.parameters
            args = [values[weight.name]["expression"], values[bias.name]["expression"], *_rates(layer)]
            note = f"logits: the loss applies the {layer.activation.name}" if absorbed else None
            layers.append({"call": _layer("Dense", args, layer), "comment": note})
            if layer.activation.name != "linear" and not absorbed:
                layers.append({"call": _activation(layer.activation), "comment": None})
        elif isinstance(layer, ir.ActivationLayer):
            if layer.activation.name != "linear" and not absorbed:
                layers.append({"call": _activation(layer.activation), "comment": None})
        elif isinstance(layer, ir.Conv2D):
            weight, bias = layer.parameters
            args = [values[weight.name]["expression"], values[bias.name]["expression"], f"stride={py(layer.stride)}",
                    f"pad={py(layer.padding)}", *_rates(layer)]
            layers.append({"call": _layer("Conv2D", args, layer), "comment": None})
            if layer.activation.name != "linear":
                layers.append({"call": _activation(layer.activation), "comment": None})
        elif isinstance(layer, ir.Pool2D):
            kind = "MaxPool" if layer.op == "max" else "AvgPool"
            layers.append({"call": f"{kind}({py(layer.pool)}, stride={py(layer.stride)}, pad={py(layer.padding)}, "
                                   f"shape={py(layer.out_shape)})", "comment": None})
        elif isinstance(layer, ir.GlobalPool):
            layers.append({"call": "GlobalMaxPool()" if layer.op == "max" else "GlobalAvgPool()", "comment": None})
        elif isinstance(layer, ir.BatchNorm):
            layers.append({"call": f"BatchNorm({layer.channels}, momentum={py(layer.momentum)}, eps={py(layer.eps)})",
                           "comment": None})
        elif isinstance(layer, ir.Flatten):
            layers.append({"call": "Flatten()", "comment": None})
        else:
            layers.append({"call": f"Dropout({py(layer.rate)}, dropout_rng)", "comment": None})
    graph = None if model.is_stack else wire_graph(model, steps)
    layers = [step for layer_steps in steps.values() for step in layer_steps]
    predictions = PREDICTIONS[fused] if fused else "z"
    targets = f"np.eye({model.out_features}, dtype=np.float32)[y]" if program.task == "multiclass" else "y"
    metrics = plain.metric_expressions(program, METRICS, module, predictions=predictions, targets=targets)
    penalty = any(isinstance(layer, (ir.Dense, ir.Conv2D)) and layer.regularizers for layer in model.layers)
    loss = f"{program.loss.name}(z, y)[0]" + (" + penalty()" if penalty else "")
    train = program.train
    all_layers = "(layer for steps in layers.values() for layer in steps)" if graph else "layers"
    batchnorm = any(isinstance(layer, ir.BatchNorm) for layer in model.layers)
    state = "weights" if batchnorm else "params"  # what restore_best copies
    controls = plain.lower_controls(program, module, weights=f"lambda: [a.copy() for a in {state}]",
                                    restore=[f"for a, best in zip({state}, early_stopping.best_weights, strict=True):",
                                             "    a[...] = best"])
    if batchnorm and controls["early_stopping"] and controls["early_stopping"]["restore"]:
        controls["setup"] += ["# restore_best puts back the parameters and batch norm's running statistics",
                              f"weights = params + [a for layer in {all_layers} if isinstance(layer, BatchNorm) "
                              "for a in (layer.mean, layer.var)]"]
    if controls["clip_norm"]:
        module.use("numpy/clip_norm.py")
    source = render_template(
        "plain/numpy.py.j2",
        controls=controls,
        set_lr=["optimizer.lr = lr"],
        header=plain.header(program, "numpy"),
        imports=sort_imports(module.imports),
        snippets=module.text(),
        data=data,
        streams=plain.streams(program),
        layers=layers,
        graph=graph,
        graph_steps=[(py(name), layer_steps) for name, layer_steps in steps.items()
                     if not isinstance(model.layers[[la.name for la in model.layers].index(name)], (ir.Add, ir.Concat))],
        all_layers=all_layers,
        penalty=penalty,
        loss=program.loss.name,
        optimizer=_optimizer(train.optimizer),
        report=plain.report(program, [loss, *metrics], indent=4, output=plain.output_name(program)),
        output_name=plain.output_name(program),
        hyper=plain.hyperparameters(program),
        order=plain.order(program),
    )
    return tidy(drop_unused_functions(source, module.functions))


#: Names a graph's variables must not take in forward() and backward().
GRAPH_TAKEN = frozenset({"x", "z", "dz", "np", "layers", "run", "run_back", "training", "params", "optimizer"})


def wire_graph(model: ir.Model, steps: dict[str, list[dict]]) -> dict:
    """A graph's forward() and backward(), one statement per layer: each layer's plain layers run on
    what it reads (run), a merge adds or concatenates; backward goes through the layers in reverse,
    a value's gradient the sum of what its readers send back (run_back, the slices of a concat)."""
    variables = {model.input_name: "x"}
    forward = []
    for layer in model.layers:
        sources = [variables[source] for source in model.sources(layer)]
        variable = common.local_variable(layer.name, {*variables.values(), *GRAPH_TAKEN})
        variables[layer.name] = variable
        if isinstance(layer, ir.Add):
            forward.append(f"{variable} = {' + '.join(sources)}")
        elif isinstance(layer, ir.Concat):
            forward.append(f"{variable} = np.concatenate([{', '.join(sources)}], axis=-1)")
        else:
            forward.append(f"{variable} = run({py(layer.name)}, {sources[0]}, training)")
    forward.append(f"return {variables[model.layers[-1].name]}")
    parts: dict[str, list[str]] = {model.layers[-1].name: ["dz"]}  # what each value's readers send back
    backward = []
    for layer in reversed(model.layers):
        gradient = f"d_{variables[layer.name]}"
        backward.append(f"{gradient} = {' + '.join(parts[layer.name])}")
        sources = model.sources(layer)
        if isinstance(layer, ir.Add):
            sent = [gradient] * len(sources)
        elif isinstance(layer, ir.Concat):
            bounds = [sum(layer.widths[:k]) for k in range(len(layer.widths) + 1)]
            sent = [f"{gradient}[..., {start}:{stop}]" for start, stop in zip(bounds, bounds[1:], strict=False)]
        elif sources[0] == model.input_name:  # nothing reads ∂L/∂x: run back for the parameters' gradients
            backward.append(f"run_back({py(layer.name)}, {gradient})")
            continue
        else:
            sent = [f"run_back({py(layer.name)}, {gradient})"]
        for source, value in zip(sources, sent, strict=True):
            if source != model.input_name:
                parts.setdefault(source, []).append(value)
    return {"forward": forward, "backward": backward}


def _layer(kind: str, args: list[str], layer: ir.Dense | ir.Conv2D) -> str:
    """A Dense or Conv2D layer's call: Penalized… where the spec gives it l1/l2, frozen(…) where trainable=false."""
    call = f"{'Penalized' if layer.regularizers else ''}{kind}({', '.join(args)})"
    return call if layer.trainable else f"frozen({call})"


def _rates(layer) -> list[str]:
    """A layer's l1/l2 arguments (rates of one kind add up)."""
    rates = {"l1": 0.0, "l2": 0.0}
    for regularizer in layer.regularizers:
        rates[regularizer.kind] += regularizer.rate
    return [f"{kind}={py(rate)}" for kind, rate in rates.items() if rate]


def _activation(activation: ir.Activation) -> str:
    name = ACTIVATIONS[activation.name]
    if activation.name in ACTIVATION_ALPHA:
        alpha = activation.alpha if activation.alpha is not None else ACTIVATION_ALPHA[activation.name]
        return f"{name}({py(float(alpha))})"
    return f"{name}()"


def _optimizer(opt: ir.Optimizer) -> str:
    if isinstance(opt, ir.SGD):
        if opt.momentum or opt.nesterov:
            return f"Momentum(params, lr=learning_rate, momentum={py(opt.momentum)}, nesterov={py(opt.nesterov)})"
        return "SGD(params, lr=learning_rate)"
    if isinstance(opt, ir.Adam):
        return f"Adam(params, lr=learning_rate, beta1={py(opt.beta1)}, beta2={py(opt.beta2)}, eps={py(opt.eps)})"
    return f"RMSprop(params, lr=learning_rate, rho={py(opt.rho)}, eps={py(opt.eps)})"
