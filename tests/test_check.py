"""The checker: IR invariants, shape inference, defaults, the rules between blocks,
limits, and reporting every independent mistake once (no echoes)."""

from __future__ import annotations

import dataclasses

import pytest

import nndsl
from nndsl import catalog, ir
from nndsl.source import Span


def errors(text: str) -> list[tuple[int, int, str]]:
    """(line, column, message) of every error `text` gives; fails if it gives none."""
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.parse(text)
    assert all(d.severity == "error" for d in info.value.diagnostics)
    return [(d.span.line, d.span.column, d.message) for d in info.value.diagnostics]


def only_error(text: str) -> str:
    (error,) = errors(text)
    return error[2]


def warnings(text: str) -> list[str]:
    return [w.message for w in nndsl.parse(text).warnings]


CLASSIFIER = "data xor\nmodel {{ input 2  dense 8 relu  {output} }}\nloss {loss}\n"


# --- the IR's invariants ----------------------------------------------------------


def test_ir_nodes_are_frozen():
    program = nndsl.parse("model { input 2  dense 1 }")
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.model.layers[0].units = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.model = None


def test_spans_and_filenames_do_not_take_part_in_equality():
    compact = nndsl.parse("model { input 2 dense 1 }", filename="a.nn")
    spread = nndsl.parse("\n\n# c\nmodel {\n    input 2\n\n    dense 1\n}\n", filename="b.nn")
    assert compact == spread
    assert compact.model.layers[0].span != spread.model.layers[0].span
    assert compact.filename != spread.filename


def test_different_meaning_gives_a_different_ir():
    base = nndsl.parse("model { input 2 dense 1 }")
    for other in ("model { input 3 dense 1 }", "model { input 2 dense 2 }", "model m { input 2 dense 1 }",
                  "model { input 2 dense 1 tanh }", "model { input 2 dense 1 trainable=false }"):
        assert nndsl.parse(other) != base, other


def test_span_validation():
    with pytest.raises(ValueError):
        Span(0, 1, 0, 2)
    assert str(Span.point(3, 4)) == "3:4"
    assert Span(1, 2, 1, 5).to(Span(3, 1, 3, 9)) == Span(1, 2, 3, 9)


def test_parameters_follow_the_naming_convention():
    # Layers named by the spec still count: the second dense layer is dense_2 whatever the first is called.
    model = nndsl.parse("model { input 3  dense 4 name=hidden  dropout 0.1  dense 2 }").model
    assert [(p.name, p.shape, p.size) for p in model.parameters] == [
        ("hidden.W", (4, 3), 12), ("hidden.b", (4,), 4), ("dense_2.W", (2, 4), 8), ("dense_2.b", (2,), 2),
    ]


def test_default_names_count_per_kind():
    model = nndsl.parse(
        "model { input 2 dense 4 activation relu dropout 0.1 dense 4 activation tanh dropout 0.2 dense 1 }"
    ).model
    assert [layer.name for layer in model.layers] == [
        "dense_1", "activation_1", "dropout_1", "dense_2", "activation_2", "dropout_2", "dense_3",
    ]


def test_output_activation_looks_through_dropout():
    model = nndsl.parse("model { input 2 dense 3 softmax dropout 0.1 }").model
    assert model.output_activation == "softmax"
    model = nndsl.parse("model { input 2 dense 3 softmax activation linear }").model
    assert model.output_activation == "linear"


# --- input width -------------------------------------------------------------------


def test_input_width_comes_from_the_features():
    program = nndsl.parse("data gauss { features x1, x2, x1*x2 }\nmodel { dense 4 relu  dense 1 sigmoid }")
    assert program.model.in_features == 3
    program = nndsl.parse('data csv("t.csv", target=y) { features a, b, c, d }\nmodel { dense 1 }')
    assert program.model.in_features == 4


