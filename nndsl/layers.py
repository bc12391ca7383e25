"""Layer kinds: each statement of the model block that makes a layer, in one place.

A kind knows its arguments, its shape rule (what it takes and what it gives, per sample,
without the batch: ``(features,)`` for vectors, ``(height, width, channels)`` for images), its
parameters and state (the IR node's ``parameters``), and how `nndsl summary` shows it. The
checker asks `KINDS[keyword].check(...)` for each layer statement, in order, with the shape the
layer before gives; the backends lower the IR nodes (``ir.Dense``, ``ir.Conv2D``, …), one
template per kind and backend.

Adding a kind: its IR node in ir.py, a `LayerKind` here, its templates and its tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nndsl import catalog, ir
from nndsl import syntax as s
from nndsl.shapes import same_padding
from nndsl.source import Span

if TYPE_CHECKING:
    from nndsl.check import Checker


@dataclass
class Context:
    """What a layer's check needs beyond its statement and input shape."""

    regularizers: tuple[ir.Regularizer, ...]  # the model block's `regularizer`, for layers without their own
    previous: ir.Layer | None  # the layer it reads (None: the input)
    #: (value, what) -> the name of the input or an earlier layer that `value` names (a merge's operands)
    resolve: Callable | None = None
    shape_of: Callable | None = None  # name -> what that layer (or the input) gives


