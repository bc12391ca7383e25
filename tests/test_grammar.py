"""Every form of the language (DESIGN.md section 2, README) parses to the IR it means.

Each test writes a spec the way a user would and checks the fields of the
checked IR: names resolved, defaults filled in, widths inferred.
"""

from __future__ import annotations

import pytest

import nndsl
from nndsl import catalog, ir

CHECKERBOARD = """\
# specs/checkerboard.nn — the TensorFlow Playground checkerboard (XOR) task
data xor(samples=500, noise=0.0, seed=7) {
    features x1, x2            # any of x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)
    split 0.5                  # fraction for training; the rest validates
}

model checkerboard {
    input 2
    dense 8 relu               # default init follows the activation: He for relu, Glorot otherwise
    dense 1 sigmoid
}

loss binary_crossentropy

train {
    optimizer sgd(lr=0.03)
    batch 10                   # `batch all` is full-batch gradient descent
    epochs 200
    metrics accuracy
    seed 1
}
"""

PERCEPTRON = """\
# the linear perceptron y = w·x + b, fitted by gradient descent
data plane(samples=1200, noise=0.1)
model { input 2  dense 1 }                 # no activation: linear output
loss mse
train { optimizer sgd(lr=0.01)  batch all  epochs 100 }
"""

STAIRCASE = """\
# weights written out by hand: the lecture's universal-approximation staircase
model staircase {
    input 1
    dense 7 sigmoid weights=[[100],[100],[100],[100],[100],[100],[100]]
                    bias=[200, 100, 0, -100, -200, -300, -400]  trainable=false
    dense 1 weights=[[0.25, 0.25, 0.5, 0.2, -0.4, 0.8, -1.6]] bias=[0]
}
"""


def model_of(body: str, head: str = "") -> ir.Model:
    """The model of `head` + `model { body }` (`head` holds a data block, say)."""
    return nndsl.parse(f"{head}\nmodel {{\n{body}\n}}\n").model


def dense(body: str, input_width: int = 2) -> ir.Dense:
    """The one dense layer of `model { input N  <body> }`."""
    (layer,) = model_of(f"input {input_width}\n{body}").layers
    assert isinstance(layer, ir.Dense)
    return layer


def train_of(body: str, loss: str = "binary_crossentropy") -> ir.Train:
    spec = f"data xor\nmodel {{ input 2  dense 1 sigmoid }}\nloss {loss}\ntrain {{\n{body}\n}}\n"
    return nndsl.parse(spec).train


# --- the three examples of the design --------------------------------------------


def test_checkerboard_example():
    program = nndsl.parse(CHECKERBOARD, filename="checkerboard.nn")

    assert program.filename == "checkerboard.nn"
    assert program.data == ir.Data(
        source=ir.PlaygroundData("xor", samples=500, noise=0.0, classes=2),
        features=(ir.Feature("x1"), ir.Feature("x2")),
        split=0.5,
        seed=7,
    )
    model = program.model
    assert model.name == "checkerboard"
    assert model.in_features == 2
    hidden, output = model.layers
    assert (hidden.name, hidden.in_features, hidden.units) == ("dense_1", 2, 8)
    assert hidden.activation.name == "relu"
    assert hidden.kernel_init == ir.Initializer("he_normal")  # He for ReLU: the lecture's rule
    assert hidden.bias_init == ir.Initializer("zeros")
    assert hidden.trainable and hidden.regularizers == ()
    assert (output.name, output.in_features, output.units) == ("dense_2", 8, 1)
    assert output.activation.name == "sigmoid"
    assert output.kernel_init == ir.Initializer("glorot_normal")  # Glorot otherwise
    assert program.loss == ir.Loss("binary_crossentropy")
    assert program.train == ir.Train(
        optimizer=ir.SGD(lr=0.03), batch=10, epochs=200, metrics=("accuracy",), seed=1, shuffle=True
    )
    assert program.task == "binary"
    assert program.warnings == ()


