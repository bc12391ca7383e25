"""Property tests (hypothesis).

1. Random *valid* specs, built from the language's vocabulary with random
   spellings, spacing and comments, always check; formatting them is
   idempotent and keeps their meaning, and printing their IR gives it back;
   those that train (Playground data, a loss, a train block) train an epoch on NumPy.
2. Random text, random bytes and random mixtures of the language's tokens
   never make nndsl raise anything but `SpecError`, and every diagnostic
   points inside the text.
"""

from __future__ import annotations

import keyword
import math
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nndsl
from nndsl import catalog
from nndsl.source import decode_spec, normalize_newlines

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- building valid specs ----------------------------------------------------------


def spelled_int(value: int) -> st.SearchStrategy[str]:
    return st.sampled_from([str(value), f"+{value}"]) if value >= 0 else st.just(str(value))


@st.composite
def spelled_float(draw, low: float, high: float, exclude_low: bool = False) -> str:
    """A number in [low, high] written in one of the usual forms: 0.03, .03, 3e-2, 3E-2, 3."""
    value = draw(st.floats(low, high, allow_nan=False, allow_infinity=False, exclude_min=exclude_low))
    value = float(f"{value:.4g}")
    if exclude_low and value <= max(low, 1e-30):  # where low is refused, so is what rounds to it in float32
        value = high
    form = draw(st.sampled_from(["repr", "exp", "EXP", "short"]))
    if form == "exp":
        return f"{value:e}"
    if form == "EXP":
        return f"{value:E}".replace("E-0", "E-").replace("E+0", "E+")
    if form == "short" and repr(value).startswith("0."):
        return repr(value)[1:]  # .5
    return repr(value)


def separators(draw) -> str:
    """What may stand between two statements: spaces, newlines, a comment."""
    return draw(st.sampled_from([" ", "\n", "  ", "\n\n", "  # a comment\n", "\n    # own line\n    ", "\t"]))


def names() -> st.SearchStrategy[str]:
    reserved = set(catalog.BLOCK_STATEMENTS) | {w for ws in catalog.BLOCK_STATEMENTS.values() for w in ws} | {
        "data", "model", "loss", "train", "true", "false", "features", "shortcut"}
    python = set(keyword.kwlist) | set(keyword.softkwlist)
    return st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
        lambda n: n not in reserved and n not in python and not n.startswith(("dense_", "dropout_", "activation_"))
    )


@st.composite
def activation(draw) -> str:
    name = draw(st.sampled_from(catalog.ACTIVATIONS))
    if name in catalog.ACTIVATION_ALPHA and draw(st.booleans()):
        alpha = draw(spelled_float(0.0, 3.0))
        return f"{name}({draw(st.sampled_from(['', 'alpha=']))}{alpha})"
    return name


@st.composite
def initializer(draw) -> str:
    name = draw(st.sampled_from(catalog.INITIALIZERS))
    if name == "constant":
        return f"constant({draw(spelled_float(-2.0, 2.0))})"
    if name == "normal":
        return f"normal({draw(spelled_float(0.0, 1.0, exclude_low=True))})"
    return name


def number_list(draw, count: int) -> str:
    return "[" + ", ".join(draw(spelled_float(-5.0, 5.0)) for _ in range(count)) + "]"


@st.composite
def dense(draw, in_features: int, units: int | None = None, output: str | None = None, name: str | None = None):
    units = units if units is not None else draw(st.integers(1, 12))
    parts = [f"dense {draw(spelled_int(units))}"]
    if output is not None:
        if output:
            parts.append(output)
    elif draw(st.booleans()):
        parts.append(draw(activation()))
    for kind in ("l1", "l2"):
        if draw(st.integers(0, 4)) == 0:
            parts.append(f"{kind}({draw(spelled_float(0.0, 0.1))})")
    keywords = []
    if draw(st.integers(0, 3)) == 0 and units * in_features <= 24:
        rows = [number_list(draw, in_features) for _ in range(units)]
        keywords.append("weights=[" + ", ".join(rows) + "]")
    elif draw(st.booleans()):
        keywords.append(f"init={draw(initializer())}")
    if draw(st.integers(0, 3)) == 0:
        keywords.append("bias=" + (number_list(draw, units) if draw(st.booleans()) else draw(initializer())))
    if draw(st.integers(0, 3)) == 0:
        keywords.append(f"trainable={draw(st.sampled_from(['true', 'false']))}")
    if name:
        keywords.append(f"name={name}")
    parts += draw(st.permutations(keywords))
    joiner = draw(st.sampled_from([" ", ", "]))
    return joiner.join(parts), units


