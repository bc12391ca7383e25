"""The plain TensorFlow program: a keras.Sequential for a stack (the functional API for a graph),
trained by the custom loop of Keras's guide "Writing a training loop from scratch".

The layers are the full program's (tensorflow_backend.plan_model decides each one), so both
compute the same thing. The loop is written out rather than model.fit so that the batches and
the dropout masks come from the spec's NumPy streams, as on every backend.
"""

from __future__ import annotations

import ast
import re

from nndsl import ir
from nndsl.codegen import common, plain, plain_numpy, tensorflow_backend
from nndsl.codegen.render import drop_unused_functions, py, render_template, sort_imports, tidy

#: Keras's losses compute the IR's: batch means (over the outputs too), from the logits where fused.
LOSSES = {
    "binary_crossentropy": "keras.losses.BinaryCrossentropy(from_logits=True)",
    "categorical_crossentropy": "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
    "mse": "keras.losses.MeanSquaredError()",
    "mae": "keras.losses.MeanAbsoluteError()",
}


def lower(program: ir.Program, data_dir: str) -> str:
    model = program.model
    module = plain.PlainModule(["import keras", "import numpy as np", "import tensorflow as tf"])
    data = plain.lower_data(program, module, data_dir)
    program = plain.network_program(program)  # the data above are normalized already
    values = plain.initial_values(program, module)
    network = common.Module()
    plan = tensorflow_backend.plan_model(program, network)
    if plan.graph:
        reuse_variables(model, plan)
    optimizer = _optimizer(program, module)
    module.use_all(network)
    module.imports = [line for line in module.imports if "dropout" not in line]
    weighted = {layer.name for layer in model.layers if isinstance(layer, (ir.Dense, ir.Conv2D))}

    def arguments(call) -> str:  # named where a graph reads it, or initial_weights sets its weights
        named = plan.graph or ast.literal_eval(call.name) in weighted
        return ", ".join(keras_arguments(call.kind, call.args) + ([f"name={call.name}"] if named else []))

    calls = [{"output": call.output, "input": call.input, "comment": None,
              "layer": f"keras.layers.{call.kind}({arguments(call)})"} for call in plan.layers]
    fused = plan.fused
    if fused and calls:
        calls[-1]["comment"] = f"logits: the loss applies the {fused}"
    weights = []  # each Dense and Conv2D layer's kernel and bias, in the order rng draws them
    for layer in model.layers:
        if not isinstance(layer, (ir.Dense, ir.Conv2D)):
            continue  # batch norm starts as Keras's own: γ = 1, β = 0, mean 0, variance 1
        kernel, bias = (values[parameter.name] for parameter in layer.parameters)
        transpose = ".transpose(1, 2, 3, 0)" if isinstance(layer, ir.Conv2D) else ".T"
        units = py(layer.parameters[1].shape[0])
        bias = bias["expression"] if bias["fill"] is None else \
            f"np.zeros({units})" if bias["fill"] == "0.0" else f"np.full({units}, {bias['fill']})"
        weights.append(f"({py(layer.name)}, {kernel['expression']}{transpose}, {bias})")
    predictions = plain_numpy.PREDICTIONS[fused] if fused else "z"
    targets = f"np.eye({model.out_features}, dtype=np.float32)[y]" if program.task == "multiclass" else "y"
    penalty = " + float(sum(model.losses))" if plan.penalties else ""
    metrics = plain.metric_expressions(program, plain_numpy.METRICS, module, predictions=predictions, targets=targets)
    controls = plain.lower_controls(program, module, weights="model.get_weights",
                                    restore=["model.set_weights(early_stopping.best_weights)"])
    source = render_template(
        "plain/tensorflow.py.j2",
        controls=controls,
        set_lr=["optimizer.learning_rate.assign(lr)"],
        header=plain.header(program, "tensorflow"),
        imports=sort_imports(module.imports),
        snippets=module.text(),
        data=data,
        streams=plain.streams(program),
        graph=plan.graph,
        input_shape=", ".join(map(str, model.in_shape)) + ("," if len(model.in_shape) == 1 else ""),
        calls=calls,
        output=calls[-1]["output"] if calls else "inputs",
        weights=plain.listed("for name, kernel, bias in ", weights, ":", indent=0),
        conv=any(isinstance(layer, ir.Conv2D) for layer in model.layers),
        loss=LOSSES[program.loss.name],
        penalty=bool(plan.penalties),
        optimizer=optimizer,
        dropout=[{"rate": entry["rate"], "shape": entry["shape"]} for entry in plan.dropout],
        # a graph with dropout: its training forward pass, layer by layer (the full program's plan)
        training_forward=plan.training_forward if plan.graph else [],
        training_output=plan.training_output,
        report=plain.report(program, [f"float(loss_fn(y, z)){penalty}", *metrics], indent=4,
                            output=plain.output_name(program)),
        output_name=plain.output_name(program),
        hyper=plain.hyperparameters(program),
        order=plain.order(program),
    )
    return tidy(drop_unused_functions(source, module.functions))