def test_perceptron_example():
    program = nndsl.parse(PERCEPTRON)

    assert program.model.name is None
    (layer,) = program.model.layers
    assert (layer.in_features, layer.units, layer.activation.name) == (2, 1, "linear")
    assert program.data.source == ir.PlaygroundData("plane", samples=1200, noise=0.1, classes=None)
    assert program.data.features == (ir.Feature("x1"), ir.Feature("x2"))  # the default features
    assert program.data.split == catalog.DEFAULT_SPLIT["playground"]
    assert program.data.seed is None
    assert program.loss.name == "mse" and program.task == "regression"
    assert program.train.batch is None  # `batch all`
    assert program.train.optimizer == ir.SGD(lr=0.01, momentum=0.0, nesterov=False)
    assert program.train.epochs == 100


def test_staircase_example_with_literal_weights_and_frozen_layer():
    model = nndsl.parse(STAIRCASE).model

    steps, output = model.layers
    assert steps.units == 7 and steps.in_features == 1
    assert steps.kernel_init.kind == "values"
    assert steps.kernel_init.values == ((100.0,),) * 7  # units × inputs, as y = W·x + b
    assert steps.bias_init.kind == "values"
    assert steps.bias_init.values == (200.0, 100.0, 0.0, -100.0, -200.0, -300.0, -400.0)
    assert steps.trainable is False
    assert output.kernel_init.values == ((0.25, 0.25, 0.5, 0.2, -0.4, 0.8, -1.6),)
    assert output.bias_init.values == (0.0,)
    assert output.trainable is True
    assert [p.name for p in model.parameters] == ["dense_1.W", "dense_1.b", "dense_2.W", "dense_2.b"]
    assert [p.shape for p in model.parameters] == [(7, 1), (7,), (1, 7), (1,)]
    assert [p.trainable for p in model.parameters] == [False, False, True, True]


def test_every_example_spec_parses():
    from pathlib import Path

    specs = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.nn"))
    for path in specs:
        program = nndsl.load(path)
        assert program.model.layers, path
        assert program.filename == str(path)


# --- layers -------------------------------------------------------------------------


@pytest.mark.parametrize("name", catalog.ACTIVATIONS)
def test_every_activation(name):
    layer = dense(f"dense 3 {name}")
    assert layer.activation.name == name
    assert layer.activation.alpha == catalog.ACTIVATION_ALPHA.get(name)
    expected_init = "he_normal" if name in catalog.RELU_FAMILY else "glorot_normal"
    assert layer.kernel_init.kind == expected_init


@pytest.mark.parametrize(
    "text,name,alpha",
    [
        ("leaky_relu(0.2)", "leaky_relu", 0.2),
        ("leaky_relu(alpha=0.3)", "leaky_relu", 0.3),
        ("elu(alpha=0.5)", "elu", 0.5),
        ("elu(2)", "elu", 2.0),
        ("leaky_relu", "leaky_relu", 0.01),
        ("elu", "elu", 1.0),
    ],
)
def test_activation_with_parameter(text, name, alpha):
    layer = dense(f"dense 4 {text}")
    assert layer.activation == ir.Activation(name, alpha)
    assert layer.kernel_init.kind == "he_normal"


def test_activation_and_dropout_layers():
    model = model_of("input 3\ndense 5 relu\nactivation tanh\ndropout 0.25\ndense 2\nactivation softmax name=probs")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "ActivationLayer", "Dropout", "Dense", "ActivationLayer"]
    assert [layer.name for layer in model.layers] == ["dense_1", "activation_1", "dropout_1", "dense_2", "probs"]
    assert model.layers[1] == ir.ActivationLayer("activation_1", 5, ir.Activation("tanh"), inputs=("dense_1",))
    assert model.layers[2] == ir.Dropout("dropout_1", 5, 0.25, inputs=("activation_1",))
    assert model.layers[3].in_features == 5
    assert model.out_features == 2
    assert model.output_activation == "softmax"
    assert [p.name for p in model.parameters] == ["dense_1.W", "dense_1.b", "dense_2.W", "dense_2.b"]


