"""Lowering to TensorFlow: a Keras model, trained by a tf.function step with GradientTape.

The model is a functional `keras.Model` built from Keras layers, so `model.summary()`,
`count_params()`, saving and export work as a Keras user expects. Training is a custom
loop: a graph-mode step (forward, loss, `tf.GradientTape`, `optimizer.apply_gradients`)
run through `strategy.run` inside a `tf.distribute` strategy scope, whatever the target —
the default strategy on a CPU, a OneDevice or Mirrored strategy on GPUs, a TPUStrategy on
a TPU — so the code the tests run on a CPU is the code a TPU runs.

Every number that could differ between backends comes from NumPy, as in the NumPy
backend: data, initial weights (copied into the Keras variables, `kernel = Wᵀ`), the
batch order and the dropout masks (fed into the step rather than drawn by
`keras.layers.Dropout`). Losses are computed from logits where the IR fuses the output
activation with its cross-entropy; the model the user sees ends with that activation,
and a second `keras.Model` sharing the same layers stops at the logits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nndsl import catalog, ir
from nndsl.catalog import ACTIVATION_ALPHA
from nndsl.codegen import common
from nndsl.codegen.render import comment, drop_unused_functions, py, render_template, sort_imports, tidy

#: The layer kinds (ir layers' `kind`) this backend generates.
LAYER_KINDS = frozenset({"dense", "activation", "dropout", "conv2d", "maxpool", "avgpool", "global_avgpool",
                         "global_maxpool", "flatten", "batchnorm", "add", "concat"})

#: The Keras layers of the shape-changing kinds.
KERAS_SHAPE_LAYERS = {"maxpool": "MaxPooling2D", "avgpool": "AveragePooling2D", "global_avgpool": "GlobalAveragePooling2D",
                      "global_maxpool": "GlobalMaxPooling2D", "flatten": "Flatten"}

#: Activations Keras spells as a string with exactly the IR's definition.
KERAS_ACTIVATIONS = {"relu", "sigmoid", "tanh", "softmax", "softplus"}

#: Activations with a parameter: a Keras layer of their own, and its argument's name.
PARAMETRIC_ACTIVATIONS = {"leaky_relu": ("LeakyReLU", "negative_slope"), "elu": ("ELU", "alpha")}

#: Per-example losses, from the logits where fused: TensorFlow's own ops, as Keras' loss
#: functions compute them, without the conversions and checks those add to every training
#: step's graph. Elementwise ones are averaged over the output units (see per_example()).
LOSSES = {
    "binary_crossentropy": (
        "tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)",
        "binary cross-entropy of sigmoid(logits) against 0/1 labels, computed from the logits "
        "as max(z, 0) − z·y + log(1 + exp(−|z|)), which never takes log(0)",
    ),
    "categorical_crossentropy": (
        "tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)",
        "cross-entropy of softmax(logits) against integer class labels, computed from the logits "
        "as logsumexp(z) − z[label]",
    ),
    "mse": ("tf.square(outputs - y)", "squared error (outputs − y)², averaged over the outputs"),
    "mae": ("tf.abs(outputs - y)", "absolute error |outputs − y|, averaged over the outputs"),
}

#: XLA's default, measured on a 2-core CPU with the bench's networks: compiling costs more
#: than it saves in a whole run (0.3-0.45× the raw tf.function loop's speed on the 2-16-16-1 net
#: over 200 epochs, about 0.8× on the 784-1024-1024-10 net over 3), though a compiled epoch of
#: the small net then runs 2-2.6× faster (README, Benchmark). So the generated code leaves it
#: off and offers it (make_trainer(jit_compile=True)).
JIT_COMPILE_DEFAULT = False


@dataclass
class LayerCall:
    """One Keras layer in build_model(): `output = constructor(input)`."""

    output: str
    input: str
    kind: str  # a keras.layers class name
    args: list[str]
    name: str
    comment: str

    @property
    def constructor(self) -> str:
        """The class called: Keras's own, or one the generated program defines (InputScaling)."""
        return self.kind if self.kind in OWN_LAYERS else f"keras.layers.{self.kind}"


#: Layer classes the generated program defines itself (templates/tensorflow/*.py).
OWN_LAYERS = frozenset({"InputScaling"})