def test_input_is_required_without_features():
    assert "model needs 'input N'" in only_error("model { dense 1 }")
    assert "model needs 'input N'" in only_error('data csv("t.csv", target=y)\nmodel { dense 1 }')
    assert "model needs 'input N'" in only_error('data npz("t.npz")\nmodel { dense 1 }')


def test_input_must_agree_with_the_features():
    message = only_error("data xor { features x1, x2, sin(x1) }\nmodel { input 2 dense 1 sigmoid }")
    assert message == "input 2 disagrees with the data, which has 3 features (x1, x2, sin(x1))"
    message = only_error("data xor { features x1 }\nmodel { input 2 dense 1 sigmoid }")
    assert message == "input 2 disagrees with the data, which has 1 feature (x1)"


def test_input_placement():
    assert "input must come before the layers" in only_error("model { dense 1  input 2 }")
    assert "input is given twice" in only_error("model { input 2  input 2  dense 1 }")
    assert "model has no layers" in only_error("model { input 2 }")


# --- rules between the output, the loss and the data ------------------------------


@pytest.mark.parametrize(
    "output,loss",
    [
        ("dense 1 sigmoid", "binary_crossentropy"),
        ("dense 1", "mse"),
        ("dense 1 tanh", "mae"),
        ("dense 1 sigmoid", "mse"),
        ("dense 1\nactivation sigmoid", "binary_crossentropy"),
    ],
)
def test_matching_output_and_loss(output, loss):
    program = nndsl.parse(CLASSIFIER.format(output=output, loss=loss))
    assert program.loss.name == loss


@pytest.mark.parametrize(
    "output,loss,message",
    [
        ("dense 1", "binary_crossentropy", "binary_crossentropy needs a sigmoid output"),
        ("dense 1 relu", "binary_crossentropy", "the last activation is relu"),
        ("dense 2 sigmoid", "binary_crossentropy", "the output needs 1 unit, not 2"),
        ("dense 1 sigmoid", "categorical_crossentropy", "with one sigmoid unit, use binary_crossentropy"),
        ("dense 2 tanh", "categorical_crossentropy", "categorical_crossentropy needs a softmax output"),
        ("dense 1 softmax", "categorical_crossentropy", "at least 2 output units"),
        ("dense 2", "mse", "the data has one target value per sample, but the output has 2 units"),
    ],
)
def test_mismatched_output_and_loss(output, loss, message):
    assert message in only_error(CLASSIFIER.format(output=output, loss=loss))


def test_softmax_with_a_regression_loss_is_a_warning_not_an_error():
    program = nndsl.parse("model { input 2 dense 3 softmax }\nloss mse")
    (warning,) = program.warnings
    assert warning.severity == "warning"
    assert "mse on a softmax output" in warning.message
    assert (warning.span.line, warning.span.column) == (1, 17)


def test_other_warnings():
    assert any("dropout after the last layer" in w for w in warnings("model { input 2 dense 1 dropout 0.5 }\nloss mse"))
    assert warnings("data plane\nmodel { dense 1 relu }\nloss mse") == [
        "plane targets can be negative, but a relu output cannot"
    ]
    assert warnings('data csv("t.txt", target=y)\nmodel { input 1 dense 1 }') == [
        "csv data path 't.txt' does not end in .csv"
    ]
    assert warnings("data plane\nmodel { dense 1 }\nloss mse") == []
    one = "a softmax over one unit is always 1, whatever its input (and its gradient is 0); for one probability use sigmoid"
    assert warnings("model { input 2 dense 1 softmax }") == [one]
    assert warnings("model { input 2 dense 1 softmax }\nloss mse") == [one]


def test_classes_against_the_output():
    spec = "data spiral(classes={k})\nmodel {{ dense {units} {activation} }}\nloss {loss}"
    assert nndsl.parse(spec.format(k=4, units=4, activation="softmax", loss="categorical_crossentropy"))
    assert "the data has 3 classes but the output has 4 units" in only_error(
        spec.format(k=3, units=4, activation="softmax", loss="categorical_crossentropy")
    )
    assert "binary_crossentropy needs 2 classes; the data has 3" in only_error(
        spec.format(k=3, units=1, activation="sigmoid", loss="binary_crossentropy")
    )