@pytest.mark.parametrize("name", ["glorot_normal", "he_normal", "glorot_uniform", "he_uniform", "zeros", "ones"])
def test_every_plain_initializer(name):
    layer = dense(f"dense 3 tanh init={name} bias={name}")
    assert layer.kernel_init == ir.Initializer(name)
    assert layer.bias_init == ir.Initializer(name)


@pytest.mark.parametrize(
    "text,kind,value",
    [
        ("constant(0.5)", "constant", 0.5),
        ("constant(value=-2)", "constant", -2.0),
        ("normal(0.05)", "normal", 0.05),
        ("normal(std=1e-2)", "normal", 0.01),
    ],
)
def test_initializers_with_an_argument(text, kind, value):
    layer = dense(f"dense 3 init={text} bias={text}")
    assert layer.kernel_init == ir.Initializer(kind, value=value)
    assert layer.bias_init == ir.Initializer(kind, value=value)


def test_explicit_initializer_overrides_the_activation_default():
    assert dense("dense 3 relu init=glorot_uniform").kernel_init.kind == "glorot_uniform"
    assert dense("dense 3 sigmoid init=he_uniform").kernel_init.kind == "he_uniform"


def test_layer_options_name_and_trainable():
    layer = dense("dense 4 relu name=hidden trainable=false")
    assert layer.name == "hidden" and layer.trainable is False
    assert [p.name for p in layer.parameters] == ["hidden.W", "hidden.b"]
    assert dense('dense 4 name="quoted_name"').name == "quoted_name"
    assert dense("dense 4 trainable=true").trainable is True


def test_arguments_may_be_separated_by_commas_and_newlines():
    layer = dense("dense 4, relu,\n    init=zeros,\n    name=h")
    assert (layer.units, layer.activation.name, layer.kernel_init.kind, layer.name) == (4, "relu", "zeros", "h")


def test_regularizers_on_a_layer():
    layer = dense("dense 4 relu l2(0.001)")
    assert layer.regularizers == (ir.Regularizer("l2", 0.001),)
    # A penalty is no positional argument: it may follow the keyword arguments.
    assert dense("dense 4 relu init=zeros l2(0.001) name=h").regularizers == (ir.Regularizer("l2", 0.001),)
    layer = dense("dense 4 l1(1e-4) l2(rate=0.01)")
    assert layer.regularizers == (ir.Regularizer("l1", 1e-4), ir.Regularizer("l2", 0.01))


def test_model_wide_regularizer_applies_to_every_dense_layer():
    model = model_of("regularizer l2(0.001)\ninput 2\ndense 8 relu\ndropout 0.5\ndense 1")
    dense_layers = [layer for layer in model.layers if isinstance(layer, ir.Dense)]
    assert [layer.regularizers for layer in dense_layers] == [(ir.Regularizer("l2", 0.001),)] * 2
    model = model_of("input 2\nregularizer [l1(0.1), l2(0.2)]\ndense 1")
    assert model.layers[0].regularizers == (ir.Regularizer("l1", 0.1), ir.Regularizer("l2", 0.2))


def test_a_layers_own_penalty_replaces_the_model_wide_one():
    model = model_of("input 2\nregularizer l2(0.001)\ndense 8 relu l1(0.5)\ndense 1")
    assert model.layers[0].regularizers == (ir.Regularizer("l1", 0.5),)
    assert model.layers[1].regularizers == (ir.Regularizer("l2", 0.001),)


def test_widths_are_inferred_through_the_layers():
    model = model_of("input 3\ndense 16 relu\ndropout 0.1\ndense 8 tanh\nactivation relu\ndense 2 softmax")
    assert [(layer.in_features, layer.out_features) for layer in model.layers] == [
        (3, 16), (16, 16), (16, 8), (8, 8), (8, 2)
    ]
    assert [p.shape for p in model.parameters] == [(16, 3), (16,), (8, 16), (8,), (2, 8), (2,)]