@dataclass
class Plan:
    """The Keras model, the training forward pass and the parameter map."""

    layers: list[LayerCall] = field(default_factory=list)
    input_name: str = "x"
    logits: str = "logits"  # the tensor the loss sees
    fused: str | None = None  # the output activation the loss applies itself
    output_layer: str | None = None  # name of the Activation layer that re-applies it
    dropout: list[dict] = field(default_factory=list)  # one per dropout layer, in forward order
    training_forward: list[dict] = field(default_factory=list)  # only with dropout
    training_output: str = "h"  # the variable training_logits() returns
    graph: bool = False  # branches or merges: each layer's output a variable of its own
    parameters: list[dict] = field(default_factory=list)
    penalties: list[dict] = field(default_factory=list)
    trainable: list[str] = field(default_factory=list)
    kernels: list[str] = field(default_factory=list)  # conv kernels, transposed otherwise than a Dense's


def plan_model(program: ir.Program, module: common.Module) -> Plan:
    """Keras layers for the IR's layers, in order; a fused output activation moves to the end."""
    model = program.model
    layers = list(model.layers)
    fused = common.FUSED.get(program.loss.name) if program.loss else None
    fused_at = common.output_activation_index(model) if fused else None
    plan = Plan(fused=fused, graph=not model.is_stack)
    taken = {layer.name for layer in layers}

    def fresh(wanted: str) -> str:
        name, k = wanted, 2
        while name in taken:
            name, k = f"{wanted}_{k}", k + 1
        taken.add(name)
        return name

    plan.input_name = fresh("x")
    # The spec's name is the Keras name, except that TensorFlow refuses a root name scope that
    # starts with `_` (where the Trainer calls a layer on its own, or anyone the model): there
    # the leading underscores go, as the torch Namer drops them (`_a` -> `a`, unique by fresh()).
    keras = {layer.name: layer.name if not layer.name.startswith("_") else fresh(keras_name(layer.name))
             for layer in layers}
    current = "inputs"
    if model.normalize is not None:  # the raw inputs in, the scaled ones to the first layer
        module.use("tensorflow/normalize.py", "network")
        normalize = common.lower_normalize(program, module)
        name = py(fresh("normalize"))
        plan.layers.append(LayerCall("h", current, "InputScaling", [py(model.normalize.features)], name,
                                     f"normalize {model.normalize.method} ({normalize['where']}): "
                                     f"{normalize['formula']}, the training rows' statistics"))
        plan.training_forward.append({"layer": name})
        plan.parameters += [{"name": py(parameter.name), "layer": name, "attribute": attribute}
                            for parameter, attribute in zip(model.normalize.parameters, ("shift", "scale"), strict=True)]
        current = "h"
    starts: list[tuple[ir.Layer, int, int]] = []  # each layer's first LayerCall and training step
    for position, layer in enumerate(layers):
        starts.append((layer, len(plan.layers), len(plan.training_forward)))
        where = common.where(program, layer)
        name = py(keras[layer.name])
        if isinstance(layer, (ir.Add, ir.Concat)):
            kind = "Add" if layer.kind == "add" else "Concatenate"
            plan.layers.append(LayerCall("h", current, kind, [], name, f"{layer.name} ({where})"))
            plan.training_forward.append({"layer": name})
            continue
        if isinstance(layer, ir.Conv2D):
            activation = layer.activation
            args = [py(layer.filters), py(layer.kernel), f"strides={py(layer.stride)}",
                    f"padding={py(layer.padding_name)}"]  # Keras' `same` is nndsl's: TensorFlow's rule
            if activation.name != "linear" and activation.name not in PARAMETRIC_ACTIVATIONS:
                args.append(f"activation={_activation_argument(activation, module)}")
            regularizer = _regularizer(layer)
            if regularizer:
                args.append(f"kernel_regularizer={regularizer}")
                plan.penalties.append({"layer": name, "where": where})
            if not layer.trainable:
                args.append("trainable=False")
            note = f"{layer.name} ({where}): Keras' kernel (kh, kw, in, filters) is W's (filters, kh, kw, in) transposed"
            plan.layers.append(LayerCall("h", current, "Conv2D", args, name, note))
            plan.training_forward.append({"layer": name})
            plan.kernels.append(layer.parameters[0].name)
            for parameter, attribute in zip(layer.parameters, ("kernel", "bias"), strict=True):
                plan.parameters.append({"name": py(parameter.name), "layer": name, "attribute": attribute})
                if layer.trainable:
                    plan.trainable.append(parameter.name)
            if activation.name in PARAMETRIC_ACTIVATIONS:
                note = f"{layer.name} ({where}): its {activation.name}, a Keras layer of its own"
                extra = _activation_layer(activation, fresh(f"{keras[layer.name]}_{activation.name}"), note, module)
                plan.layers.append(extra)
                plan.training_forward.append({"layer": extra.name})
            current = "h"
            continue
        if isinstance(layer, ir.BatchNorm):  # Keras's momentum and biased variance are the IR's
            plan.layers.append(LayerCall("h", current, "BatchNormalization",
                                         [f"momentum={py(layer.momentum)}", f"epsilon={py(layer.eps)}"], name,
                                         f"{layer.name} ({where}): batch statistics in training, running ones after"))
            plan.training_forward.append({"layer": name, "training": True})
            for parameter, attribute in zip(layer.parameters, ("gamma", "beta", "moving_mean", "moving_variance"),
                                            strict=True):
                plan.parameters.append({"name": py(parameter.name), "layer": name, "attribute": attribute})
                if parameter.trainable:
                    plan.trainable.append(parameter.name)
            current = "h"
            continue
        if isinstance(layer, (ir.Pool2D, ir.GlobalPool, ir.Flatten)):
            kind, args = KERAS_SHAPE_LAYERS[layer.kind], []
            if isinstance(layer, ir.Pool2D):  # Keras' `same` pooling leaves the padded cells out, as nndsl's
                args = [py(layer.pool), f"strides={py(layer.stride)}", f"padding={py(layer.padding_name)}"]
            plan.layers.append(LayerCall("h", current, kind, args, name,
                                         f"{layer.name} ({where}): → {'x'.join(map(str, layer.out_shape))}"))
            plan.training_forward.append({"layer": name})
            current = "h"
            continue
        if isinstance(layer, ir.Dense):
            activation = layer.activation
            absorbed = position == fused_at
            args = [py(layer.units)]
            inline = not absorbed and activation.name != "linear" and activation.name not in PARAMETRIC_ACTIVATIONS
            if inline:
                args.append(f"activation={_activation_argument(activation, module)}")
            regularizer = _regularizer(layer)
            if regularizer:
                args.append(f"kernel_regularizer={regularizer}")
                plan.penalties.append({"layer": name, "where": where})
            if not layer.trainable:
                args.append("trainable=False")
            note = f"{layer.name} ({where}): z = W·x + b, Keras' kernel is Wᵀ"
            if absorbed:
                note += f"; the {activation.name} is left to the loss"
            plan.layers.append(LayerCall("h", current, "Dense", args, name, note))
            plan.training_forward.append({"layer": name})
            for parameter, attribute in zip(layer.parameters, ("kernel", "bias"), strict=True):
                plan.parameters.append({"name": py(parameter.name), "layer": name, "attribute": attribute})
                if layer.trainable:
                    plan.trainable.append(parameter.name)
            if not absorbed and activation.name in PARAMETRIC_ACTIVATIONS:
                note = f"{layer.name} ({where}): its {activation.name}, a Keras layer of its own"
                extra = _activation_layer(activation, fresh(f"{keras[layer.name]}_{activation.name}"), note, module)
                plan.layers.append(extra)
                plan.training_forward.append({"layer": extra.name})
        elif isinstance(layer, ir.ActivationLayer):
            if position == fused_at:
                plan.output_layer = name
                continue
            call = _activation_layer(layer.activation, keras[layer.name], f"{layer.name} ({where})", module)
            call.input = current
            plan.layers.append(call)
            plan.training_forward.append({"layer": name})
        elif isinstance(layer, ir.Dropout):
            module.use("tensorflow/dropout.py", "training")
            index = len(plan.dropout)
            plan.dropout.append({"rate": py(layer.rate), "shape": ", ".join(map(str, layer.in_shape)),
                                 "layer": layer.name})
            plan.layers.append(
                LayerCall("h", current, "Dropout", [py(layer.rate)], name,
                          f"{layer.name} ({where}): in training, Trainer.dropout_masks drop the units")
            )
            plan.training_forward.append({"mask": index, "layer": name, "label": comment(layer.name)})
        current = "h"
    if model.is_stack:
        for step in plan.training_forward:
            step.update(input="h", out="h")
    else:
        _wire_graph(model, plan, starts)
    plan.training_output = plan.training_forward[-1]["out"] if plan.training_forward else "h"
    if plan.layers:
        plan.layers[-1].output = "logits" if fused else "outputs"
    plan.logits = "logits" if fused else "outputs"
    if fused and plan.output_layer is None:
        plan.output_layer = py(fresh(f"{_fused_layer_name(layers, fused_at, keras)}_{fused}"))
    if not plan.dropout:
        plan.training_forward = []
    return plan