@pytest.mark.parametrize("generator", ["plane", "multigauss"])
@pytest.mark.parametrize("loss,output", [("binary_crossentropy", "dense 1 sigmoid"),
                                         ("categorical_crossentropy", "dense 2 softmax")])
def test_regression_data_with_a_classification_loss(generator, loss, output):
    messages = [m for _, _, m in errors(f"data {generator}\nmodel {{ {output} }}\nloss {loss}")]
    assert any(f"{loss} needs class labels, but {generator} is a regression data set" in m for m in messages)


def test_npz_data_may_have_several_binary_outputs():
    program = nndsl.parse('data npz("multi.npz")\nmodel { input 3 dense 4 sigmoid }\nloss binary_crossentropy')
    assert program.model.out_features == 4


def test_accuracy_needs_a_classification_loss():
    train = "train {{ optimizer sgd epochs 1 metrics {metrics} }}"
    ok = CLASSIFIER.format(output="dense 1 sigmoid", loss="binary_crossentropy") + train.format(metrics="accuracy")
    assert nndsl.parse(ok).train.metrics == ("accuracy",)
    bad = "data plane\nmodel { dense 1 }\nloss mae\n" + train.format(metrics="mse, accuracy")
    assert only_error(bad) == (
        "accuracy needs a classification loss (binary_crossentropy or categorical_crossentropy); the loss is mae"
    )
    repeated = "data plane\nmodel { dense 1 }\nloss mae\n" + train.format(metrics="mse, mse")
    assert only_error(repeated) == "metric 'mse' is listed twice"


# --- values and ranges --------------------------------------------------------------


@pytest.mark.parametrize(
    "layer,message",
    [
        ("dense 0", "units must be a positive integer; received units=0"),
        ("dense -3", "units must be a positive integer; received units=-3"),
        ("dense 2.5", "units must be an integer; received units=2.5"),
        ("dense 1e3", "units must be an integer; received units=1e3"),
        ("dense 2000000", "units must be at most 1,000,000; received units=2000000"),
        ("dense relu", "units must be a number; received units=relu"),
        ("dropout 1", "rate must be in [0, 1); received rate=1"),
        ("dropout -0.1", "rate must be in [0, 1); received rate=-0.1"),
        ("dense 1 init=normal(0)", "std must be positive; received std=0"),
        ("dense 1 l2(-1)", "rate must be ≥ 0; received rate=-1"),
        ("dense 1 l2", "l2 needs its rate, e.g. l2(0.001)"),
        ("dense 1 init=constant", "constant needs its value, e.g. constant(0.1)"),
        ("dense 1 init=zeros(1)", "zeros takes no arguments"),
        ("dense 1 relu(1)", "relu takes no arguments"),
        ("dense 1 trainable=1", "trainable must be true or false; received trainable=1"),
        ("dense 1 init=zeros weights=[[1, 2]]", "give either init= or weights=, not both"),
        ("dense 2 weights=[[1, 2], [3]]", "got 2 rows of unequal length"),
        ("dense 2 weights=[1, 2]", "weights must be a list of 2 rows of 2 numbers"),
        ('dense 1 weights=[["a", 2]]', 'element must be a number; received element="a"'),
        ("dense 1 bias=[1, 2]", "bias must have 1 numbers (one per unit); got 2"),
        ("dense 1 2 3", "dense takes at most 2 positional arguments (units, activation)"),
        ("dense 1 foo=2", "unknown argument 'foo' for dense"),
        ("dense 1 name=1x", "name must be a name; received name=1"),
    ],
)
def test_layer_values(layer, message):
    found = [m for _, _, m in errors(f"model {{\n    input 2\n    {layer}\n}}")]
    assert any(message in m for m in found), found


