"""Models as graphs (residual blocks, from=, add, concat): the checker's diagnostics, summary and
fmt, the NumPy network's backward pass against finite differences in float64, and torch and
TensorFlow against NumPy (the same initial weights, outputs, gradients and first losses)."""

from __future__ import annotations

import json
import subprocess
import sys

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
