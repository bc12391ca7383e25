"""Lowering to NumPy: an explicit forward and backward pass, one call per operation.

Each layer becomes calls to small functions (templates/numpy/ops/*.py) that
compute an operation's local output and local derivative, chained in the
network's forward() and, in reverse, backward() — backpropagation as the
lecture draws it. Activations and their gradients live in buffers allocated
once per batch size and reused every step.

Variable names follow the lecture: dense layer j has W{j}, b{j}, its
pre-activation z{j} and its activation h{j}; a separate activation layer after
it writes a{j}, a dropout layer p{j} (with mask m{j}); gradients are d<name>.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from nndsl import catalog, ir
from nndsl.codegen import common
from nndsl.codegen.render import drop_unused_functions, py, render_template, sort_imports, tidy

#: The layer kinds (ir layers' `kind`) this backend generates.
LAYER_KINDS = frozenset({"dense", "activation", "dropout", "conv2d", "maxpool", "avgpool", "global_avgpool",
                         "global_maxpool", "flatten", "batchnorm", "add", "concat"})

FUSED = common.FUSED
LOSS_FUNCTIONS = {
    "binary_crossentropy": ("sigmoid_binary_crossentropy", "numpy/losses/sigmoid_binary_crossentropy.py"),
    "categorical_crossentropy": ("softmax_categorical_crossentropy", "numpy/losses/softmax_categorical_crossentropy.py"),
    "mse": ("mean_squared_error", "numpy/losses/mse.py"),
    "mae": ("mean_absolute_error", "numpy/losses/mae.py"),
}


@dataclass
class Value:
    """A batch-sized array in the network: an activation or its gradient."""

    name: str
    shape: tuple[int, ...]  # per sample: (features,) or an image's (height, width, channels)
    zeros: bool = False  # a constant array of zeros (ReLU's other operand), not a scratch buffer
    shares: str | None = None  # another value's name, whose memory this one reuses (ReLU in place)
    view: bool = False  # a reshaped view of another value (flatten), made in forward(), not allocated
    batch: bool = True  # one row per sample; False: one array for the batch (batch norm's 1/σ per channel)
    cells: int = 0  # a matrix of `cells` rows per sample (a conv's patches): (n·cells, shape[0]), not (n, *shape)
    order: str = "C"  # the matrix's memory order: "F" for patches copied one weight at a time
    blocks: int = 0  # pool-major: `blocks` arrays (blocks, n, *shape), one per offset of a max pool's windows
    note: str | None = None  # why it may share: the comment at the alias in buffers()

    @property
    def width(self) -> int:
        return math.prod(self.shape)


def playground_training_rows(program: ir.Program) -> int | None:
    """The training set's rows where the compiler knows them (a Playground set), else None."""
    if program.data is None or not isinstance(program.data.source, ir.PlaygroundData):
        return None
    return math.floor(program.data.source.samples * program.data.split)


#: A shuffled training set larger than this is gathered batch by batch (Trainer.gather), not as a whole.
GATHER_BY_BATCH_BYTES = 1 << 22


def gathers_by_batch(program: ir.Program) -> bool:
    """Whether the program needs the batch-by-batch gather: only when it shuffles, and only if its
    training set can be larger than GATHER_BY_BATCH_BYTES, which a data file always can. A Playground
    set's size is known here; both ways give the same batches, so this decides only what is written."""
    if program.train is None or not program.train.shuffle or program.data is None:
        return False
    n_train = playground_training_rows(program)
    if n_train is None:  # a data file: any size
        return True
    label_bytes = 8 if program.task == "multiclass" else 4  # int64 class labels; a float32 column
    return n_train * (program.model.in_features * 4 + label_bytes) > GATHER_BY_BATCH_BYTES


def training_rows(program: ir.Program) -> int | None:
    """Rows in a training batch, where the compiler knows them: `batch N`, or `batch all` of a Playground set."""
    if program.train is None:
        return None
    return program.train.batch if program.train.batch is not None else playground_training_rows(program)


def column_form(program: ir.Program) -> bool:
    """Whether the dense products run in the column form, zᵀ = W·xᵀ into column-major buffers,
    rather than the row form, z = x·Wᵀ.

    OpenBLAS is fastest with the larger of the output's two sides as its rows: the units in the
    column form, the batch in the row form. A layer's whole step (forward, ∂L/∂W, ∂L/∂b, ∂L/∂x)
    in the column form: 4-6 % faster for 256 rows through 784→1024 or 1024→1024, 18 % for 32
    rows through 256→256; in the row form, 20 % faster for 256 rows through 128→128, 29 % for
    4,096 rows through 64→64. Where units and batch are equal the row form is as fast or faster
    (3-5 % an epoch of the spiral examples). All layers share one form (mixing them would mix
    memory orders in the element-wise steps between), chosen by where most of the products'
    multiply-adds are: in layers wider than the batch, the column form. The row form otherwise,
    and where the batch size is not known here.
    """
    rows = training_rows(program)
    if rows is None or program.model.images:  # the image ops work on row-major (n, h, w, c) arrays
        return False
    dense = [layer for layer in program.model.layers if isinstance(layer, ir.Dense)]
    wide = sum(layer.in_features * layer.units for layer in dense if layer.units > rows)
    return 2 * wide > sum(layer.in_features * layer.units for layer in dense)