#: Names a graph's variables must not take in build_model() and training_logits().
GRAPH_TAKEN = frozenset({"inputs", "outputs", "logits", "model", "keras", "tf", "np", "x", "h", "layers", "masks"})


def _wire_graph(model: ir.Model, plan: Plan, starts) -> None:
    """A graph's calls read what the spec says they read: each layer's output gets a variable
    of its own, and each layer's first call takes its sources (a merge: a list of them)."""
    built = {model.input_name: "inputs"}  # in build_model()
    trained = {model.input_name: "x"}  # in training_logits()
    if model.normalize is not None:  # the first call, before every layer's: the scaled inputs
        plan.layers[0].output = built[model.input_name] = "scaled"
        plan.training_forward[0].update(input="x", out="x")
    ends = [(c, s) for _, c, s in starts[1:]] + [(len(plan.layers), len(plan.training_forward))]
    for (layer, c0, s0), (c1, s1) in zip(starts, ends, strict=True):
        calls, steps = plan.layers[c0:c1], plan.training_forward[s0:s1]
        sources = model.sources(layer)
        if not calls:  # an identity: an output activation left to the loss
            built[layer.name], trained[layer.name] = built[sources[0]], trained[sources[0]]
            continue
        variable = common.local_variable(layer.name, {*built.values(), *GRAPH_TAKEN})
        merge = isinstance(layer, (ir.Add, ir.Concat))
        for i, call in enumerate(calls):
            call.input = variable if i else ("[" + ", ".join(built[s] for s in sources) + "]" if merge
                                             else built[sources[0]])
            call.output = variable
        for i, step in enumerate(steps):
            step["input"] = variable if i else ("[" + ", ".join(trained[s] for s in sources) + "]" if merge
                                                else trained[sources[0]])
            step["out"] = variable
        built[layer.name] = trained[layer.name] = variable