@st.composite
def hidden_layers(draw, in_features: int):
    """Hidden layers and the width they end with."""
    layers, width = [], in_features
    layer_names = draw(st.lists(names(), max_size=4, unique=True))
    for index in range(draw(st.integers(0, 4))):
        name = layer_names[index] if index < len(layer_names) and draw(st.booleans()) else None
        kind = draw(st.sampled_from(["dense", "dense", "dense", "activation", "dropout"]))
        if kind == "dense":
            text, width = draw(dense(width, name=name))
        elif kind == "activation":
            text = f"activation {draw(activation())}" + (f" name={name}" if name else "")
        else:
            text = f"dropout {draw(spelled_float(0.0, 0.9))}" + (f" name={name}" if name else "")
        layers.append(text)
    piece = draw(st.sampled_from([None, None, "residual", "shortcut", "towers"]))
    if piece == "residual":  # y = x + f(x) on the width so far
        inner, inner_units = draw(dense(width))
        last, _ = draw(dense(inner_units, units=width))
        layers.append(f"residual {{ {inner}\n {last} }}")
    elif piece == "shortcut":  # a residual to another width, through a dense shortcut
        units = draw(st.integers(1, 6))
        body, _ = draw(dense(width, units=units))
        path, _ = draw(dense(width, units=units))
        layers.append(f"residual {{ {body} }} shortcut {{ {path} }}")
        width = units
    elif piece == "towers":  # two towers from a named layer, joined by concat (or add, same widths)
        trunk, first, second = draw(st.lists(names().filter(lambda n: n not in layer_names), min_size=3, max_size=3,
                                             unique=True))
        text, width = draw(dense(width, name=trunk))
        layers.append(text)
        a, a_width = draw(dense(width, name=first))
        b, b_width = draw(dense(width, units=a_width if draw(st.booleans()) else None, name=second))
        merge = "add" if a_width == b_width and draw(st.booleans()) else "concat"
        layers += [a, f"{b} from={trunk}", f"{merge} {first}, {second}"]
        width = a_width if merge == "add" else a_width + b_width
    return layers, width


