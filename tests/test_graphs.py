"""Models as graphs (residual blocks, from=, add, concat): the checker's diagnostics, summary and
fmt, the NumPy network's backward pass against finite differences in float64, and torch and
TensorFlow against NumPy (the same initial weights, outputs, gradients and first losses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.codegen import generate, load_module
from tests.conftest import require_backend
from tests.test_image_backends import agree, first_losses
from tests.test_numpy_backend import STEP, float64_module

SEED = 5

#: name -> (input, data, loss, model body): every graph form, on vectors and on images
CASES = {
    # y = x + f(x), the identity shortcut; h1 feeds dense_2 and the add (a gradient summed over two paths)
    "residual_identity": ("2", "spiral(samples=64, seed=2)", "binary_crossentropy",
                          "dense 6 relu\nresidual {\n    dense 6 relu\n    dense 6\n}\nactivation relu\ndense 1 sigmoid"),
    # a dense shortcut where the widths differ; a residual inside a residual
    "residual_shortcut_nested": ("2", "circle(samples=64, seed=3)", "binary_crossentropy",
                                 "dense 5 tanh\nresidual {\n    dense 4 elu\n    residual {\n        dense 4 tanh\n"
                                 "    }\n} shortcut {\n    dense 4\n}\ndense 1 sigmoid"),
    # two towers from the input, joined side by side, dropout after the join
    "two_towers_concat": ("2", "xor(samples=64, seed=4)", "binary_crossentropy",
                          "dense 6 relu name=a\ndense 5 tanh from=x name=b\nconcat a, b\ndropout 0.25\ndense 1 sigmoid"),
    # three operands; the input itself in an add (its gradient is not needed: nothing trainable below)
    "add_three_with_input": ("2", "gauss(samples=64, seed=5)", "mse",
                             "dense 2 tanh name=a\ndense 2 sigmoid from=x name=b\nadd a, b, x\ndense 3 relu\n"
                             "dense 1"),
    # a frozen tower: its gradient is not needed, the other's is
    "frozen_tower": ("2", "xor(samples=64, seed=6)", "binary_crossentropy",
                     "dense 4 relu trainable=false name=a\ndense 4 relu from=x name=b\nadd a, b\ndense 1 sigmoid"),
}

IMAGE_CASES = {
    # the block: a strided residual with a 1x1 conv shortcut, then global pooling
    "resnet_block": ("6x6x1", "conv2d 4 kernel=3 padding=same relu\nresidual {\n"
                              "    conv2d 6 kernel=3 stride=2 padding=same relu\n    conv2d 6 kernel=3 padding=same\n"
                              "} shortcut {\n    conv2d 6 kernel=1 stride=2\n}\nactivation relu\nglobal_avgpool\n"
                              "dense 3 softmax"),
    # channels joined: a conv tower beside a pooled one, batch norm after the join
    "concat_channels_batchnorm": ("6x6x2", "conv2d 3 kernel=3 padding=same relu name=a\n"
                                           "maxpool 3 stride=1 padding=same from=x name=b\nconcat a, b\n"
                                           "batchnorm momentum=0.9\nflatten\ndense 3 softmax"),
    # conv → relu → maxpool with the relu moved after the pool (NumPy), the pool's output read twice
    "relu_after_pool_into_a_block": ("8x8x1", "conv2d 4 kernel=3 padding=same relu\nmaxpool 2\nresidual {\n"
                                              "    conv2d 4 kernel=3 padding=same relu\n}\nflatten\ndense 3 softmax"),
    # convs laid out pool-major for the max pool after them (NumPy): a relu conv whose 9x9 map loses a
    # row and a column to the pool, a linear one; then a conv whose pool overlaps (stride 1): not pool-major
    "pool_major_convs": ("11x11x2", "conv2d 3 kernel=3 relu\nmaxpool 2\nconv2d 4 kernel=2 padding=same\n"
                                    "maxpool 2\nconv2d 3 kernel=1 relu\nmaxpool 2 stride=1\nflatten\n"
                                    "dense 3 softmax"),
    # a conv's relu read by a max pool and by another branch: there the relu stays with the conv
    "relu_read_by_pool_and_branch": ("8x8x1", "conv2d 4 kernel=3 padding=same relu name=c\nmaxpool 2 name=p\n"
                                              "avgpool 2 from=c name=q\nadd p, q\nflatten\ndense 3 softmax"),
}

VECTOR_SPEC = """data {data}
model {{
    input {input}
{layers}
}}
loss {loss}
train {{ optimizer sgd(lr=0.05, momentum=0.9)  batch 16  epochs 2 }}
"""

IMAGE_SPEC = """data npz("images.npz", seed=3) {{ split 0.75 }}
model {{
    input {input}
{layers}
}}
loss categorical_crossentropy
train {{ optimizer sgd(lr=0.05, momentum=0.9)  batch 16  epochs 2 }}
"""


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


def program(case: str) -> nndsl.Program:
    if case in IMAGE_CASES:
        shape, layers = IMAGE_CASES[case]
        return nndsl.parse(IMAGE_SPEC.format(input=shape, layers=indent(layers)), filename="graph.nn")
    shape, data, loss, layers = CASES[case]
    return nndsl.parse(VECTOR_SPEC.format(input=shape, data=data, loss=loss, layers=indent(layers)),
                       filename="graph.nn")


def image_data(module, case: str):
    shape = tuple(int(n) for n in IMAGE_CASES[case][0].split("x"))
    rng = np.random.default_rng(0)
    x = rng.random((64, *shape), dtype=np.float32)
    y = rng.integers(0, 3, 64)
    return module.Dataset(x[:48], y[:48], x[48:], y[48:])


def trainer(case: str, backend: str, source: str | None = None):
    if backend != "numpy":
        require_backend(backend)
    module = load_module(source or generate(program(case), backend=backend, target="cpu"))
    data = image_data(module, case) if case in IMAGE_CASES else module.load_data()
    if backend == "numpy":
        return module.Trainer(module.Network(module.initial_weights(SEED)), data, SEED)
    if backend == "torch":
        import torch

        return module.Trainer(data, SEED, torch.device("cpu"))
    strategy = module.distribution_strategy("cpu")
    with strategy.scope():
        model, loss_model = module.build_model()
    trainer = module.Trainer(model, loss_model, data, strategy, SEED)
    trainer.set_weights(module.initial_weights(SEED))
    return trainer


ALL_CASES = [*CASES, *IMAGE_CASES]


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
@pytest.mark.parametrize("case", ALL_CASES)
def test_graph_models_agree_with_numpy(case, backend):
    reference, model = trainer(case, "numpy"), trainer(case, backend)
    expected_weights, weights = reference.get_weights(), model.get_weights()
    assert sorted(weights) == sorted(expected_weights)
    for name, value in expected_weights.items():  # the same draws, in the IR's layout
        np.testing.assert_array_equal(weights[name], value, err_msg=name)
    x = reference.data.x_val
    agree(model.predict(x), reference.predict(x), "predict(x_val)")
    xb, yb = reference.data.x_train[:16], reference.data.y_train[:16]
    expected_loss, expected = reference.loss_and_gradients(xb, yb)
    loss, gradients = model.loss_and_gradients(xb, yb)
    agree(np.float64(loss), np.float64(expected_loss), "loss")
    assert sorted(gradients) == sorted(expected)
    for name in expected:
        agree(gradients[name], expected[name], f"∂L/∂{name}")
    agree(first_losses(model), first_losses(reference), "losses of the first 9 steps")
    agree(model.evaluate()["loss"], reference.evaluate()["loss"], "val_loss after them")


@pytest.mark.parametrize("case", ALL_CASES)
def test_the_numpy_graph_backward_is_its_forwards_derivative_in_float64(case):
    """Every parameter's gradient against a central difference of the float64 twin of the generated
    program (tests/test_numpy_backend.py): where an output feeds several layers, a missing or
    doubled path would show as a relative error far above 1e-6."""
    source = generate(program(case), backend="numpy")
    model = trainer(case, "numpy", source=source.replace("np.float32", "np.float64"))
    float64_module(source)  # asserts the replacement left no float32 behind
    xb = model.data.x_train[:8].astype(np.float64)
    yb = model.data.y_train[:8]
    yb = yb if yb.dtype.kind == "i" else yb.astype(np.float64)
    rng = getattr(model, "dropout_rng", None)
    state = rng.bit_generator.state if rng is not None else None

    def loss_and_gradients():
        if rng is not None:
            rng.bit_generator.state = state  # the same dropout masks every time
        return model.loss_and_gradients(xb, yb)

    _, gradients = loss_and_gradients()
    frozen = {p.name for p in program(case).model.parameters if not p.trainable}
    assert set(gradients) == {p.name for p in program(case).model.parameters} - frozen - {
        n for n in model.get_weights() if n.endswith((".mean", ".var"))}
    for name, analytic in gradients.items():
        value = model.model.params[name]
        assert analytic.dtype == np.float64
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            old = value[index]
            value[index] = old + STEP
            up = loss_and_gradients()[0]
            value[index] = old - STEP
            down = loss_and_gradients()[0]
            value[index] = old
            numeric[index] = (up - down) / (2 * STEP)
        error = np.abs(analytic - numeric).max() / max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-12)
        assert error < 1e-6, f"{name}: relative error {error:.2e}"


# --- the checker, summary and fmt ---------------------------------------------------------------------


def errors(body: str) -> list[str]:
    """`line:col: message` of each error in a model block of `body`, lines counted in `body`."""
    with pytest.raises(nndsl.SpecError) as caught:
        nndsl.parse("model {\n" + body + "\n}\n")
    return [f"{d.span.line - 1}:{d.span.column}: {d.message}" for d in caught.value.diagnostics]  # lines of body


@pytest.mark.parametrize("body,expected", [
    ("input 2\ndense 4 relu\nresidual {\n    dense 3\n}\ndense 1",
     ["3:1: residual: the block gives 3 but its input is 4, and y = x + f(x) adds them; add a shortcut that "
      "gives 3, e.g. 'shortcut { dense 3 }'"]),
    ("input 8x8x1\nconv2d 2 kernel=3 padding=same\nresidual {\n    conv2d 4 kernel=3 stride=2 padding=same\n}\n"
     "flatten\ndense 1",
     ["3:1: residual: the block gives 4x4x4 but its input is 8x8x2, and y = x + f(x) adds them; add a shortcut "
      "that gives 4x4x4, e.g. 'shortcut { conv2d 4 kernel=1 stride=2 }'"]),
    ("input 2\ndense 4\nresidual {\n    dense 4\n} shortcut {\n    dense 3\n}\ndense 1",
     ["5:12: residual: the block gives 4 but its shortcut gives 3; they are added, so they must agree"]),
    ("input 2\ndense 4 name=a\ndense 3 name=b\nadd a, b\ndense 1",
     ["4:8: add: 'a' gives 4 but 'b' gives 3; add sums element by element, so the shapes must agree (concat "
      "joins different widths)"]),
    ("input 4x4x1\nconv2d 2 kernel=3 name=a\nconv2d 2 kernel=1 from=x name=b\nconcat a, b\nflatten\ndense 1",
     ["4:11: concat joins along the last axis (features, or an image's channels): 'a' gives 2x2x2 but 'b' gives "
      "4x4x2, and they must agree in height and width"]),
    ("input 2\ndense 4 name=tower\ndense 3 from=towr\ndense 1",
     ["3:14: from=towr: no layer or input is called 'towr' (did you mean 'tower'?); the names above are "
      "x, tower"]),
    ("input 2\ndense 4 from=c name=a\ndense 1 name=c",
     ["2:14: from=c: 'c' comes later, at 4:14; a layer reads only layers above it (reading one below "
      "would make a cycle)"]),
    ("input 2\ndense 4 from=a name=a\ndense 1",
     ["2:14: from=a: 'a' is this layer's own name; a layer reads only layers above it (reading itself "
      "would make a cycle)"]),
    ("input 2\ndense 4 name=a\ndense 3 from=x\ndense 1",
     ["2:1: the output of 'a' is never read: the model's output is its last layer, 'dense_3'; join 'a' in "
      "with 'add' or 'concat', read it with from=, or remove it"]),
    ("input 2\ndense 4\nadd dense_1\ndense 1",
     ["3:1: add needs at least two layers to join, e.g. 'add a, b' (the names of two layers above, or the "
      "input's)"]),
    ("input 2 name=x\ndense 4 name=x\ndense 1", ["2:1: duplicate layer name 'x' (also the model's input)"]),
    ("input 2\ndense 4\nresidual {\n}\ndense 1",
     ["3:10: residual block is empty; put the layers of f in y = x + f(x) in it, e.g. 'residual { dense 8 relu  "
      "dense 8 }'"]),
    ("input 2\nresidual {\n    input 3\n    dense 2\n}\ndense 1",
     ["3:5: 'input' cannot stand inside a residual block, which holds layers; put it at the top of the model block"]),
    ("input 2\nresidual {\n    epochs 3\n    dense 2\n}\ndense 1",
     ["3:5: 'epochs' does not belong in a model block; it belongs in the train block (model takes input, dense, "
      "conv2d, maxpool, avgpool, global_avgpool, global_maxpool, flatten, batchnorm, activation, dropout, add, concat, "
      "residual, regularizer)"]),
    ("input 2\ndense 2 name=a\nconcat a, 3\ndense 1",
     ["3:11: concat reads layers by name, e.g. 'concat a, b' (the names of two layers above, or the input's); "
      "received 3"]),
    ("input 2\ndense 2\nadd x, dense_1 from=x\ndense 1",
     ["3:16: add names the layers it reads itself ('add a, b'); from= is for the other layers"]),
])
def test_graph_mistakes_are_reported_at_the_statement_with_a_hint(body, expected):
    assert errors(body) == expected


def test_a_layer_named_x_leaves_the_input_unnamed_and_an_explicit_name_works():
    model = nndsl.parse("model { input 2  dense 3 name=x  dense 1 }").model
    assert model.input_name == "input" and model.is_stack
    model = nndsl.parse("model { input 2 name=feats  dense 3 name=x  dense 3 from=feats  add x, dense_2 "
                        "dense 1 }").model
    assert [layer.inputs for layer in model.layers] == [("feats",), ("feats",), ("x", "dense_2"),
                                                         ("add_1",)]


TWO_TOWERS = """model two_towers {
    input 4                 name=x
    dense 16 relu           name=a
    dense 16 tanh  from=x   name=b  # from= reads an earlier layer's output instead of the one above
    concat a, b                     # also: add a, b (same shapes)
    dense 1 sigmoid
}
"""


def test_summary_shows_what_each_layer_reads_with_keras_totals():
    program = nndsl.parse(TWO_TOWERS)
    table = str(nndsl.summary(program))
    assert "Connected to" in table
    rows = {line.split()[0]: line for line in table.splitlines()[3:8]}
    assert rows["x"].split()[-1] == "-"
    assert "x[0][0]" in rows["b"] and "a[0][0], b[0][0]" in rows["concat_1"]
    data = nndsl.summary(program).to_dict()
    assert [layer["inputs"] for layer in data["layers"]] == [["x"], ["x"], ["a", "b"], ["concat_1"]]
    assert data["total_params"] == 2 * (4 + 1) * 16 + 33
    # a stack's table stays as it was: no column of edges
    assert "Connected to" not in str(nndsl.summary(nndsl.parse("model { input 2 dense 1 }")))


def test_summary_json_from_the_command_line_carries_the_edges(tmp_path):
    spec = tmp_path / "towers.nn"
    spec.write_text(TWO_TOWERS, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "nndsl", "summary", str(spec), "--json"],
                            capture_output=True, text=True, check=True)
    layers = json.loads(result.stdout)["layers"]
    assert {layer["name"]: layer["inputs"] for layer in layers}["concat_1"] == ["a", "b"]


def test_keras_counts_the_same_parameters_for_every_graph_case():
    require_backend("tensorflow")
    for case in ALL_CASES:
        prog = program(case)
        module = load_module(generate(prog, backend="tensorflow", target="cpu"))
        model, _ = module.build_model()
        assert model.count_params() == nndsl.summary(prog).total_params, case


RESNET = """model resnet_block {
    input 8x8x1
    conv2d 16 kernel=3 padding=same relu
    residual {  # y = x + f(x)
        conv2d 32 kernel=3 stride=2 padding=same relu

        # the second conv
        conv2d 32 kernel=3 padding=same
    } shortcut {                    # when the shapes differ
        conv2d 32 kernel=1 stride=2
        # after the shortcut's layers
    }
    activation relu
    global_avgpool
    dense 10 softmax
}
"""


def test_fmt_keeps_blocks_names_and_the_comments_inside_them():
    formatted = nndsl.format(RESNET)
    assert nndsl.format(formatted) == formatted
    assert nndsl.parse(formatted) == nndsl.parse(RESNET)
    assert formatted.splitlines()[3:11] == [
        "    residual {  # y = x + f(x)",
        "        conv2d 32 relu kernel=3 stride=2 padding=same",
        "",
        "        # the second conv",
        "        conv2d 32 kernel=3 padding=same",
        "    } shortcut {  # when the shapes differ",
        "        conv2d 32 kernel=1 stride=2",
        "        # after the shortcut's layers",
    ]
    towers = nndsl.format(TWO_TOWERS)
    assert "concat a, b  # also: add a, b (same shapes)" in towers and "dense 16 tanh from=x name=b" in towers
    # the program printed from the IR writes the explicit form, which checks to the same IR
    printed = nndsl.format(nndsl.parse(RESNET))
    assert "add conv2d_4, conv2d_3" in printed and nndsl.parse(printed) == nndsl.parse(RESNET)


EXAMPLE_GRAPHS = ["spiral_residual", "digits_resnet", "two_towers"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def numpy_histories():
    return {name: nndsl.build(nndsl.load(str(ROOT / "specs" / f"{name}.nn"))).fit(epochs=3) for name in EXAMPLE_GRAPHS}


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
@pytest.mark.parametrize("name", EXAMPLE_GRAPHS)
def test_example_graphs_train_the_same_three_epochs_on_every_backend(numpy_histories, name, backend):
    """Every example graph's loss and val_loss for 3 epochs within 1e-3 relative of NumPy's, as
    the example CNNs (tests/test_image_backends.py)."""
    require_backend(backend)
    history = nndsl.build(nndsl.load(str(ROOT / "specs" / f"{name}.nn")), backend=backend, target="cpu").fit(epochs=3)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(history[key], numpy_histories[name][key], rtol=1e-3, err_msg=key)


def test_the_graph_picture_has_a_box_per_layer_and_an_arrow_per_edge():
    from nndsl import plots

    program = nndsl.load(ROOT / "specs" / "digits_resnet.nn")
    figure = plots.draw_graph(program)
    axis = figure.axes[0]
    edges = sum(len(program.model.sources(layer)) for layer in program.model.layers)
    assert len([p for p in axis.patches if p.get_gid() == plots.GRAPH_EDGE]) == edges == len(program.model.layers) + 2
    assert [text.get_text().split()[0] for text in axis.texts] == ["x", *(layer.name for layer in program.model.layers)]


def test_training_a_graph_writes_its_picture_and_a_stack_does_not(tmp_path):
    from nndsl.cli import main

    out = tmp_path / "towers"
    assert main(["train", str(ROOT / "specs" / "two_towers.nn"), "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    assert (out / "graph.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (out / "decision_boundary.png").exists()
    out = tmp_path / "stack"
    assert main(["train", str(ROOT / "specs" / "circle.nn"), "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    assert not (out / "graph.png").exists()