@pytest.mark.parametrize(
    "statement,message",
    [
        ("optimizer sgd(lr=0)", "lr must be positive; received lr=0"),
        ("optimizer adam(eps=-1e-8)", "eps must be positive; received eps=-1e-8"),
        ("optimizer sgd(momentum=1)", "momentum must be in [0, 1); received momentum=1"),
        ("optimizer adam(beta1=1.5)", "beta1 must be in [0, 1); received beta1=1.5"),
        ("optimizer sgd(nesterov=1)", "nesterov must be true or false; received nesterov=1"),
        ("optimizer sgd(lr=0.1, lr=0.2)", "sgd got lr twice"),
        ("optimizer sgd(learning_rate=0.1, lr=0.2)", "sgd got lr twice"),
        ("optimizer sgd(0.1, 0.5, false, 4)", "sgd takes at most 3 positional arguments"),
        ("optimizer adam(beta=0.9)", "unknown argument 'beta' for adam"),
        ("batch ten", "batch must be a positive integer or 'all'; received batch=ten"),
        ("batch 0", "batch must be a positive integer; received batch=0"),
        ("seed -1", "seed must be an integer ≥ 0; received seed=-1"),
        ("seed 4294967296", "seed must be at most 4,294,967,295"),
        ("shuffle maybe", "shuffle must be true or false; received shuffle=maybe"),
        ("checkpoint", "checkpoint needs every=N"),
        ("checkpoint every=0", "every must be a positive integer; received every=0"),
        ("metrics", "metrics needs at least one metric"),
        ("metrics kind=mse", "metrics takes metric names"),
    ],
)
def test_training_values(statement, message):
    spec = CLASSIFIER.format(output="dense 1 sigmoid", loss="binary_crossentropy")
    others = "epochs 2" if statement.startswith("optimizer") else "optimizer sgd\n    epochs 2"
    found = [m for _, _, m in errors(spec + f"train {{\n    {others}\n    {statement}\n}}")]
    assert any(message in m for m in found), found


@pytest.mark.parametrize(
    "data,message",
    [
        ("xor(samples=1)", "samples must be an integer ≥ 2; received samples=1"),
        ("xor(samples=100000000)", "samples must be at most 10,000,000"),
        ("xor(noise=-0.1)", "noise must be between 0 and 0.5"),
        ("xor(noise=0.51)", "noise must be between 0 and 0.5"),
        ("spiral(classes=1)", "classes must be an integer ≥ 2; received classes=1"),
        ("spiral(classes=101)", "classes must be at most 100"),
        ("circle(classes=3)", "circle has two classes; only spiral takes classes=N"),
        ("xor(sample=10)", "unknown argument 'sample' for xor (did you mean 'samples'?)"),
        ("xor { split 0 }", "split must be a fraction above 0 and at most 1 (split 1: no validation); received split=0"),
        ("xor { split 1.5 }", "split must be a fraction above 0 and at most 1"),
        ("xor(samples=10) { split 0.05 }", "leaves 0 for training and 10 for validation"),
        ("xor { features x1, x1 }", "feature 'x1' is listed twice (first at"),
        ('xor { features "x1" }', "xor features are names such as x1, not strings"),
        ("xor { features x1^3 }", "unknown feature 'x1^3' (did you mean 'x1^2'?)"),
        ('csv("t.csv")', "csv needs target=COLUMN"),
        ("csv(target=y)", 'csv needs a file path, e.g. csv("data/file.csv")'),
        ('csv("")', "path is empty"),
        ('csv("a\\\\b.csv", target=y)', "path must be relative to the spec's folder"),
        ('csv("C:/data/b.csv", target=y)', "path must be relative to the spec's folder"),
        ('csv("../b.csv", target=y)', "path must stay inside the spec's folder (no '..')"),
        ('csv("t.csv", target=y) { features y, x }', "'y' is the target column; it cannot also be a feature"),
        ('csv("t.csv", target=y) { features sin(x1) }', "csv features are column names"),
        ('csv("t.csv", target="a\\tb")', "target contains the control character U+0009"),
        ('npz("t.npz") { features a }', "npz data has no column names"),
        ("xor { dense 1 }", "'dense' does not belong in a data block; it belongs in the model block"),
        ("xor { split 0.5 split 0.6 }", "split is given twice in the data block"),
    ],
)
def test_data_values(data, message):
    found = [m for _, _, m in errors(f"data {data}\nmodel {{ input 2 dense 1 }}")]
    assert any(message in m for m in found), found