@st.composite
def data_block(draw):
    """(text, input width or None, kind) where kind is 'binary', 'classes:N', 'regression' or 'file'."""
    source = draw(st.sampled_from(["xor", "checkerboard", "circle", "gauss", "spiral", "plane", "multigauss",
                                   "csv", "npz"]))
    statements = []
    if source in ("csv", "npz"):
        path = draw(st.from_regex(r"[a-z]{1,8}(/[a-z0-9_]{1,8}){0,2}", fullmatch=True)) + f".{source}"
        quote = draw(st.sampled_from(['"', "'"]))
        args = [f"{quote}{path}{quote}"]
        width = None
        if source == "csv":
            columns = draw(st.lists(st.from_regex(r"[a-z][a-z0-9 ]{0,8}", fullmatch=True), min_size=2, max_size=6,
                                    unique=True))
            target, features = columns[0], columns[1:]
            args.append(f'target="{target}"')
            if draw(st.booleans()):
                statements.append("features " + ", ".join(f'"{f}"' for f in features))
                width = len(features)
        if draw(st.booleans()):
            args.append(f"seed={draw(st.integers(0, 2**32 - 1))}")
        kind = "file"
    else:
        samples = draw(st.integers(10, 3000))
        args = []
        if draw(st.booleans()):
            args.append(f"samples={draw(spelled_int(samples))}")
        else:
            samples = catalog.PLAYGROUND[source][1]
        if draw(st.booleans()):
            args.append(f"noise={draw(spelled_float(0.0, 0.5))}")
        if draw(st.booleans()):
            args.append(f"seed={draw(st.integers(0, 2**32 - 1))}")
        kind = "regression" if catalog.PLAYGROUND[source][0] == "regression" else "binary"
        if source == "spiral" and draw(st.booleans()):
            classes = draw(st.integers(2, 6))
            args.append(f"classes={classes}")
            kind = "binary" if classes == 2 else f"classes:{classes}"
        args = draw(st.permutations(args))
        width = len(catalog.DEFAULT_FEATURES)
        if draw(st.booleans()):
            features = draw(st.lists(st.sampled_from(catalog.PLAYGROUND_FEATURES), min_size=1, unique=True))
            statements.append("features " + ", ".join(features))
            width = len(features)
        if draw(st.booleans()):
            statements.append(f"split {draw(st.sampled_from(['0.5', '.5', '0.25', '0.8', '7e-1']))}")
    if draw(st.booleans()):
        statements.append(f"normalize {draw(st.sampled_from(sorted(catalog.NORMALIZE_METHODS)))}")
    header = f"data {source}" + (f"({', '.join(args)})" if args or draw(st.booleans()) else "")
    if statements or draw(st.integers(0, 3)) == 0:
        header += " {" + "".join(separators(draw) + s for s in draw(st.permutations(statements))) + " }"
    return header, width, kind


@st.composite
def objective(draw, kind: str | None):
    """(loss or None, output layer's units, output activation)."""
    choices = ["none", "mse"]
    if kind in ("binary", "file", None):
        choices.append("binary")
    if kind in ("file", None) or kind.startswith("classes:"):
        choices.append("categorical")
    choice = draw(st.sampled_from(choices))
    if choice == "binary":
        return "binary_crossentropy", 1, "sigmoid"
    if choice == "categorical":
        units = int(kind.split(":")[1]) if kind and kind.startswith("classes:") else draw(st.integers(2, 5))
        return "categorical_crossentropy", units, "softmax"
    activation_name = draw(st.sampled_from(["", "tanh", "linear", "sigmoid"]))
    if choice == "none":
        return None, draw(st.integers(1, 4)) if kind is None else 1, activation_name
    return draw(st.sampled_from(["mse", "mae"])), 1, activation_name


@st.composite
def train_block(draw, loss: str):
    optimizer = draw(st.sampled_from(["sgd", "adam", "rmsprop"]))
    args = []
    if draw(st.booleans()):
        args.append(f"{draw(st.sampled_from(['lr', 'learning_rate']))}={draw(spelled_float(0.0, 1.0, True))}")
    momentum = None
    if optimizer == "sgd" and draw(st.booleans()):
        momentum = draw(spelled_float(0.0, 0.99))
        args.append(f"momentum={momentum}")
    if optimizer == "sgd" and draw(st.booleans()):
        with_momentum = momentum is not None and float(momentum) > 0  # nesterov=true needs momentum > 0
        args.append(f"nesterov={draw(st.sampled_from(['true', 'false'] if with_momentum else ['false']))}")
    if optimizer == "adam" and draw(st.booleans()):
        args.append(f"{draw(st.sampled_from(['beta1', 'beta_1']))}={draw(spelled_float(0.0, 0.99))}")
    if optimizer != "sgd" and draw(st.booleans()):
        args.append(f"{draw(st.sampled_from(['eps', 'epsilon']))}={draw(spelled_float(0.0, 1e-3, True))}")
    statements = [f"optimizer {optimizer}" + (f"({', '.join(args)})" if args else ""),
                  f"epochs {draw(st.integers(1, 1000))}"]
    if draw(st.booleans()):
        statements.append(f"batch {draw(st.sampled_from(['all', '1', '32', '+7']))}")
    metric_choices = ["mse", "mae"] + (["accuracy", "precision", "recall"] if loss in catalog.CLASSIFICATION_LOSSES else [])
    if loss == "categorical_crossentropy":
        metric_choices.append("top_k_accuracy(k=1)")  # k below the classes: a softmax has at least 2
    metrics = draw(st.lists(st.sampled_from(metric_choices), unique=True, max_size=3))
    if metrics:
        statements.append("metrics " + ", ".join(metrics))
    if draw(st.booleans()):
        statements.append(f"seed {draw(st.integers(0, 2**32 - 1))}")
    if draw(st.booleans()):
        statements.append(f"shuffle {draw(st.sampled_from(['true', 'false']))}")
    if draw(st.booleans()):
        statements.append(f"checkpoint every={draw(st.integers(1, 50))}")
    body = "".join(separators(draw) + s for s in draw(st.permutations(statements)))
    return "train {" + body + separators(draw) + "}"