# --- numbers, strings, lists, comments ------------------------------------------


@pytest.mark.parametrize(
    "text,value",
    [
        ("3", 3.0),
        ("0.03", 0.03),
        ("1e-3", 0.001),
        ("-2", -2.0),
        ("+2", 2.0),
        (".5", 0.5),
        ("1E+3", 1000.0),
        ("2.", 2.0),
        ("-.25", -0.25),
        ("5e0", 5.0),
    ],
)
def test_number_forms(text, value):
    layer = dense(f"dense 1 init=constant({text})")
    assert layer.kernel_init.value == value
    assert isinstance(layer.kernel_init.value, float)


@pytest.mark.parametrize("text,value", [("3", 3), ("+3", 3), ("0012", 12)])
def test_integer_forms(text, value):
    assert dense(f"dense {text}").units == value


def test_nested_lists_and_trailing_commas():
    layer = dense("dense 2 weights=[[1, 2.5, -3,], [4e-1, .5, +6]] bias=[0, -1,]", input_width=3)
    assert layer.kernel_init.values == ((1.0, 2.5, -3.0), (0.4, 0.5, 6.0))
    assert layer.bias_init.values == (0.0, -1.0)


def test_comments_are_ignored_everywhere():
    spec = (
        "# leading\nmodel # after the keyword\n{ # after the brace\n"
        "  input 2 # after a statement\n  # own line\n  dense 1 # x\n} # after the block\n# at the end"
    )
    assert nndsl.parse(spec) == nndsl.parse("model { input 2  dense 1 }")


def test_statements_need_no_newlines():
    one_line = (
        "data xor model net { input 2 dense 8 relu dense 1 sigmoid } loss binary_crossentropy "
        "train { optimizer sgd(lr=0.1) batch 4 epochs 2 }"
    )
    one_per_line = (
        "data xor\nmodel net {\ninput 2\ndense 8 relu\ndense 1 sigmoid\n}\nloss binary_crossentropy\n"
        "train {\noptimizer sgd(lr=0.1)\nbatch 4\nepochs 2\n}\n"
    )
    assert nndsl.parse(one_line) == nndsl.parse(one_per_line)


def test_crlf_line_endings_and_tabs():
    assert nndsl.parse("model {\r\n\tinput 2\r\n\tdense 1\r\n}\r\n") == nndsl.parse("model { input 2 dense 1 }")


def test_carriage_return_line_endings_end_lines():
    # Classic Mac OS line ends: each '\r' ends a line, so spans count lines as an editor does.
    program = nndsl.parse("model {\r    input 2\r    dense 4 relu\r    dense 1\r}\r")
    assert program == nndsl.parse("model {\n    input 2\n    dense 4 relu\n    dense 1\n}\n")
    assert [(layer.span.line, layer.span.column) for layer in program.model.layers] == [(3, 5), (4, 5)]


def test_blocks_may_come_in_any_order():
    ordered = nndsl.parse(PERCEPTRON)
    shuffled = nndsl.parse(
        "train { optimizer sgd(lr=0.01)  batch all  epochs 100 }\nloss mse\n"
        "model { input 2  dense 1 }\ndata plane(samples=1200, noise=0.1)"
    )
    assert shuffled == ordered


# --- data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "generator,kind,classes",
    [
        ("xor", "xor", 2),
        ("checkerboard", "xor", 2),  # the lecture's name for xor
        ("circle", "circle", 2),
        ("gauss", "gauss", 2),
        ("spiral", "spiral", 2),
        ("plane", "plane", None),
        ("multigauss", "multigauss", None),
    ],
)
def test_playground_data_sets(generator, kind, classes):
    data = nndsl.parse(f"data {generator}(samples=300, noise=0.25, seed=3)\nmodel {{ dense 1 }}").data
    assert data.source == ir.PlaygroundData(kind, samples=300, noise=0.25, classes=classes)
    assert data.seed == 3
    assert nndsl.parse(f"data {generator}\nmodel {{ dense 1 }}").data.source.samples == catalog.PLAYGROUND[generator][1]