#: Trainable parameters of at least this many elements start 64-byte aligned in the flat array;
#: smaller ones are packed (padding them would only make the flat size differ from the count).
ALIGN_FROM = 1024


@dataclass
class Plan:
    """The network's buffers, parameters and the calls of forward() and backward()."""

    parameters: list[dict] = field(default_factory=list)
    flat_size: int = 0  # the trainable parameters' elements, all in one flat array (see Network)
    parameter_count: int = 0  # the trainable parameters: flat_size less the alignment padding
    buffers: list[Value] = field(default_factory=list)
    forward: list[dict] = field(default_factory=list)
    backward: list[dict] = field(default_factory=list)
    output: str = "x"
    output_width: int = 0
    output_shape: tuple[int, ...] = ()
    ones: bool = False  # a vector of n ones, for the bias gradients Σ_rows dz = 1ᵀ·dz
    predict_activation: str | None = None
    columns: bool = False  # the column form of the dense products, column-major buffers (column_form)
    dropout: bool = False  # a dropout layer: forward() draws masks from an rng while training
    batchnorm: bool = False  # a batch norm layer: forward() uses the batch's statistics while training
    penalties: list[dict] = field(default_factory=list)
    merges: bool = False  # add or concat, or a value that feeds several layers: templates/numpy/ops/merge.py