@pytest.mark.parametrize(
    "name,message",
    [
        ("class", "name cannot be the Python keyword 'class'"),
        ("match", "name cannot be the Python keyword 'match'"),
        ("__init", "name cannot start with '__'"),
        ('"two words"', "name must be a name of ASCII letters, digits and '_'"),
        ("a" * 65, "name is longer than 64 characters"),
    ],
)
def test_layer_names_are_safe_identifiers(name, message):
    assert message in only_error(f"model {{ input 2 dense 1 name={name} }}")


def test_model_name_is_checked_like_a_layer_name():
    assert "model name cannot be the Python keyword 'def'" in only_error("model def { input 2 dense 1 }")


# --- limits ------------------------------------------------------------------------


def test_parameter_limit():
    message = only_error("model { input 100000  dense 100000 }")
    assert message == (
        f"model has {100_001 * 100_000:,} parameters, more than the limit of {catalog.MAX_PARAMETERS:,}"
    )


def test_largest_allowed_model_is_accepted():
    units = catalog.MAX_PARAMETERS // 1001
    program = nndsl.parse(f"model {{ input 1000  dense {units} }}")
    assert sum(p.size for p in program.model.parameters) <= catalog.MAX_PARAMETERS


def test_non_finite_and_overlong_numbers():
    assert only_error("model { input 2 dense 1 init=constant(1e999) }") == "value must be finite; received value=1e999"
    assert only_error("model { input 2 dense 1 init=constant(-1e400) }") == "value must be finite; received value=-1e400"
    digits = "9" * 41
    assert only_error(f"model {{ input 2 dense {digits} }}") == "units is too long a number (41 characters)"


# --- blocks ---------------------------------------------------------------------------


def test_required_blocks_and_statements():
    assert only_error("data xor\nloss mse") == "spec has no model block; add e.g. 'model { input 2  dense 1 }'"
    found = [m for _, _, m in errors("model { input 2 dense 1 }\ntrain { optimizer sgd  epochs 1 }")]
    assert found == [
        "train needs a data block to train on; add e.g. 'data xor(samples=500)'",
        "train needs a loss; add e.g. 'loss mse' before the train block",
    ]
    found = [m for _, _, m in errors("data plane\nmodel { input 2 dense 1 }\nloss mse\ntrain { batch 4 }")]
    assert found == ["train needs an optimizer, e.g. 'optimizer sgd(lr=0.01)'", "train needs 'epochs N'"]


def test_model_alone_is_a_complete_spec():
    program = nndsl.parse("model { input 2 dense 1 }")
    assert (program.data, program.loss, program.train) == (None, None, None)


def test_every_duplicate_block_is_reported():
    found = errors("model { input 2 dense 1 }\nmodel { input 2 dense 1 }\nmodel { input 2 dense 1 }\nloss mse\nloss mae")
    assert [(line, message.split(";")[0]) for line, _, message in found] == [
        (2, "second model block"), (3, "second model block"), (5, "second loss block"),
    ]


def test_duplicate_layer_names():
    assert only_error("model { input 2 dense 2 name=h dense 1 name=h }") == (
        "duplicate layer name 'h' (also the layer at 1:17)"
    )
    # An explicit name may not take a default name that a later layer gets.
    assert "duplicate layer name 'dense_2'" in only_error("model { input 2 dense 2 name=dense_2 dense 1 }")