def _fused_layer_name(layers, index, keras) -> str:
    return keras[layers[index].name] if index is not None else "output"


def keras_name(name: str) -> str:
    """A spec name (or the model's) as TensorFlow takes it for a root name scope, which must not
    start with `_`: without the leading underscores, after `layer_` where a digit or nothing
    would be left."""
    stem = name.lstrip("_")
    return stem if stem and not stem[0].isdigit() else f"layer_{stem}".rstrip("_")


def _activation_argument(activation: ir.Activation, module: common.Module) -> str:
    """A parameter-free activation as Keras takes it: a string, or the generated gelu_tanh."""
    if activation.name == "gelu":
        module.use("tensorflow/activations/gelu.py", "network")
        return "gelu_tanh"
    return py(activation.name)


def _activation_layer(activation: ir.Activation, name: str, note: str, module: common.Module) -> LayerCall:
    """A layer of its own for an activation: Keras' LeakyReLU or ELU for those with a parameter."""
    if activation.name in PARAMETRIC_ACTIVATIONS:
        kind, argument = PARAMETRIC_ACTIVATIONS[activation.name]
        alpha = activation.alpha if activation.alpha is not None else ACTIVATION_ALPHA[activation.name]
        return LayerCall("h", "h", kind, [f"{argument}={py(float(alpha))}"], py(name), note)
    return LayerCall("h", "h", "Activation", [_activation_argument(activation, module)], py(name), note)


def _regularizer(layer: ir.Dense) -> str | None:
    """One Keras regularizer for a layer's l1/l2 penalties (rates of one kind add up)."""
    rates = {"l1": 0.0, "l2": 0.0}
    for reg in layer.regularizers:
        rates[reg.kind] += reg.rate
    if rates["l1"] and rates["l2"]:
        return f"keras.regularizers.L1L2(l1={py(rates['l1'])}, l2={py(rates['l2'])})"
    if rates["l1"]:
        return f"keras.regularizers.L1({py(rates['l1'])})"
    if rates["l2"]:
        return f"keras.regularizers.L2({py(rates['l2'])})"
    return None