@st.composite
def valid_specs(draw) -> str:
    blocks = []
    width, kind = None, None
    if draw(st.booleans()):
        text, width, kind = draw(data_block())
        blocks.append(text)
    input_width = width if width is not None else draw(st.integers(1, 6))
    statements = []
    if width is None or draw(st.booleans()):
        statements.append(f"input {draw(spelled_int(input_width))}")
    if draw(st.integers(0, 3)) == 0:
        kinds = draw(st.lists(st.sampled_from(["l1", "l2"]), min_size=1, max_size=2, unique=True))
        penalties = [f"{k}({draw(spelled_float(0.0, 0.1))})" for k in kinds]
        statements.append("regularizer " + (penalties[0] if len(penalties) == 1 else f"[{', '.join(penalties)}]"))
    layers, hidden_width = draw(hidden_layers(input_width))
    loss, units, output_activation = draw(objective(kind))
    output, _ = draw(dense(hidden_width, units=units, output=output_activation))
    statements += layers + [output]
    name = draw(st.one_of(st.none(), names()))
    body = "".join(separators(draw) + s for s in statements)
    blocks.append(f"model{' ' + name if name else ''} {{{body}{separators(draw)}}}")
    if loss is not None:
        blocks.append(f"loss {loss}")
        if kind is not None and draw(st.booleans()):
            blocks.append(draw(train_block(loss)))
    order = draw(st.permutations(blocks))
    return draw(st.sampled_from(["", "# leading comment\n"])) + "\n".join(
        b + draw(st.sampled_from(["", "  # trailing", "\n"])) for b in order
    ) + draw(st.sampled_from(["", "\n", "\n# the end\n"]))


@st.composite
def trainable_specs(draw) -> str:
    """A valid spec that trains: Playground data, any hidden layers, an objective that fits the
    data, and a train block, each drawn as valid_specs draws them."""
    text, width, kind = draw(data_block().filter(lambda block: block[2] != "file"))
    layers, hidden_width = draw(hidden_layers(width))
    loss, units, output_activation = draw(objective(kind).filter(lambda o: o[0] is not None))
    output, _ = draw(dense(hidden_width, units=units, output=output_activation))
    model = "model { " + " ".join([f"input {width}", *layers, output]) + " }"
    return "\n".join([text, model, f"loss {loss}", draw(train_block(loss))])


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(trainable_specs())
def test_random_trainable_specs_train_an_epoch_on_numpy(text):
    """What the checker accepts, the NumPy program trains: every layer, activation, initialiser,
    loss, optimizer, metric and data set the strategies draw, in random combinations. An epoch
    either gives finite numbers or stops with the program's own divergence error."""
    program = nndsl.parse(text)
    model = nndsl.build(program, backend="numpy")
    try:
        history = model.fit(epochs=1)
    except model.module.TrainingDiverged:
        return  # a random learning rate may be too large: the program says so and stops
    assert set(history) == {"loss", *program.train.metrics, "val_loss", *(f"val_{m}" for m in program.train.metrics),
                            "lr"}
    assert all(len(values) == 1 and math.isfinite(values[0]) for values in history.values()), history
    x = model.data.x_val[:5]
    assert model.predict(x).shape == (len(x), program.model.out_features)