@dataclass(frozen=True)
class LayerKind:
    """A statement that makes a layer."""

    keyword: str
    keras: str  # the layer's type as Keras names it (summary, --json)
    check: Callable  # (checker, statement, in_shape, default_name, context) -> ir layer
    formula: Callable[[ir.Layer], str] = lambda layer: ""  # the parameter count's formula, for the summary


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _image_shape(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    return tuple(shape) if len(shape) > 1 else None


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _gives(context: Context) -> str:
    return f"'{context.previous.name}' gives" if context.previous is not None else "the input is"


def _vector_input(c: Checker, statement: s.Statement, in_shape: tuple[int, ...], context: Context) -> int:
    """A layer that takes a vector: an image before it is an error that says what to add."""
    if len(in_shape) == 1:
        return in_shape[0]
    raise c.fail(
        statement.head.span,
        f"{statement.head.text} takes a vector, but {_gives(context)} an image of {_shape_text(in_shape)}; add "
        f"'flatten' (all {_size(in_shape):,} values) or 'global_avgpool' (one per channel) before it (Keras "
        "would apply a Dense layer to the last axis alone)",
    )


def _image_input(c: Checker, statement: s.Statement, in_shape: tuple[int, ...], context: Context) -> tuple:
    """A layer that takes an image (height, width, channels)."""
    if len(in_shape) == 3:
        return tuple(in_shape)
    hint = " (write the input as 'input HxWxC', e.g. 'input 8x8x1')" if context.previous is None else ""
    raise c.fail(
        statement.head.span,
        f"{statement.head.text} takes an image (height x width x channels), but {_gives(context)} a vector of "
        f"{in_shape[0]:,} values{hint}",
    )


def _penalty_calls(c: Checker, statement: s.Statement) -> tuple[list, list]:
    """Penalties are written as calls after the units and activation: `dense 8 relu l2(0.001)`.
    Returns them and the statement's other arguments."""
    penalties = [a for a in statement.args if isinstance(a, s.Call) and a.name.text in catalog.REGULARIZERS]
    rateless = [a for a in statement.args if isinstance(a, s.Name) and a.text in catalog.REGULARIZERS]
    for penalty in rateless:
        c.error(penalty.span, f"{penalty.text} needs its rate, e.g. {penalty.text}(0.001)")
    return penalties, [a for a in statement.args if not any(a is p for p in [*penalties, *rateless])]


def _name(c: Checker, bound, default_name: str) -> str:
    if "name" in bound:
        return c._guard(lambda: c.identifier(bound.get("name"), "name")) or default_name
    return default_name


# --- dense, activation, dropout ----------------------------------------------------------------


def check_dense(c: Checker, statement: s.Statement, in_shape: tuple[int, ...], default_name: str, context: Context) -> ir.Dense:
    in_features = _vector_input(c, statement, in_shape, context)
    model_regularizers = context.regularizers
    penalties, arguments = _penalty_calls(c, statement)
    bound = c.bind(
        "dense",
        arguments,
        statement.span,
        positional=["units", "activation"],
        keywords=["init", "bias", "weights", "trainable", "name"],
        at_line_start=c.line_start,
        unbound=penalties,
    )
    units = None
    if "units" not in bound:
        c.error(statement.span, "dense needs the number of units, e.g. 'dense 8 relu'")
    else:
        units = c._guard(lambda: c.integer(bound.get("units"), "units", 1, catalog.MAX_UNITS))
    if units is None:  # still check the rest, but with no width to check against
        if "activation" in bound:
            c._guard(lambda: c._activation(bound.get("activation")))
        if "init" in bound:
            c._guard(lambda: c._initializer(bound.get("init"), "init"))
        raise c.Skip()
    activation = ir.Activation("linear", None, statement.span)
    if "activation" in bound:
        activation = c._guard(lambda: c._activation(bound.get("activation"))) or activation
    name = default_name
    if "name" in bound:
        name = c._guard(lambda: c.identifier(bound.get("name"), "name")) or default_name
    trainable = True
    if "trainable" in bound:
        trainable = c._guard(lambda: c.boolean(bound.get("trainable"), "trainable"))
        trainable = True if trainable is None else trainable
    default_init = "he_normal" if activation.name in catalog.RELU_FAMILY else "glorot_normal"
    kernel = ir.Initializer(default_init, span=statement.span)
    if "init" in bound and "weights" in bound:
        c.error(bound.keys["weights"].span, "give either init= or weights=, not both")
    elif "init" in bound:
        kernel = c._guard(lambda: c._initializer(bound.get("init"), "init")) or kernel
    elif "weights" in bound:
        values = c._guard(lambda: _matrix(c, bound.get("weights"), units, in_features))
        if values is not None:
            kernel = ir.Initializer("values", values=values, span=bound.get("weights").span)
    bias = ir.Initializer("zeros", span=statement.span)
    if "bias" in bound:
        value = bound.get("bias")
        if isinstance(value, s.ListValue):
            values = c._guard(lambda: _vector(c, value, units))
            if values is not None:
                bias = ir.Initializer("values", values=values, span=value.span)
        else:
            bias = c._guard(lambda: c._initializer(value, "bias")) or bias
    regularizers = model_regularizers
    if penalties:
        regularizers = c._guard(lambda: c._penalties(penalties)) or ()
    return ir.Dense(name, in_features, units, activation, kernel, bias, trainable, regularizers, statement.span)


def check_activation(c: Checker, statement: s.Statement, in_shape: tuple[int, ...], default_name: str, context: Context) -> ir.ActivationLayer:
    bound = c.bind("activation", statement.args, statement.span, positional=["function"],
                      keywords=["name"], at_line_start=c.line_start)
    if "function" not in bound:
        raise c.fail(statement.span, "activation needs a function, e.g. 'activation relu'")
    activation = c._activation(bound.get("function"))
    name = c.identifier(bound.get("name"), "name") if "name" in bound else default_name
    return ir.ActivationLayer(name, _size(in_shape), activation, statement.span, _image_shape(in_shape))


def check_dropout(c: Checker, statement: s.Statement, in_shape: tuple[int, ...], default_name: str, context: Context) -> ir.Dropout:
    bound = c.bind("dropout", statement.args, statement.span, positional=["rate"],
                      keywords=["name"], at_line_start=c.line_start)
    if "rate" not in bound:
        raise c.fail(statement.span, "dropout needs a rate, e.g. 'dropout 0.2'")
    rate = c.real(bound.get("rate"), "rate", 0.0, 1.0, high_open=True, what="in [0, 1)")
    name = c.identifier(bound.get("name"), "name") if "name" in bound else default_name
    return ir.Dropout(name, _size(in_shape), rate, statement.span, _image_shape(in_shape))


def _matrix(c: Checker, value: s.Value, units: int, in_features: int) -> tuple:
    if not isinstance(value, s.ListValue) or not all(isinstance(row, s.ListValue) for row in value.items):
        raise c.fail(
            getattr(value, "span", None),
            f"weights must be a list of {units} rows of {in_features} numbers "
            f"(units × inputs, as in y = W·x + b)",
        )
    rows = len(value.items)
    columns = {len(row.items) for row in value.items}
    if rows != units or columns != {in_features}:
        if not rows:
            got = "an empty list"
        else:
            got = f"{rows} × {columns.pop()}" if len(columns) == 1 else f"{rows} rows of unequal length"
        hint = ""
        if len(columns) <= 1 and rows == in_features and got == f"{in_features} × {units}" and units != in_features:
            hint = "; this is the transpose: write one row per unit"
        raise c.fail(
            value.span,
            f"weights must be {units} × {in_features} (units × inputs, as in y = W·x + b); got {got}{hint}",
        )
    return tuple(tuple(c._element(x, "weights") for x in row.items) for row in value.items)


def _vector(c: Checker, value: s.ListValue, units: int) -> tuple:
    if len(value.items) != units:
        raise c.fail(value.span, f"bias must have {units} numbers (one per unit); got {len(value.items)}")
    return tuple(c._element(x, "bias") for x in value.items)


# --- images ------------------------------------------------------------------------------------


def pair(c: Checker, value: s.Value | None, name: str, high: int) -> tuple[int, int]:
    """`3` or `3x2` (rows x columns)."""
    if isinstance(value, s.Shape):
        dims = value.dims
        if len(dims) != 2:
            raise c.fail(value.span, f"{name} must be N or RxC (rows x columns); received {name}={value.text}")
        if not all(1 <= d <= high for d in dims):
            raise c.fail(value.span, f"{name} must be between 1 and {high:,} in each direction; received "
                                     f"{name}={value.text}")
        return dims
    if isinstance(value, s.Number):
        n = c.integer(value, name, 1, high)
        return (n, n)
    raise c.fail(value.span if value is not None else None,
                 f"{name} must be N or RxC (rows x columns), e.g. {name}=3; received {name}={render_value(value)}")


def render_value(value) -> str:
    from nndsl.check import render

    return render(value)


def _window(c: Checker, bound) -> tuple:
    """A sliding window's stride (None: not given) and padding name."""
    stride = pair(c, bound.get("stride"), "stride", catalog.MAX_UNITS) if "stride" in bound else None
    padding_name = "valid"
    if "padding" in bound:
        padding_name = c.choice(bound.get("padding"), "padding", ("valid", "same"), "padding")
    return stride, padding_name


def _padding(padding_name, in_shape, window, stride) -> tuple[int, int, int, int]:
    if padding_name == "valid":
        return (0, 0, 0, 0)
    return (*same_padding(in_shape[0], window[0], stride[0]), *same_padding(in_shape[1], window[1], stride[1]))


def _fits(c: Checker, statement, in_shape, window, padding, what: str, padding_name: str) -> None:
    top, bottom, left, right = padding
    rows, cols = in_shape[0] + top + bottom, in_shape[1] + left + right
    if window[0] > rows or window[1] > cols:
        raise c.fail(
            statement.span,
            f"{statement.head.text}: the {what} {_shape_text(window)} is larger than its input "
            f"{_shape_text(in_shape[:2])} (padding={padding_name}); use a smaller {what}"
            + (" or padding=same" if padding_name == "valid" else ""),
        )


def check_conv2d(c: Checker, statement: s.Statement, in_shape, default_name: str, context: Context) -> ir.Conv2D:
    penalties, arguments = _penalty_calls(c, statement)
    # The activation may stand anywhere, as the issue's `conv2d 16 kernel=3 padding=same relu` has it.
    activations = [a for a in arguments if _is_activation(a)]
    arguments = [a for a in arguments if not any(a is b for b in activations)]
    bound = c.bind("conv2d", arguments, statement.span, positional=["filters"],
                   keywords=["kernel", "stride", "padding", "init", "bias", "weights", "trainable", "name"],
                   at_line_start=c.line_start, unbound=[*activations, *penalties])
    if len(activations) > 1:
        raise c.fail(activations[1].span, "conv2d got two activations; give one")
    in_shape = _image_input(c, statement, in_shape, context)
    if "filters" not in bound:
        raise c.fail(statement.span, "conv2d needs the number of filters, e.g. 'conv2d 16 kernel=3 relu'")
    filters = c.integer(bound.get("filters"), "filters", 1, catalog.MAX_UNITS)
    if "kernel" not in bound:
        raise c.fail(statement.span, f"conv2d needs kernel=K or kernel=RxC, e.g. 'conv2d {filters} kernel=3'")
    kernel = pair(c, bound.get("kernel"), "kernel", catalog.MAX_UNITS)
    stride, padding_name = _window(c, bound)
    stride = stride or (1, 1)
    padding = _padding(padding_name, in_shape, kernel, stride)
    _fits(c, statement, in_shape, kernel, padding, "kernel", padding_name)
    activation = ir.Activation("linear", None, statement.span)
    if activations:
        activation = c._activation(activations[0])
    trainable = c.boolean(bound.get("trainable"), "trainable") if "trainable" in bound else True
    default_init = "he_normal" if activation.name in catalog.RELU_FAMILY else "glorot_normal"
    kernel_init = ir.Initializer(default_init, span=statement.span)
    shape = (filters, *kernel, in_shape[2])
    if "init" in bound and "weights" in bound:
        raise c.fail(bound.keys["weights"].span, "give either init= or weights=, not both")
    if "init" in bound:
        kernel_init = c._initializer(bound.get("init"), "init")
    elif "weights" in bound:
        kernel_init = ir.Initializer("values", values=_tensor(c, bound.get("weights"), shape, "weights",
                                                               "filters x rows x columns x channels"),
                                     span=bound.get("weights").span)
    bias = ir.Initializer("zeros", span=statement.span)
    if "bias" in bound:
        value = bound.get("bias")
        if isinstance(value, s.ListValue):
            bias = ir.Initializer("values", values=_vector(c, value, filters), span=value.span)
        else:
            bias = c._initializer(value, "bias")
    regularizers = context.regularizers
    if penalties:
        regularizers = c._penalties(penalties)
    return ir.Conv2D(_name(c, bound, default_name), in_shape, filters, kernel, stride, padding, padding_name,
                     activation, kernel_init, bias, trainable, regularizers, statement.span)


def _tensor(c: Checker, value: s.Value, shape: tuple[int, ...], name: str, layout: str) -> tuple:
    """A nested list literal of `shape`, as nested tuples of numbers."""
    def walk(node, depth):
        if depth == len(shape):
            return c._element(node, name)
        if not isinstance(node, s.ListValue) or len(node.items) != shape[depth]:
            raise c.fail(_span(node, value), f"{name} must be nested lists of {_shape_text(shape)} numbers "
                                             f"({layout})")
        return tuple(walk(item, depth + 1) for item in node.items)

    return walk(value, 0)


def _span(node, outer) -> Span:
    return getattr(node, "span", None) or outer.span


def _is_activation(arg) -> bool:
    name = arg.name.text if isinstance(arg, s.Call) else arg.text if isinstance(arg, s.Name) else None
    return name in catalog.ACTIVATIONS


def check_pool(op: str) -> Callable:
    def check(c: Checker, statement: s.Statement, in_shape, default_name: str, context: Context) -> ir.Pool2D:
        keyword = f"{op}pool"
        bound = c.bind(keyword, statement.args, statement.span, positional=["pool"],
                       keywords=["stride", "padding", "name"], at_line_start=c.line_start)
        in_shape = _image_input(c, statement, in_shape, context)
        if "pool" not in bound:
            raise c.fail(statement.span, f"{keyword} needs its window, e.g. '{keyword} 2'")
        pool = pair(c, bound.get("pool"), "pool", catalog.MAX_UNITS)
        stride, padding_name = _window(c, bound)
        stride = stride or pool  # Keras's default: windows side by side
        padding = _padding(padding_name, in_shape, pool, stride)
        _fits(c, statement, in_shape, pool, padding, "pool", padding_name)
        return ir.Pool2D(_name(c, bound, default_name), in_shape, op, pool, stride, padding, padding_name,
                         statement.span)

    return check


def check_global_pool(op: str) -> Callable:
    def check(c: Checker, statement: s.Statement, in_shape, default_name: str, context: Context) -> ir.GlobalPool:
        bound = c.bind(f"global_{op}pool", statement.args, statement.span, keywords=["name"],
                       at_line_start=c.line_start)
        in_shape = _image_input(c, statement, in_shape, context)
        return ir.GlobalPool(_name(c, bound, default_name), in_shape, op, statement.span)

    return check


def check_flatten(c: Checker, statement: s.Statement, in_shape, default_name: str, context: Context) -> ir.Flatten:
    bound = c.bind("flatten", statement.args, statement.span, keywords=["name"], at_line_start=c.line_start)
    if len(in_shape) == 1:
        raise c.fail(statement.head.span, f"flatten takes an image, but {_gives(context)} a vector of "
                                          f"{in_shape[0]:,} values already; leave it out")
    return ir.Flatten(_name(c, bound, default_name), tuple(in_shape), statement.span)


def check_batchnorm(c: Checker, statement: s.Statement, in_shape, default_name: str, context: Context) -> ir.BatchNorm:
    bound = c.bind("batchnorm", statement.args, statement.span, keywords=["momentum", "eps", "name"],
                   at_line_start=c.line_start)
    if context.previous is None:
        raise c.fail(statement.head.span, "batchnorm normalises what a conv2d or dense layer computes, so it "
                                          "comes after one; to normalise the inputs, scale the data")
    momentum = 0.99
    if "momentum" in bound:
        momentum = c.real(bound.get("momentum"), "momentum", 0.0, 1.0, high_open=True, what="in [0, 1)")
    eps = 0.001
    if "eps" in bound:
        eps = c.real(bound.get("eps"), "eps", 0.0, None, low_open=True, what="positive")
    return ir.BatchNorm(_name(c, bound, default_name), tuple(in_shape), momentum, eps, statement.span)


# --- merges: several layers in, one out ----------------------------------------------------------


def check_merge(op: str) -> Callable:
    """`add a, b, …` (same shapes) or `concat a, b, …` (along the last axis)."""

    def check(c: Checker, statement: s.Statement, in_shape, default_name: str, context: Context) -> ir.Layer:
        operands = [a for a in statement.args if not isinstance(a, s.Keyword)]
        slots = [f"layer {i + 1}" for i in range(max(len(operands), 2))]
        bound = c.bind(op, statement.args, statement.span, positional=slots, keywords=["name"],
                       at_line_start=c.line_start)
        operands = [bound.get(slot) for slot in slots if slot in bound]
        example = f"'{op} a, b' (the names of two layers above, or the input's)"
        if len(operands) < 2:
            raise c.fail(statement.span, f"{op} needs at least two layers to join, e.g. {example}")
        for value in operands:
            if not isinstance(value, (s.Name, s.String)):
                raise c.fail(value.span, f"{op} reads layers by name, e.g. {example}; received {render_value(value)}")
        names = [c._guard(lambda value=value: context.resolve(value, op)) for value in operands]
        if any(name is None for name in names):
            raise c.Skip()
        shapes = [context.shape_of(name) for name in names]
        name = _name(c, bound, default_name)
        if op == "add":
            for value, operand, shape in zip(operands[1:], names[1:], shapes[1:], strict=True):
                if shape != shapes[0]:
                    raise c.fail(value.span, f"add: '{names[0]}' gives {_shape_text(shapes[0])} but '{operand}' gives "
                                             f"{_shape_text(shape)}; add sums element by element, so the shapes must "
                                             "agree (concat joins different widths)")
            return ir.Add(name, tuple(shapes[0]), statement.span, tuple(names))
        for value, operand, shape in zip(operands[1:], names[1:], shapes[1:], strict=True):
            if len(shape) != len(shapes[0]) or shape[:-1] != shapes[0][:-1]:
                axis = "height and width" if len(shapes[0]) == 3 else "all but the last axis"
                raise c.fail(value.span, f"concat joins along the last axis (features, or an image's channels): "
                                         f"'{names[0]}' gives {_shape_text(shapes[0])} but '{operand}' gives "
                                         f"{_shape_text(shape)}, and they must agree in {axis}"
                             + ("; flatten the image first" if len(shape) != len(shapes[0]) else ""))
        return ir.Concat(name, tuple(tuple(shape) for shape in shapes), statement.span, tuple(names))

    return check


#: The statements that read several layers by name rather than the one above.
MERGES = frozenset({"add", "concat"})


# --- the kinds and their summary formulas --------------------------------------------------------


def _dense_formula(layer: ir.Dense) -> str:
    return f"({layer.in_features} + 1) × {layer.units} = {(layer.in_features + 1) * layer.units:,}"


def _conv_formula(layer: ir.Conv2D) -> str:
    kh, kw = layer.kernel
    params = (kh * kw * layer.in_shape[2] + 1) * layer.filters
    return f"({kh}·{kw}·{layer.in_shape[2]} + 1) × {layer.filters} = {params:,}"


def _batchnorm_formula(layer: ir.BatchNorm) -> str:
    return f"4 × {layer.channels} = {4 * layer.channels:,} ({2 * layer.channels:,} non-trainable)"


KINDS: dict[str, LayerKind] = {
    kind.keyword: kind
    for kind in (
        LayerKind("dense", "Dense", check_dense, _dense_formula),
        LayerKind("activation", "Activation", check_activation),
        LayerKind("dropout", "Dropout", check_dropout),
        LayerKind("conv2d", "Conv2D", check_conv2d, _conv_formula),
        LayerKind("maxpool", "MaxPooling2D", check_pool("max")),
        LayerKind("avgpool", "AveragePooling2D", check_pool("avg")),
        LayerKind("global_avgpool", "GlobalAveragePooling2D", check_global_pool("avg")),
        LayerKind("global_maxpool", "GlobalMaxPooling2D", check_global_pool("max")),
        LayerKind("flatten", "Flatten", check_flatten),
        LayerKind("batchnorm", "BatchNormalization", check_batchnorm, _batchnorm_formula),
        LayerKind("add", "Add", check_merge("add")),
        LayerKind("concat", "Concatenate", check_merge("concat")),
    )
}


def kind_of(layer: ir.Layer) -> LayerKind:
    return KINDS[layer.kind]