def lower(program: ir.Program, target: str, data_dir: str | None) -> str:
    module = common.Module(imports=["import argparse", "import json", "import math", "import os", "import sys", "import warnings",
                                    "from pathlib import Path", "import keras", "import numpy as np",
                                    "import tensorflow as tf"])
    module.use("common/streams.py", "weights")
    data = common.lower_data(program, module, data_dir) if program.train is not None else None  # inference: no data
    weights = common.lower_weights(program, module)
    plan = plan_model(program, module)
    normalize = common.lower_normalize(program, module)
    module.use("tensorflow/device.py", "device")
    trains = program.train is not None  # else an inference program: a Predictor, no command line
    optimizer = _lower_optimizer(program, module) if trains else None
    module.use("common/npy_header.py", "files")  # used by checkpoint.py
    module.use("common/checkpoint.py", "files")
    common.use_main_snippets(program, module)
    controls = common.lower_controls(program, module)
    if controls["clip_norm"]:
        module.use("tensorflow/clip_norm.py", "training")
    if trains and common.uses_counts(program):
        module.use("common/macro_ratio.py", "training")
    imports = sort_imports(module.imports)
    split = imports.index("") if "" in imports else 0
    source = render_template(
        "tensorflow/module.py.j2",
        header=dict(common.header(program, "TensorFlow", target), needs="TensorFlow and NumPy"),
        stdlib_imports=imports[:split],
        framework_imports=imports[split + 1 :] if split else imports,
        constants=common.constants(program),
        target=py(target),
        jit_compile=py(JIT_COMPILE_DEFAULT),
        snippets=module.snippets,
        data=data,
        weights=weights,
        model=plan,
        normalize=normalize,
        trainable=py(tuple(plan.trainable)),
        model_name=py(keras_name(program.model.name or "model")),
        logits_model_name=py(f"{keras_name(program.model.name or 'model')}_logits"),
        inputs=program.model.in_features,
        model_inputs=common.model_inputs(program),
        input_shape=", ".join(map(str, program.model.in_shape)) + ("," if len(program.model.in_shape) == 1 else ""),
        outputs=program.model.out_features,
        has_train=trains,
        loss=_lower_loss(program, plan) if trains else None,
        metrics=_lower_metrics(program, plan) if trains else None,
        optimizer=optimizer,
        controls=controls,
        history_keys=common.history_keys(program),
        epochs=program.train.epochs if trains else 0,
        user_errors="DataError, CheckpointError, TrainingDiverged, DeviceError",
        multi_worker=True,  # main() lets the TF_CONFIG chief alone write (device.py: is_chief)
    )
    return tidy(drop_unused_functions(source, module.functions))


def per_example(expression: str, program: ir.Program) -> str:
    """An elementwise (batch, outputs) expression averaged over the outputs, one value per example.

    With one output unit the (batch, 1) tensor already holds one value per example, and the
    mean, an op in every training step, is left out.
    """
    if program.model.out_features == 1:
        return expression
    return f"tf.reduce_mean({expression}, axis=-1)"


def _lower_loss(program: ir.Program, plan: Plan) -> dict:
    expression, description = LOSSES[program.loss.name]
    if program.loss.name != "categorical_crossentropy":  # that one is per example already
        expression = per_example(expression, program)
    return {"expression": expression, "description": comment(description), "where": common.where(program, program.loss)}


#: The predicted and the actual class of each row, one-hot (multiclass) or 0/1 (binary), as floats:
#: precision and recall count them.
CLASS_INDICATORS = {
    "multiclass": ["predicted = tf.one_hot(tf.argmax(logits, axis=-1), {classes})",
                   "actual = tf.one_hot(y, {classes})"],
    "binary": ["predicted = tf.cast(logits > 0, tf.float32)", "actual = tf.cast(y > 0.5, tf.float32)"],
}
#: Each counted form's sum over the batch: [true positives, predicted (actual) positives], per class
#: (axis=0) for a softmax, of class 1 for a sigmoid.
COUNTED_SUMS = {
    "class_precision": "tf.stack([tf.reduce_sum(predicted * actual, axis=0), tf.reduce_sum(predicted, axis=0)])",
    "class_recall": "tf.stack([tf.reduce_sum(predicted * actual, axis=0), tf.reduce_sum(actual, axis=0)])",
    "binary_precision": "tf.stack([tf.reduce_sum(predicted * actual), tf.reduce_sum(predicted)])",
    "binary_recall": "tf.stack([tf.reduce_sum(predicted * actual), tf.reduce_sum(actual)])",
}