def plan_network(program: ir.Program, module: common.Module) -> Plan:
    model = program.model
    loss = program.loss.name if program.loss else None
    fused = FUSED.get(loss) if loss else None
    plan = Plan(columns=column_form(program))
    layers = list(model.layers)
    last_activation_layer = common.output_activation_index(model)
    trail: list[tuple[ir.Layer, dict]] = []
    dense_index = 0
    norm_index = 0
    relu_after_pool = None  # a conv layer whose ReLU runs after the max pool that follows it
    pool_major = None  # a conv layer whose output is laid out pool-major for the max pool that follows it
    names: set[str] = set()

    def new(prefix: str, shape, zeros: bool = False, shares: str | None = None, view: bool = False,
            batch: bool = True, cells: int = 0, order: str = "C", note: str | None = None,
            blocks: int = 0) -> Value:
        name = prefix
        k = 2
        while name in names:
            name, k = f"{prefix}_{k}", k + 1
        names.add(name)
        value = Value(name, (shape,) if isinstance(shape, int) else tuple(shape), zeros, shares, view, batch,
                      cells, order, blocks, note)
        if shares and note is None:
            value.note = f"relu in place: {name} = max({shares}, 0) overwrites {shares}, which nothing reads after"
        plan.buffers.append(value)
        return value

    # Values whose memory the one layer that reads them may overwrite: a linear layer's z and an
    # add's sum, which no backward step reads (a dense or conv layer's backward reads its input,
    # an add's reads nothing). A residual block's add then writes its sum over the linear layer's
    # z, and the ReLU after it overwrites the sum, as an expert writes y = relu(z + x) in place.
    readers = model.readers()
    overwritable: set[str] = set()

    def in_place_of(sources) -> Value | None:
        """The first value among `sources` that its one reader may overwrite, if any."""
        for source in sources:
            value = values[source]
            if value.name in overwritable and len(readers[source]) == 1:
                return value
        return None

    def zeros(shape: tuple[int, ...]) -> str:
        """The batch-sized array of zeros of this shape, one per shape, shared by the ReLUs."""
        for value in plan.buffers:
            if value.zeros and value.shape == shape:
                return value.name
        return new(f"zeros{shape[0]}" if len(shape) == 1 else "zeros_" + "x".join(map(str, shape)), shape,
                   zeros=True).name

    def add_parameters(layer, attrs) -> None:
        """The layer's parameters: trainable ones as views into the one flat array, the rest as arrays."""
        for attr, parameter in zip(attrs, layer.parameters, strict=True):
            start = plan.flat_size
            if parameter.trainable:
                if parameter.size >= ALIGN_FROM:  # a large view starts 64-byte aligned, as SIMD loops and BLAS like
                    start = -(-start // 16) * 16
                plan.flat_size = start + parameter.size
                plan.parameter_count += parameter.size
            plan.parameters.append(
                {"attr": attr, "grad": f"d{attr}", "name": py(parameter.name), "trainable": parameter.trainable,
                 "shape": py(parameter.shape), "start": start, "stop": plan.flat_size}
            )

    def lower_layer(position: int, layer: ir.Layer, current: Value) -> Value:
        """The steps of one layer, reading `current`; returns the value it gives."""
        nonlocal dense_index, norm_index, relu_after_pool, pool_major
        where = common.where(program, layer)
        if isinstance(layer, (ir.Add, ir.Concat)):
            return merge_step(layer, where)
        if isinstance(layer, ir.Conv2D):
            dense_index += 1
            j = dense_index
            module.use("numpy/ops/conv2d.py", "ops")
            W, b = f"W{j}", f"b{j}"
            add_parameters(layer, (W, b))
            relu_after = layer.activation.name == "relu" and _max_pool_follows(model, readers, position)
            pool = _pool_major_pool(model, readers, position)
            if pool is None:
                z = new(f"z{j}", layer.out_shape)
                cells = layer.out_shape[0] * layer.out_shape[1]
            else:  # only the cells the pool reads, one block per offset of its windows
                pool_major = layer
                z = new(f"z{j}", pool.out_shape[:2] + layer.out_shape[2:], blocks=math.prod(pool.pool))
                cells = math.prod(pool.pool) * pool.out_shape[0] * pool.out_shape[1]
            # The patch matrix is made once a step, for the product and again for ∂L/∂W. With one input
            # channel it is copied one weight (a whole strided image) at a time, into a column-major matrix.
            by_weight = layer.in_shape[2] == 1
            patches = new(f"patches{j}", math.prod(layer.kernel) * layer.in_shape[2], cells=cells,
                          order="F" if by_weight else "C")
            formula = f"{z.name} = {W} ⋆ {current.name} + {b}"
            step = {"op": "conv2d", "layer": layer.name, "where": where, "x": current.name, "W": W, "b": b,
                    "z": z.name, "patches": patches.name, "kernel": py(layer.kernel),
                    "im2col": "conv2d_patches_by_weight" if by_weight else "conv2d_patches",
                    "stride": py(layer.stride), "pad": py(layer.padding), "trainable": layer.trainable,
                    "pool": None, "dx": None, "comment": f"{layer.name}: {formula}  ({where})"}
            if pool is not None:
                step["pool"] = py(pool.pool)
                step["tiled"] = (pool.out_shape[0] * pool.pool[0], pool.out_shape[1] * pool.pool[1], layer.filters)
                dropped = step["tiled"][:2] != layer.out_shape[:2]
                formula += (f" on the cells {pool.name} reads{', not the last row or column it drops' if dropped else ''}, "
                            f"pool-major: {z.name}[k] is the cell at offset k of every {_pair(pool.pool)} window, "
                            f"so that the pool reads {math.prod(pool.pool)} contiguous blocks")
            plan.forward.append(step)
            trail.append((layer, step))
            for reg in layer.regularizers:
                module.use("numpy/losses/regularizers.py", "losses")
                plan.penalties.append({"function": f"{reg.kind}_penalty", "W": W, "rate": py(reg.rate),
                                       "layer": layer.name, "trainable": layer.trainable})
            activation = layer.activation
            if relu_after:
                relu_after_pool = layer
                step["comment"] = f"{layer.name}: {formula}, its relu after the pool  ({where})"
                return z
            if activation.name == "linear":
                overwritable.add(z.name)
                return z
            h = new(f"h{j}", layer.out_shape, shares=z.name if activation.name == "relu" else None)
            act = _activation_step(activation, z.name, h, layer.name, where, module, zeros)
            step["comment"] = f"{layer.name}: {formula}, {h.name} = {activation.name}({z.name})  ({where})"
            act["comment"] = None
            plan.forward.append(act)
            trail.append((layer, act))
            return h
        if isinstance(layer, ir.BatchNorm):
            norm_index += 1
            k = norm_index
            plan.batchnorm = True
            module.use("numpy/ops/batchnorm.py", "ops")
            attrs = (f"gamma{k}", f"beta{k}", f"mean{k}", f"var{k}")
            add_parameters(layer, attrs)
            out = new(f"n{k}", layer.out_shape)
            xhat = new(f"xhat{k}", layer.out_shape)
            inv_std = new(f"inv_std{k}", (layer.channels,), batch=False)
            step = {"op": "batchnorm", "layer": layer.name, "where": where, "x": current.name, "out": out.name,
                    "gamma": attrs[0], "beta": attrs[1], "mean": attrs[2], "var": attrs[3], "xhat": xhat.name,
                    "inv_std": inv_std.name, "momentum": py(layer.momentum), "eps": py(layer.eps),
                    "comment": f"{layer.name}: {out.name} = {attrs[0]}·x̂ + {attrs[1]}, x̂ = {current.name} normalised "
                               f"by the batch's statistics in training, by {attrs[2]} and {attrs[3]} after  ({where})"}
            plan.forward.append(step)
            trail.append((layer, step))
            return out
        if isinstance(layer, (ir.Pool2D, ir.GlobalPool, ir.Flatten)):
            op = layer.kind
            module.use("numpy/ops/flatten.py" if op == "flatten" else
                       "numpy/ops/global_pool.py" if op.startswith("global") else f"numpy/ops/{op}.py", "ops")
            out = new(f"{'f' if op == 'flatten' else 'g' if op.startswith('global') else 'q'}{dense_index}",
                      layer.out_shape, view=op == "flatten")
            step = {"op": op, "layer": layer.name, "where": where, "x": current.name, "out": out.name}
            if isinstance(layer, ir.Pool2D):
                step |= {"size": py(layer.pool), "stride": py(layer.stride), "pad": py(layer.padding)}
                what = f"the {'max' if layer.op == 'max' else 'mean'} of each {_pair(layer.pool)} window"
                if pool_major is not None:  # this pool reads that conv's pool-major blocks, and nothing else does
                    step["op"] = "maxpool_blocks"
                    what = f"the max over the {math.prod(layer.pool)} blocks (each {_pair(layer.pool)} window's cells)"
                    pool_major = None
            elif isinstance(layer, ir.GlobalPool):
                what = f"the {'max' if layer.op == 'max' else 'mean'} of each channel"
            else:
                what = f"the {'x'.join(map(str, layer.in_shape))} cells as one row of {layer.out_shape[0]}"
            step["comment"] = f"{layer.name}: {out.name} = {what} of {current.name}  ({where})"
            plan.forward.append(step)
            trail.append((layer, step))
            if relu_after_pool is not None:  # this pool reads that conv, and nothing else does
                # max(relu(z)) = relu(max(z)): ReLU is monotone, in float32 too, so on the pooled cells it
                # gives the same numbers on a quarter of the cells (2x2), ReLU′ too; the gradient reaches
                # the same cell (a window whose max is ≤ 0 passes none either way). Not in place: the
                # pool's backward compares its input with the max it kept.
                h = new(f"h{dense_index}", layer.out_shape)
                act = _activation_step(relu_after_pool.activation, out.name, h, relu_after_pool.name, where, module,
                                       zeros)
                step["comment"] = (f"{layer.name}: {out.name} = {what} of {current.name}, then {relu_after_pool.name}'s "
                                   f"relu, {h.name} = relu({out.name}): after the max, as relu is monotone, the same "
                                   f"numbers on the pooled cells  ({where})")
                act["comment"] = None
                plan.forward.append(act)
                trail.append((layer, act))
                relu_after_pool = None
                return h
            return out
        if isinstance(layer, ir.Dense):
            dense_index += 1
            j = dense_index
            module.use("numpy/ops/dense_columns.py" if plan.columns else "numpy/ops/dense.py", "ops")
            W, b = f"W{j}", f"b{j}"
            add_parameters(layer, (W, b))
            z = new(f"z{j}", layer.units)
            formula = f"{z.name} = {current.name}·{W}ᵀ + {b}"
            step = {
                "op": "dense",
                "layer": layer.name,
                "where": where,
                "x": current.name,
                "W": W,
                "b": b,
                "z": z.name,
                "trainable": layer.trainable,
                "dx": None,
                "comment": f"{layer.name}: {formula}  ({where})",
            }
            activation = layer.activation
            skip = activation.name == "linear" or (fused and position == last_activation_layer)
            plan.forward.append(step)
            trail.append((layer, step))
            if layer.regularizers:
                for reg in layer.regularizers:
                    module.use("numpy/losses/regularizers.py", "losses")
                    plan.penalties.append(
                        {
                            "function": f"{reg.kind}_penalty",
                            "W": W,
                            "rate": py(reg.rate),
                            "layer": layer.name,
                            "trainable": layer.trainable,
                        }
                    )
            if skip:
                if activation.name != "linear":
                    plan.predict_activation = activation.name
                else:
                    overwritable.add(z.name)
                return z
            # A ReLU right after its dense layer runs in place: its derivative is read off h alone,
            # and nothing else reads z, so h overwrites it (one buffer less to write and keep in cache).
            h = new(f"h{j}", layer.units, shares=z.name if activation.name == "relu" else None)
            act = _activation_step(activation, z.name, h, layer.name, where, module, zeros)
            step["comment"] = f"{layer.name}: {formula}, {h.name} = {activation.name}({z.name})  ({where})"
            act["comment"] = None
            plan.forward.append(act)
            trail.append((layer, act))
            return h
        elif isinstance(layer, ir.ActivationLayer):
            if fused and position == last_activation_layer:
                plan.predict_activation = layer.activation.name
                return current
            if layer.activation.name == "linear":  # the identity: no step, the gradient passes unchanged
                return current
            source = model.sources(layer)[0]
            spent = in_place_of((source,)) if layer.activation.name == "relu" else None
            a = new(f"a{dense_index}", layer.out_shape, shares=spent and spent.name)
            if spent:
                a.note = f"relu in place: {a.name} = max({spent.name}, 0) overwrites {spent.name}, which only it reads"
            act = _activation_step(layer.activation, current.name, a, layer.name, where, module, zeros)
            act["comment"] = f"{layer.name}: {a.name} = {layer.activation.name}({current.name})  ({where})"
            plan.forward.append(act)
            trail.append((layer, act))
            return a
        elif isinstance(layer, ir.Dropout):
            module.use("numpy/ops/dropout.py", "ops")
            plan.dropout = True
            p = new(f"p{dense_index}", layer.out_shape)
            m = new(f"m{dense_index}", layer.out_shape)
            step = {
                "op": "dropout",
                "layer": layer.name,
                "where": where,
                "x": current.name,
                "out": p.name,
                "mask": m.name,
                "rate": py(layer.rate),
                "comment": f"{layer.name}: {p.name} = {current.name} with a fraction {layer.rate} dropped  ({where})",
            }
            plan.forward.append(step)
            trail.append((layer, step))
            return p
    def merge_step(layer: ir.Merge, where: str) -> Value:
        """add: s = a + b + …; concat: c = [a, b, …] side by side along the last axis."""
        sources = model.sources(layer)
        operands = [values[source].name for source in sources]
        plan.merges = True
        # in place where one of the first two operands is spent (np.add(a, b, out=b): the same numbers)
        spent = in_place_of(sources[:2]) if layer.kind == "add" else None
        prefix = f"{'s' if layer.kind == 'add' else 'c'}{dense_index}"
        out = new(prefix, layer.out_shape, shares=spent and spent.name,
                  note=spent and f"add in place: the sum overwrites {spent.name}, which only this add reads")
        if layer.kind == "add":
            overwritable.add(out.name)
            what = " + ".join(operands)
        else:
            what = "[" + ", ".join(operands) + "] side by side"
        step = {"op": layer.kind, "layer": layer.name, "where": where, "xs": operands, "out": out.name,
                "comment": f"{layer.name}: {out.name} = {what}  ({where})"}
        if layer.kind == "concat":
            step["splits"] = py(tuple(itertools.accumulate(layer.widths))[:-1])
        plan.forward.append(step)
        trail.append((layer, step))
        return out

    if model.normalize is not None:  # the input's statistics: state, not trainable
        add_parameters(model.normalize, ("shift", "scale"))
    values = {model.input_name: Value("x", model.in_shape)}  # what each layer (and the input) gives
    for position, layer in enumerate(layers):
        values[layer.name] = lower_layer(position, layer, values[model.sources(layer)[0]])
    current = values[layers[-1].name] if layers else values[model.input_name]
    plan.output = current.name
    plan.output_width = current.width
    plan.output_shape = current.shape
    _plan_backward(plan, trail, model, values, new)
    return plan


def _pool_major_pool(model: ir.Model, readers: dict[str, list[ir.Layer]], position: int) -> ir.Pool2D | None:
    """The max pool after conv layer `position` for which the conv computes only the cells the pool
    reads, in pool-major order (conv2d_patches' `pool`), or None.

    That holds where the pool reads the conv's z itself and is its only reader (a ReLU then runs
    after the pool: _max_pool_follows; a linear conv has none), and where its windows tile the
    map: stride = size, no padding, so that each conv cell is in one window or in none.
    """
    layer = model.layers[position]
    if layer.activation.name not in ("relu", "linear") or not _max_pool_follows(model, readers, position):
        return None
    pool = model.layers[position + 1]
    if pool.stride != pool.pool or any(pool.padding) or math.prod(pool.pool) < 2:
        return None
    return pool


def _max_pool_follows(model: ir.Model, readers: dict[str, list[ir.Layer]], position: int) -> bool:
    """Whether layer `position` is read by a max pool right after it and by nothing else (its ReLU
    may then run after the pool); `readers`: model.readers(), made once per model. In a graph
    another reader, a shortcut say, needs the ReLU's own output, so there the ReLU stays with its conv."""
    layers = model.layers
    name = layers[position].name
    following = layers[position + 1] if position + 1 < len(layers) else None
    return (isinstance(following, ir.Pool2D) and following.op == "max"
            and len(readers[name]) == 1 and readers[name][0] is following and model.sources(following) == (name,))


#: How each pooling step passes the gradient back, as its comment says it.
POOLING_BACKWARD = {
    "maxpool": "{dout} routed to each window's max",
    "maxpool_blocks": "{dout} routed to each window's max, in its block",
    "avgpool": "{dout} spread evenly over each window's cells",
    "global_avgpool": "{dout} spread evenly over each channel's cells",
    "global_maxpool": "{dout} routed to each channel's max",
    "flatten": "{dout} in the shape of the image again",
}


def _pair(pair) -> str:
    return "x".join(map(str, pair))


#: Activations whose local derivative is computed from their input z; the others' from their output h.
DERIVATIVES_OF_Z = frozenset({"elu", "gelu", "leaky_relu"})


def _activation_step(activation: ir.Activation, z: str, h: Value, layer: str, where: str, module, zeros) -> dict:
    """The call of an activation h = f(z); `zeros(width)` names the array of zeros a ReLU compares with."""
    module.use(f"numpy/ops/{activation.name}.py", "ops")
    return {
        "op": "activation",
        "function": activation.name,
        "layer": layer,
        "where": where,
        "z": z,
        "h": h.name,
        "alpha": None if activation.alpha is None else py(activation.alpha),
        "zeros": zeros(h.shape) if activation.name == "relu" else None,
        "reads_z": activation.name in DERIVATIVES_OF_Z,
    }


def _trainable_below(model: ir.Model) -> dict[str, bool]:
    """For the input and each layer, by name: does a trainable parameter lie in it or below it
    (so that the gradient of its output is needed)?"""
    below = {model.input_name: False}
    for layer in model.layers:
        below[layer.name] = (any(parameter.trainable for parameter in layer.parameters)
                             or any(below[source] for source in model.sources(layer)))
    return below


def _plan_backward(plan: Plan, trail, model: ir.Model, values: dict[str, Value], new) -> None:
    """Walk the forward calls in reverse, each turning ∂L/∂output into ∂L/∂input.

    Where a value feeds several layers, each writes its part of the value's gradient, and the
    parts are summed before the call that made the value: the chain rule over a graph, where
    the gradient is the sum over the paths. An add passes its gradient to each operand as it
    is (no call), a concat hands each operand its slice. Below every trainable parameter
    nothing needs a gradient, and those calls are left out.
    """
    below = _trainable_below(model)
    blocks = {value.name: value.blocks for value in plan.buffers if value.blocks}  # pool-major values
    values_by_name = {value.name: value for value in plan.buffers}
    pooled_grads: dict[str, str] = {}  # a pool-major z: the gradient of the max pool that reads it
    parts: dict[str, list[str]] = {plan.output: [new(f"d{plan.output}", plan.output_shape).name]}
    own: set[str] = set()  # the parts written by one step and read only by their value's gradient()

    def gradient(value: str, shape) -> str:
        """∂L/∂value: its one part, or the sum of its parts, summed here.

        The sum is written over one of the first two parts where that part is a buffer of its own
        (not an add's gradient passed through, which its other operands read too): an expert's
        dx += ds, with the same numbers (the parts are added in the same order), and one buffer less.
        """
        got = parts[value]
        if len(got) == 1:
            return got[0]
        total = next((name for name in got[:2] if name in own), None)
        into = f" (into {total}, read by nothing else)" if total else ""
        total = total or new(f"d{value}", shape).name
        plan.merges = True
        plan.backward.append({"op": "sum", "parts": got, "out": total,
                              "comment": f"∂L/∂{value} = {' + '.join(got)}{into}: {value} feeds {len(got)} layers, "
                                         "and its gradient is the sum over the paths"})
        return total

    def part(value: str, shape, view: bool = False) -> str:
        """A buffer for one path's part of ∂L/∂value (the whole of it, where only one path reads it)."""
        if value in blocks:  # the gradient laid out as its value is
            shape = values_by_name[value].shape
        name = new(f"d{value}", shape, view=view, blocks=blocks.get(value, 0)).name
        parts.setdefault(value, []).append(name)
        if not view:
            own.add(name)
        return name

    for layer, step in reversed(trail):
        sources = model.sources(layer)
        needs_dx = any(below[source] for source in sources)
        if not needs_dx and not any(parameter.trainable for parameter in layer.parameters):
            continue
        if step["op"] in ("add", "concat"):
            dout = gradient(step["out"], layer.out_shape)
            if step["op"] == "add":
                own.discard(dout)  # each operand's gradient now, read by every path below the add
                for source, operand in zip(sources, step["xs"], strict=True):
                    if below[source]:
                        parts.setdefault(operand, []).append(dout)
                continue
            pieces = [part(operand, values[source].shape, view=True) if below[source] else "_"
                      for source, operand in zip(sources, step["xs"], strict=True)]
            note = f"{layer.name}: " + ", ".join(f"∂L/∂{x} = its slice of {dout}" for x, piece
                                                 in zip(step["xs"], pieces, strict=True) if piece != "_")
            plan.backward.append(dict(step, dout=dout, pieces=pieces, comment=note))
        elif step["op"] in ("dense", "conv2d"):
            dz = gradient(step["z"], layer.out_shape)
            dx = part(step["x"], layer.in_shape) if needs_dx else None
            parts_text = []
            dpooled = pooled_grads.get(step["z"])
            if layer.trainable and dpooled:  # Σ dz = Σ dpooled: the pool passes each window's to one cell
                parts_text += [f"∂L/∂{step['W']} = Σ {dz} ⊗ patches of {step['x']}",
                               f"∂L/∂{step['b']} = Σ {dz} = Σ {dpooled}"]
            elif layer.trainable and step["op"] == "conv2d":
                parts_text += [f"∂L/∂{step['W']} = Σ {dz} ⊗ patches of {step['x']}", f"∂L/∂{step['b']} = Σ {dz}"]
            elif layer.trainable:
                plan.ones = True
                parts_text += [f"∂L/∂{step['W']} = {dz}ᵀ·{step['x']}", f"∂L/∂{step['b']} = Σ {dz}"]
            if dx and step["op"] == "conv2d":
                parts_text.append(f"∂L/∂{step['x']} = Σ over windows of {dz}·{step['W']}")
            elif dx:
                parts_text.append(f"∂L/∂{step['x']} = {dz}·{step['W']}")
            dz_image = None
            if dx and step.get("pool"):  # ∂L/∂x's adds run along image rows: dz copied out of its blocks first
                dz_image = new(f"{dz}_image", step["tiled"]).name
                parts_text[-1] += f" (with {dz} in image order, {dz_image})"
            plan.backward.append(dict(step, dz=dz, dx=dx, dz_image=dz_image, dpooled=dpooled,
                                      comment=f"{layer.name}: " + ", ".join(parts_text)))
        elif step["op"] == "activation":
            dh = gradient(step["h"], layer.out_shape)
            dz = part(step["z"], layer.out_shape)
            note = f"{step['function']}: ∂L/∂{step['z']} = ∂L/∂{step['h']} · {step['function']}'({step['z']})"
            plan.backward.append(dict(step, dh=dh, dz=dz, comment=note))
        elif step["op"] == "batchnorm":
            dout = gradient(step["out"], layer.out_shape)
            dx = part(step["x"], layer.in_shape) if needs_dx else None
            note = (f"{layer.name}: ∂L/∂{step['gamma']} = Σ {dout}·x̂, ∂L/∂{step['beta']} = Σ {dout}"
                    + (f", ∂L/∂{step['x']} = ({step['gamma']}/σ)·({dout} − mean {dout} − x̂·mean({dout}·x̂))" if dx else ""))
            plan.backward.append(dict(step, dout=dout, dx=dx, comment=note))
        elif step["op"] in POOLING_BACKWARD:
            dout = gradient(step["out"], layer.out_shape)
            dx = part(step["x"], layer.in_shape, view=step["op"] == "flatten")
            if step["op"] == "maxpool_blocks":
                pooled_grads[step["x"]] = dout
            note = f"{layer.name}: ∂L/∂{step['x']} = " + POOLING_BACKWARD[step["op"]].format(dout=dout)
            plan.backward.append(dict(step, dout=dout, dx=dx, comment=note))
        else:  # dropout
            dout = gradient(step["out"], layer.out_shape)
            dx = part(step["x"], layer.in_shape)
            note = f"{layer.name}: ∂L/∂{step['x']} = ∂L/∂{step['out']} · mask"
            plan.backward.append(dict(step, dout=dout, dx=dx, comment=note))


def lower(program: ir.Program, target: str, data_dir: str | None) -> str:
    module = common.Module(imports=["import argparse", "import json", "import math", "import sys",
                                    "import warnings", "from pathlib import Path", "from types import SimpleNamespace",
                                    "import numpy as np"])
    module.use("common/streams.py", "weights")
    data = common.lower_data(program, module, data_dir) if program.train is not None else None  # inference: no data
    weights = common.lower_weights(program, module)
    plan = plan_network(program, module)
    normalize = common.lower_normalize(program, module)
    if plan.merges:
        module.use("numpy/ops/merge.py", "ops")
    loss = _lower_loss(program, module)
    optimizer = _lower_optimizer(program, module, plan)
    controls = common.lower_controls(program, module)
    if controls["clip_norm"]:
        module.use("numpy/clip_norm.py", "training")
    if optimizer:
        optimizer["where"] = common.where(program, program.train.optimizer)
        optimizer.setdefault("scales_output_grad", False)
    module.use("common/npy_header.py", "files")  # used by checkpoint.py
    module.use("common/checkpoint.py", "files")
    common.use_main_snippets(program, module)
    if plan.predict_activation:
        module.use(f"numpy/ops/{plan.predict_activation}.py", "ops")
    source = render_template(
        "numpy/module.py.j2",
        header=dict(common.header(program, "NumPy", "cpu"), needs="NumPy"),
        imports=sort_imports(module.imports),
        constants=common.constants(program),
        snippets=module.snippets,
        data=data,
        weights=weights,
        network=plan,
        normalize=normalize,
        loss=loss,
        optimizer=optimizer,
        controls=controls,
        history_keys=common.history_keys(program),
        metrics=list(program.train.metrics) if program.train else [],
        task=program.task,
        has_train=program.train is not None,
        metric_sums=_metric_sums(program, plan, module),
        metric_values=_metric_values(program),
        predicted=CLASS_PREDICTED if common.uses_counts(program) and program.task == "multiclass" else None,
        model_inputs=program.model.in_features,
        inputs=common.model_inputs(program),
        epochs=program.train.epochs if program.train else 0,
        gathers=gathers_by_batch(program),
        gather_bytes=f"1 << {GATHER_BY_BATCH_BYTES.bit_length() - 1}",  # a power of two
    )
    return tidy(drop_unused_functions(source, module.functions))


def _lower_loss(program: ir.Program, module: common.Module) -> dict | None:
    if program.loss is None:
        return None
    function, name = LOSS_FUNCTIONS[program.loss.name]
    module.use(name, "losses")
    return {"name": program.loss.name, "function": function, "where": common.where(program, program.loss)}


def _lower_optimizer(program: ir.Program, module: common.Module, plan: Plan) -> dict | None:
    if program.train is None:
        return None
    opt = program.train.optimizer
    if isinstance(opt, ir.SGD) and opt.momentum == 0 and not opt.nesterov:
        module.use("numpy/optimizers/sgd.py", "training")
        if plan.penalties or program.train.clip_norm is not None:
            # a penalty's derivative joins the gradients after backpropagation, unscaled; clipping
            # measures the gradient itself
            return {"class": "SGD", "args": "lr=LR"}
        # Plain SGD: the trainer multiplies ∂L/∂output by lr before backpropagating, which is
        # linear, so the gradient buffers arrive as lr·∂L/∂θ and the update is one pass, θ −= g.
        return {"class": "SGD", "args": "lr=LR, scaled_grads=True", "scales_output_grad": True}
    if isinstance(opt, ir.SGD):
        module.use("numpy/optimizers/momentum.py", "training")
        return {"class": "Momentum", "args": f"lr=LR, momentum={py(opt.momentum)}, nesterov={py(opt.nesterov)}"}
    if isinstance(opt, ir.Adam):
        module.use("numpy/optimizers/adam.py", "training")
        return {
            "class": "Adam",
            "args": f"lr=LR, beta1={py(opt.beta1)}, beta2={py(opt.beta2)}, eps={py(opt.eps)}",
        }
    module.use("numpy/optimizers/rmsprop.py", "training")
    return {"class": "RMSprop", "args": f"lr=LR, rho={py(opt.rho)}, eps={py(opt.eps)}"}


#: The predicted classes, for the metrics that count them per class.
CLASS_PREDICTED = "predicted = output.argmax(axis=1)"

#: Each metric form (common.metric_forms) summed over the rows of the network's `output` against `y`.
METRIC_SUMS = {
    "class_accuracy": "int(np.count_nonzero(output.argmax(axis=1) == y))",
    "binary_accuracy": "int(np.count_nonzero((output > 0) == (y > 0.5)))",
    "mse": "float(np.square({predictions} - {targets}).mean(axis=1).sum())",
    "mae": "float(np.abs({predictions} - {targets}).mean(axis=1).sum())",
    # [true positives, predicted positives]; [true positives, actual positives]
    "class_precision": "np.stack([np.bincount(y[predicted == y], minlength={classes}), "
                       "np.bincount(predicted, minlength={classes})])",
    "class_recall": "np.stack([np.bincount(y[predicted == y], minlength={classes}), "
                    "np.bincount(y, minlength={classes})])",
    "binary_precision": "np.array([np.count_nonzero((output > 0) & (y > 0.5)), np.count_nonzero(output > 0)])",
    "binary_recall": "np.array([np.count_nonzero((output > 0) & (y > 0.5)), np.count_nonzero(y > 0.5)])",
    # fewer than k classes score strictly higher than the true one
    "top_k_accuracy": "int(np.count_nonzero((output > np.take_along_axis(output, y[:, None], axis=1)).sum(axis=1) "
                      "< {k}))",
}


def _metric_sums(program: ir.Program, plan: Plan, module: common.Module) -> list[dict]:
    """For each metric, the expression summing it over a batch (output: the network's output)."""
    fused = plan.predict_activation
    if fused:
        module.use(f"numpy/ops/{fused}.py", "ops")
    if common.uses_counts(program):
        module.use("common/macro_ratio.py", "training")
    predictions = f"{fused}_forward(output, out=np.empty_like(output))" if fused else "output"
    targets = "y"
    if program.task == "multiclass":
        targets = f"np.eye({program.model.out_features}, dtype=np.float32)[y]"
    return [{"key": key, "expression": METRIC_SUMS[form].format(
                predictions=predictions, targets=targets, classes=program.model.out_features,
                k=catalog.metric_argument(key))}
            for key, form in common.metric_forms(program)]


def _metric_values(program: ir.Program) -> list[dict]:
    """For each metric, its value from the sums of metric_sums over n rows."""
    return common.metric_values(program, mean="{sums} / n", counted="macro_ratio({sums})")