#: Arguments a Keras user leaves out: the layers' defaults, as the full program's plan writes them.
KERAS_DEFAULTS = ("strides=(1, 1)", 'padding="valid"', "momentum=0.99", "epsilon=0.001")


def keras_arguments(kind: str, args: list[str]) -> list[str]:
    """A layer's arguments as the Keras tutorials write them: defaults left out, a square window
    as one number, a pool's stride left out where it is the window."""
    pool = kind in ("MaxPooling2D", "AveragePooling2D")  # whose strides default to the window, not 1
    args = [arg for arg in args if arg not in KERAS_DEFAULTS or (pool and arg.startswith("strides="))]
    if pool:
        args = [arg for arg in args if arg != f"strides={args[0]}"]
    if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
        args = [re.sub(r"(?:^|(?<=[=(]))\((\d+), \1\)", r"\1", arg) for arg in args]  # (3, 3) -> 3
    return args


def _optimizer(program: ir.Program, module: plain.PlainModule) -> str:
    """Keras's SGD is the IR's while the rate stays put; its Adam and RMSprop place eps otherwise,
    so the full program's classes (templates/tensorflow/optimizers) come along, and its Momentum
    where a schedule or the plateau changes the rate."""
    opt = program.train.optimizer
    if isinstance(opt, ir.SGD) and (opt.momentum or opt.nesterov) and plain.changes_lr(program):
        # Keras's SGD keeps −lr·v in its velocity: other steps once the rate changes, so the full program's class
        module.use("tensorflow/optimizers/momentum.py")
        return f"Momentum(learning_rate=learning_rate, momentum={py(opt.momentum)}, nesterov={py(opt.nesterov)})"
    if isinstance(opt, ir.SGD):
        extra = f", momentum={py(opt.momentum)}, nesterov={py(opt.nesterov)}" if opt.momentum or opt.nesterov else ""
        return f"keras.optimizers.SGD(learning_rate=learning_rate{extra})"
    if isinstance(opt, ir.Adam):
        module.use("tensorflow/optimizers/adam.py")
        return f"Adam(learning_rate=learning_rate, beta1={py(opt.beta1)}, beta2={py(opt.beta2)}, epsilon={py(opt.eps)})"
    module.use("tensorflow/optimizers/rmsprop.py")
    return f"RMSprop(learning_rate=learning_rate, rho={py(opt.rho)}, epsilon={py(opt.eps)})"


def reuse_variables(model: ir.Model, plan: tensorflow_backend.Plan) -> None:
    """A graph's variables as the Keras functional-API guide names them: `x` along the way, `h` (h2, …)
    for a branch while `x` is still to be read, the spec's own name where it gave one; each variable
    reused once nothing reads its value any more. The same names in training_forward(), whose input
    is `inputs` as the model's is."""
    calls, steps = plan.layers, plan.training_forward
    spec_names = {ast.literal_eval(call.name): call for call in calls}
    named = {call.output for layer in model.layers if layer.name in spec_names
             and re.fullmatch(rf"{re.escape(layer.kind)}_\d+", layer.name) is None
             for call in [spec_names[layer.name]]}

    def reads(text: str) -> list[str]:
        return re.findall(r"[A-Za-z_]\w*", text)

    last_read = {}
    for index, call in enumerate(calls):
        for variable in reads(call.input):
            last_read[variable] = index
    renamed = {"inputs": "inputs"}
    live: dict[str, str] = {}  # new name -> the old variable it holds
    for index, call in enumerate(calls):
        call.input = re.sub(r"[A-Za-z_]\w*", lambda match: renamed[match[0]], call.input)
        if call.output in renamed:  # a layer's second call (an activation after its conv)
            continue
        for new, old in list(live.items()):
            if last_read.get(old, -1) <= index:
                del live[new]
        if index == len(calls) - 1:
            new = call.output  # logits, or outputs
        elif call.output in named and call.output not in live:
            new = call.output
        else:
            new = next(name for name in ("x", "h", *(f"h{k}" for k in range(2, len(calls) + 2)))
                       if name not in live and name not in named)
        renamed[call.output] = new
        live[new] = call.output
    for call in calls:
        call.output = renamed[call.output]
    if steps:
        assert len(steps) == len(calls), "training_forward() has one step per layer call"
        trained = {plan.input_name: "inputs", "x": "inputs"}
        for step, call in zip(steps, calls, strict=True):
            step["input"] = re.sub(r"[A-Za-z_]\w*", lambda match: trained[match[0]], step["input"])
            trained[step["out"]] = call.output
            step["out"] = call.output
        plan.training_output = steps[-1]["out"]