def _lower_metrics(program: ir.Program, plan: Plan) -> dict:
    """For each metric, its sum over the batch (the sum of its per-example value, as Keras' metric
    of that name, or for precision and recall their counts) and the shape of that sum; and the
    lines before them that the counts need."""
    fused = plan.fused
    predictions = {"sigmoid": "tf.sigmoid(logits)", "softmax": "tf.nn.softmax(logits)"}.get(fused, "outputs")
    classes = py(program.model.out_features)
    targets = "y"
    if program.task == "multiclass":
        targets = f"tf.one_hot(y, {classes})"
    out = []
    for key, form in common.metric_forms(program):
        shape = ()
        if form == "class_accuracy":
            expression = "tf.cast(tf.equal(tf.argmax(logits, axis=-1), y), tf.float32)"
        elif form == "binary_accuracy":  # sigmoid(z) > 0.5 ⇔ z > 0
            expression = per_example("tf.cast(tf.equal(logits > 0, y > 0.5), tf.float32)", program)
        elif form == "mse":
            expression = per_example(f"tf.square({predictions} - {targets})", program)
        elif form == "mae":
            expression = per_example(f"tf.abs({predictions} - {targets})", program)
        elif form == "top_k_accuracy":  # fewer than k classes score strictly higher than the true one
            expression = ("tf.cast(tf.math.count_nonzero(logits > tf.gather(logits, y, batch_dims=1)[:, None], "
                          f"axis=-1) < {catalog.metric_argument(key)}, tf.float32)")
        else:
            shape = (2, program.model.out_features) if form.startswith("class_") else (2,)
        total = COUNTED_SUMS[form] if form in COUNTED_SUMS else f"tf.reduce_sum({expression})"
        out.append({"key": py(key), "expression": total, "shape": shape})
    counts = common.uses_counts(program)
    return {"sums": out,
            "prelude": [line.format(classes=classes) for line in CLASS_INDICATORS[program.task]] if counts else [],
            "shapes": {key: shape for key, shape in zip(program.train.metrics, (m["shape"] for m in out), strict=True)},
            "values": common.metric_values(program, mean="float({sums}) / n", counted="macro_ratio({sums})")}


def _lower_optimizer(program: ir.Program, module: common.Module) -> dict:
    opt = program.train.optimizer
    where = common.where(program, opt if opt.span != ir.NO_SPAN else program.train)
    if isinstance(opt, ir.SGD) and (opt.momentum or opt.nesterov):
        module.use("tensorflow/optimizers/momentum.py", "optimizer")
        kind = "Nesterov momentum" if opt.nesterov else "momentum"
        return {
            "expression": f"Momentum(learning_rate=LR, momentum={py(opt.momentum)}, nesterov={py(opt.nesterov)})",
            "note": f"SGD with {kind}, a velocity v ← m·v + g, the class Momentum above (Keras's SGD keeps "
                    "−lr·v instead, which differs once the rate changes)",
            "where": where,
        }
    if isinstance(opt, ir.SGD):
        return {"expression": "keras.optimizers.SGD(learning_rate=LR)", "note": "gradient descent, θ ← θ − lr·g",
                "where": where}
    if isinstance(opt, ir.Adam):
        module.use("tensorflow/optimizers/adam.py", "optimizer")
        return {
            "expression": f"Adam(learning_rate=LR, beta1={py(opt.beta1)}, beta2={py(opt.beta2)}, "
            f"epsilon={py(opt.eps)})",
            "note": "Adam as Kingma & Ba's Algorithm 1 writes it, the class Adam above",
            "where": where,
        }
    module.use("tensorflow/optimizers/rmsprop.py", "optimizer")
    return {
        "expression": f"RMSprop(learning_rate=LR, rho={py(opt.rho)}, epsilon={py(opt.eps)})",
        "note": "RMSprop with eps outside the square root, the class RMSprop above",
        "where": where,
    }