@SETTINGS
@given(valid_specs())
def test_random_valid_specs_check_and_format_round_trips(text):
    program = nndsl.parse(text)  # the strategy only builds valid specs

    formatted = nndsl.format(text)
    assert nndsl.format(formatted) == formatted
    assert nndsl.parse(formatted) == program

    printed = nndsl.format(program)
    assert nndsl.parse(printed) == program
    assert nndsl.format(printed) == printed

    summary = nndsl.summary(program)
    assert summary.total_params == sum(p.size for p in program.model.parameters)


@SETTINGS
@given(valid_specs())
def test_formatting_keeps_every_comment(text):
    def comments(spec: str) -> list[str]:
        return [line[line.index("#"):].rstrip() for line in spec.split("\n") if "#" in line]

    assert comments(nndsl.format(text)) == comments(text)


# --- anything else never escapes as anything but SpecError ----------------------------


def check_never_crashes(text: str) -> None:
    try:
        nndsl.parse(text)
    except nndsl.SpecError as error:
        lines = normalize_newlines(text).split("\n")
        for diagnostic in error.diagnostics:
            assert diagnostic.span is not None, diagnostic.header()
            assert 1 <= diagnostic.span.line <= len(lines), diagnostic.header()
            assert 1 <= diagnostic.span.column <= len(lines[diagnostic.span.line - 1]) + 1, diagnostic.header()
        error.render()
    try:
        formatted = nndsl.format(text)
    except nndsl.SpecError:
        return
    assert nndsl.format(formatted) == formatted


TOKENS = [
    "model", "data", "loss", "train", "{", "}", "[", "]", "(", ")", "=", ",", "^", "*", "input", "dense", "8", "2",
    "relu", "sigmoid", "softmax", "leaky_relu", "1e3", "-1", ".5", "1e999", '"x"', "'y.csv'", '"a\\q"', '"open',
    "xor", "spiral", "csv", "npz", "features", "x1", "x2", "sin", "split", "optimizer", "sgd", "adam", "lr",
    "epochs", "batch", "all", "metrics", "accuracy", "seed", "shuffle", "true", "false", "checkpoint", "every",
    "init", "weights", "bias", "name", "trainable", "regularizer", "l2", "dropout", "activation", "mse",
    "binary_crossentropy", "# comment\n", "\n", "\t", " ", "é", "\u202e", "\x00", "$", "\\", "9" * 50,
]


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_random_token_soup_only_raises_spec_error(text):
    check_never_crashes(text)


@SETTINGS
@given(valid_specs(), st.data())
def test_damaged_valid_specs_only_raise_spec_error(text, data):
    # Cut, duplicate or overwrite a piece of a valid spec: close to what a user types.
    position = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from(["delete", "insert", "replace"]))
    length = data.draw(st.integers(1, 8))
    piece = data.draw(st.sampled_from(TOKENS))
    if edit == "delete":
        text = text[:position] + text[position + length:]
    elif edit == "insert":
        text = text[:position] + piece + text[position:]
    else:
        text = text[:position] + piece + text[position + length:]
    check_never_crashes(text)


@SETTINGS
@given(st.text(max_size=300))
def test_random_unicode_text_only_raises_spec_error(text):
    check_never_crashes(text)


@SETTINGS
@given(st.text(alphabet=string.printable + "{}[]()=,^*#\"'", max_size=300))
def test_random_ascii_text_only_raises_spec_error(text):
    check_never_crashes(text)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_spec_error(data):
    try:
        text = decode_spec(data, "bytes.nn")  # what nndsl.load does with a file's bytes
    except nndsl.SpecError:
        return
    check_never_crashes(text)