def test_statement_in_the_wrong_block():
    assert only_error("model { input 2 dense 1 epochs 3 }").startswith(
        "'epochs' does not belong in a model block; it belongs in the train block"
    )
    assert "'features' does not belong in a model block" in only_error("model { input 2 features x1 dense 1 }")


# --- several mistakes per run, and no echoes --------------------------------------


def test_independent_mistakes_are_all_reported_in_source_order():
    spec = (
        "data xor(samples=1)\n"
        "model {\n    input 2\n    dense 8 rleu\n    dense 1 sigmoid init=zero\n}\n"
        "loss binary_crossentropy\n"
        "train {\n    optimizer sgd(lr=-1)\n    epochs 0\n    metrics acuracy\n}\n"
    )
    assert errors(spec) == [
        (1, 18, "samples must be an integer ≥ 2; received samples=1"),
        (4, 13, "unknown activation 'rleu' (did you mean 'relu'?)"),
        (5, 26, "unknown initializer 'zero' (did you mean 'zeros'?)"),
        (9, 22, "lr must be positive; received lr=-1"),
        (10, 12, "epochs must be a positive integer; received epochs=0"),
        (11, 13, "unknown metric 'acuracy' (did you mean 'accuracy'?)"),
    ]


def test_a_broken_output_layer_gives_no_echo_about_the_loss():
    # The misspelt activation is the mistake; "needs a sigmoid output" would be its echo.
    assert errors("data xor\nmodel { input 2 dense 1 sigmoidd }\nloss binary_crossentropy") == [
        (2, 25, "unknown activation 'sigmoidd' (did you mean 'sigmoid'?)")
    ]
    assert errors("data spiral(classes=3)\nmodel { input 2 dense 3 sofmax }\nloss categorical_crossentropy") == [
        (2, 25, "unknown activation 'sofmax' (did you mean 'softmax'?)")
    ]


def test_a_broken_data_block_gives_no_echo_about_the_input():
    assert errors("data xor { split 1.5 }\nmodel { dense 1 sigmoid }") == [
        (1, 18, "split must be a fraction above 0 and at most 1 (split 1: no validation); received split=1.5")
    ]
    assert [m for _, _, m in errors("data xor { features x1, x3 }\nmodel { input 2 dense 1 sigmoid }")] == [
        "unknown feature 'x3' (did you mean 'x1'?); the Playground's features are "
        "x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)"
    ]
    assert len(errors("data xor { features x1, x1 }\nmodel { input 2 dense 1 sigmoid }")) == 1


def test_syntax_errors_are_reported_together_without_echoes():
    spec = "model {\n    input 2\n    dense 8 relu init=\n    dense 4 $\n    dense 1\n}\nloss mse )\n"
    assert errors(spec) == [
        (3, 22, "missing value after 'init='"),
        (4, 13, "unexpected character '$'"),
        (7, 10, "unmatched ')'"),
    ]


def test_an_unknown_block_is_skipped_as_a_whole():
    spec = "modle {\n    input 2\n    dense 1\n}\nmodel { input 2 dense 1 }\nlos mse\n"
    assert errors(spec) == [
        (1, 1, "unknown block 'modle' (did you mean 'model'?); a spec is made of data, model, loss and train blocks"),
        (6, 1, "unknown block 'los' (did you mean 'loss'?); a spec is made of data, model, loss and train blocks"),
    ]


def test_syntax_errors_stop_after_a_limit():
    from nndsl.syntax import MAX_SYNTAX_ERRORS

    spec = "model {\n" + "    dense 1 $\n" * (MAX_SYNTAX_ERRORS + 10) + "}\n"
    assert len(errors(spec)) == MAX_SYNTAX_ERRORS


def test_checked_program_has_every_dense_layer_as_ir_dense():
    program = nndsl.parse("model { input 2 dense 3 relu dense 1 }")
    assert all(isinstance(layer, ir.Dense) for layer in program.model.layers)