def test_spiral_with_three_classes():
    program = nndsl.parse(
        "data spiral(classes=3) model { dense 3 softmax } loss categorical_crossentropy"
    )
    assert program.data.source.classes == 3
    assert program.model.in_features == 2  # from the default features x1, x2
    assert program.task == "multiclass"


def test_every_playground_feature_and_inferred_input_width():
    data = nndsl.parse(
        "data xor { features x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2) }\nmodel { dense 1 sigmoid }"
    )
    assert [f.name for f in data.data.features] == list(catalog.PLAYGROUND_FEATURES)
    assert data.model.in_features == 7
    assert data.model.layers[0].in_features == 7


def test_input_may_be_given_and_agree_with_features():
    program = nndsl.parse("data circle { features x1*x2, sin(x2) }\nmodel { input 2  dense 1 sigmoid }")
    assert program.model.in_features == 2
    assert [f.name for f in program.data.features] == ["x1*x2", "sin(x2)"]


def test_split_statement():
    assert nndsl.parse("data xor { split 0.8 } model { dense 1 }").data.split == 0.8
    assert nndsl.parse("data xor { split .3 } model { dense 1 }").data.split == 0.3


def test_csv_data_with_named_and_quoted_features():
    program = nndsl.parse(
        'data csv("data/income.csv", target=income) {\n'
        '    features grade, "age in years", participation\n    split 0.75\n}\n'
        "model { dense 1 }"
    )
    assert program.data.source == ir.CsvData("data/income.csv", "income")
    assert [f.name for f in program.data.features] == ["grade", "age in years", "participation"]
    assert program.data.split == 0.75
    assert program.model.in_features == 3


def test_csv_target_may_be_a_string_and_path_use_single_quotes():
    program = nndsl.parse("data csv('a.csv', target=\"net income\", seed=4)\nmodel { input 5  dense 1 }")
    assert program.data.source == ir.CsvData("a.csv", "net income")
    assert program.data.seed == 4
    assert program.data.features is None  # every column but the target
    assert program.data.split == catalog.DEFAULT_SPLIT["file"]


def test_npz_data():
    program = nndsl.parse('data npz("arrays/train.npz")\nmodel { input 4  dense 1 }')
    assert program.data.source == ir.NpzData("arrays/train.npz", "x", "y")
    program = nndsl.parse('data npz("d.npz", x=inputs, y="labels")\nmodel { input 4  dense 1 }')
    assert program.data.source == ir.NpzData("d.npz", "inputs", "labels")


def test_string_escapes():
    program = nndsl.parse('data csv("a.csv", target="say \\"hi\\" \\\\ \\\'") model { input 1 dense 1 }')
    assert program.data.source.target == 'say "hi" \\ \''
    program = nndsl.parse("data csv('a.csv', target='it\\'s') model { input 1 dense 1 }")
    assert program.data.source.target == "it's"


# --- loss and training --------------------------------------------------------------


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_regression_losses(loss):
    program = nndsl.parse(f"data plane\nmodel {{ dense 1 }}\nloss {loss}")
    assert program.loss == ir.Loss(loss)
    assert program.task == "regression"


def test_sgd_arguments_by_position_and_by_keyword():
    assert train_of("optimizer sgd(0.1, 0.9, true)\nepochs 1").optimizer == ir.SGD(0.1, 0.9, True)
    assert train_of("optimizer sgd(lr=0.1, momentum=0.5, nesterov=false)\nepochs 1").optimizer == ir.SGD(
        0.1, 0.5, False
    )
    assert train_of("optimizer sgd\nepochs 1").optimizer == ir.SGD()


