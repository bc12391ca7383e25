"""Image models on every backend against the NumPy reference: the same initial weights, outputs,
first-batch gradients and losses, to float32 rounding (rtol 1e-4, as the dense models)."""

from __future__ import annotations

import numpy as np
import pytest

import nndsl
from nndsl.codegen import generate, load_module
from tests.conftest import require_backend

RTOL = 1e-4
SEED = 5

SPEC = """data npz("images.npz", seed=3) {{ split 0.75 }}

model {{
    input {shape}
{layers}
}}

loss categorical_crossentropy

train {{
    optimizer sgd(lr=0.05, momentum=0.9)
    batch 16
    epochs 2
}}
"""

CASES = {
    "conv_pool_dense": ("8x8x1", "conv2d 4 kernel=3 padding=same relu\nmaxpool 2\nflatten\ndense 3 softmax"),
    "stride2_even_same": ("7x7x2", "conv2d 5 kernel=2 stride=2 padding=same tanh\nconv2d 3 kernel=4x3 padding=same "
                                   "elu\nglobal_avgpool\ndense 3 softmax"),
    "pools_same_dropout": ("9x8x3", "conv2d 4 kernel=3 sigmoid l2(0.01)\nmaxpool 2 stride=1 padding=same\n"
                                    "avgpool 3 stride=2 padding=same\ndropout 0.3\nglobal_maxpool\ndense 6 relu\n"
                                    "dense 3 softmax"),
    "frozen_first_conv": ("6x6x1", "conv2d 3 kernel=3 trainable=false relu\navgpool 2\nflatten\ndense 3 softmax"),
}


def program(case: str) -> nndsl.Program:
    shape, layers = CASES[case]
    body = "\n".join("    " + line for line in layers.split("\n"))
    return nndsl.parse(SPEC.format(shape=shape, layers=body), filename="images.nn")


def data(module, case: str):
    """A small image set, drawn once per case: 48 training and 16 validation images, 3 classes."""
    shape = tuple(int(n) for n in CASES[case][0].split("x"))
    rng = np.random.default_rng(0)
    x = rng.random((64, *shape), dtype=np.float32)
    y = rng.integers(0, 3, 64)
    return module.Dataset(x[:48], y[:48], x[48:], y[48:])


def trainer(case: str, backend: str):
    if backend != "numpy":
        require_backend(backend)
    module = load_module(generate(program(case), backend=backend, target="cpu"))
    if backend == "numpy":
        return module.Trainer(module.Network(module.initial_weights(SEED)), data(module, case), SEED)
    if backend == "torch":
        import torch

        return module.Trainer(data(module, case), SEED, torch.device("cpu"))
    strategy = module.distribution_strategy("cpu")
    with strategy.scope():
        model, loss_model = module.build_model()
    trainer = module.Trainer(model, loss_model, data(module, case), strategy, SEED)
    trainer.set_weights(module.initial_weights(SEED))
    return trainer


def agree(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, NumPy has {expected.shape}"
    atol = 1e-6 * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=atol, err_msg=what)


def first_losses(model, steps: int = 9) -> np.ndarray:
    losses: list[float] = []
    while len(losses) < steps:
        model.train_epoch(on_batch=lambda done, total, loss: losses.append(float(loss)))
    return np.array(losses[:steps])


BACKENDS = ["torch", "tensorflow"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_image_models_agree_with_numpy(case, backend):
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


def test_the_numpy_network_backward_is_its_forwards_derivative():
    """A central finite difference of the generated network's loss, in float64 arithmetic where
    the network allows it: each parameter's gradient matches within 2 % (float32 forward)."""
    model = trainer("stride2_even_same", "numpy")
    xb, yb = model.data.x_train[:8], model.data.y_train[:8]
    _, gradients = model.loss_and_gradients(xb, yb)
    weights = model.get_weights()
    rng = np.random.default_rng(1)
    for name, value in weights.items():
        for index in map(tuple, rng.integers(0, value.shape, size=(3, value.ndim))):
            h = 1e-2
            losses = []
            for step in (h, -h):
                changed = {k: v.copy() for k, v in weights.items()}
                changed[name][index] += step
                model.set_weights(changed)
                losses.append(model.loss_and_gradients(xb, yb)[0])
            model.set_weights(weights)
            numeric = (losses[0] - losses[1]) / (2 * h)
            assert gradients[name][index] == pytest.approx(numeric, rel=2e-2, abs=2e-4), (name, index)