def test_adam_with_keras_aliases():
    optimizer = train_of("optimizer adam(learning_rate=1e-3, beta_1=0.8, beta_2=0.99, epsilon=1e-8)\nepochs 1").optimizer
    assert optimizer == ir.Adam(lr=0.001, beta1=0.8, beta2=0.99, eps=1e-8)
    optimizer = train_of("optimizer adam(lr=0.01, beta1=0.5, beta2=0.9, eps=1e-6)\nepochs 1").optimizer
    assert optimizer == ir.Adam(lr=0.01, beta1=0.5, beta2=0.9, eps=1e-6)
    assert train_of("optimizer adam\nepochs 1").optimizer == ir.Adam()


def test_rmsprop():
    optimizer = train_of("optimizer rmsprop(lr=0.003, rho=0.8, epsilon=1e-6)\nepochs 1").optimizer
    assert optimizer == ir.RMSprop(lr=0.003, rho=0.8, eps=1e-6)
    assert optimizer.kind == "rmsprop"


def test_training_statements():
    train = train_of(
        "optimizer sgd(lr=0.1)\nbatch all\nepochs 7\nmetrics accuracy, mse, mae\nseed 42\n"
        "shuffle false\ncheckpoint every=5"
    )
    assert train == ir.Train(
        optimizer=ir.SGD(0.1),
        batch=None,
        epochs=7,
        metrics=("accuracy", "mse", "mae"),
        seed=42,
        shuffle=False,
        checkpoint_every=5,
    )


def test_training_defaults():
    train = train_of("optimizer sgd(lr=0.1)\nepochs 3")
    assert train.batch == catalog.DEFAULT_BATCH
    assert (train.metrics, train.seed, train.shuffle, train.checkpoint_every) == ((), 0, True, None)


def test_data_seed_defaults_to_the_training_seed():
    program = nndsl.parse(
        "data xor\nmodel { dense 1 sigmoid }\nloss binary_crossentropy\ntrain { optimizer sgd epochs 1 seed 9 }"
    )
    assert (program.seed, program.data_seed) == (9, 9)
    program = nndsl.parse(
        "data xor(seed=4)\nmodel { dense 1 sigmoid }\nloss binary_crossentropy\ntrain { optimizer sgd epochs 1 seed 9 }"
    )
    assert (program.seed, program.data_seed) == (9, 4)


def test_spans_point_into_the_source():
    program = nndsl.parse(CHECKERBOARD)
    hidden = program.model.layers[0]
    assert (hidden.span.line, hidden.span.column) == (9, 5)
    assert (hidden.activation.span.line, hidden.activation.span.column) == (9, 13)
    assert (program.loss.span.line, program.loss.span.column) == (13, 1)
    assert (program.train.optimizer.span.line, program.train.optimizer.span.column) == (16, 15)


def test_ir_serialises_to_json():
    import json

    data = json.loads(nndsl.to_json(nndsl.parse(CHECKERBOARD)))
    assert data["node"] == "Program"
    assert data["model"]["layers"][0]["units"] == 8
    assert data["model"]["layers"][0]["parameters"][0] == {
        "node": "Parameter", "name": "dense_1.W", "shape": [8, 2], "trainable": True
    }
    assert data["train"]["optimizer"]["lr"] == 0.03


def test_the_grammars_statement_keywords_are_the_catalogs():
    """grammar/nndsl.lark lists the keywords that start a statement; catalog.BLOCK_STATEMENTS is where
    the checker looks them up. One list each, kept equal here."""
    import re

    from nndsl import catalog
    from nndsl.resources import resource_dir

    grammar = (resource_dir("grammar") / "nndsl.lark").read_text(encoding="utf-8")
    head = grammar.split("!head:", 1)[1].split("\n\n", 1)[0]
    keywords = set(re.findall(r'"(\w+)"', head))
    # features and residual have rules of their own (a list of features, a block)
    assert keywords == {w for words in catalog.BLOCK_STATEMENTS.values() for w in words} - {"features", "residual"}
    assert 'RESIDUAL: "residual"' in grammar
