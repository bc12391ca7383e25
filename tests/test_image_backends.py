"""Image models on every backend against the NumPy reference: the same initial weights, outputs,
first-batch gradients and losses, to float32 rounding (rtol 1e-4, as the dense models)."""

from __future__ import annotations

from pathlib import Path

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
    # batch norm in both modes: the losses use the batch's statistics, val_loss the running ones
    # (momentum 0.9 moves them far in 9 steps, so Keras' and torch's conventions are both tested)
    "batchnorm_conv_and_dense": ("8x8x2", "conv2d 4 kernel=3 padding=same\nbatchnorm momentum=0.9\nactivation relu\n"
                                          "maxpool 2\nflatten\ndense 6\nbatchnorm momentum=0.8 eps=0.01\n"
                                          "activation relu\ndropout 0.2\ndense 3 softmax"),
    "batchnorm_after_tanh_stride2": ("7x7x1", "conv2d 4 kernel=2 stride=2 padding=same tanh\nbatchnorm\n"
                                              "global_avgpool\ndense 3 softmax"),
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
    # an element far smaller than its array's largest (a sum that cancels, as in batch norm's
    # backward, Σ dout − x̂·Σ dout·x̂) carries that largest one's rounding: 1e-5 of the array's scale
    atol = 1e-5 * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
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
    expected_weights, weights = reference.get_weights(), model.get_weights()
    for name, value in expected_weights.items():  # batch norm's running statistics among them
        agree(weights[name], value, f"{name} after 9 steps")


@pytest.mark.parametrize("case", ["stride2_even_same", "batchnorm_after_tanh_stride2"])
def test_the_numpy_network_backward_is_its_forwards_derivative(case):
    """A central finite difference of the generated network's loss, in float64 arithmetic where
    the network allows it: each trainable parameter's gradient matches within 2 % (float32
    forward). Batch norm's running statistics are state, with no gradient."""
    model = trainer(case, "numpy")
    xb, yb = model.data.x_train[:8], model.data.y_train[:8]
    _, gradients = model.loss_and_gradients(xb, yb)
    weights = model.get_weights()
    rng = np.random.default_rng(1)
    assert sorted(gradients) == sorted(name for name in weights if not name.endswith((".mean", ".var")))
    for name in gradients:
        value = weights[name]
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


@pytest.mark.parametrize("backend", ["numpy", *BACKENDS])
def test_a_checkpoint_carries_batch_norms_state_and_resume_is_bitwise(backend, tmp_path):
    """Two epochs straight, or one, a checkpoint, and one more from it in a new trainer: the same
    weights, running statistics and history, bit for bit (one execution path on one machine)."""
    case = "batchnorm_conv_and_dense"
    straight = trainer(case, backend)
    straight.fit(epochs=2)
    first = trainer(case, backend)
    first.fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    with np.load(tmp_path / "checkpoint.npz", allow_pickle=False) as stored:
        assert any(name.endswith("batchnorm_1.mean") for name in stored.files), stored.files
    resumed = trainer(case, backend)
    resumed.restore(tmp_path / "checkpoint.npz")
    assert resumed.epoch == 1
    resumed.fit(epochs=1)
    assert resumed.history == straight.history
    expected, actual = straight.get_weights(), resumed.get_weights()
    assert np.any(expected["batchnorm_1.mean"] != 0) and np.any(expected["batchnorm_1.var"] != 1)  # they moved
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CNNS = ["digits_cnn", "shapes"]


@pytest.fixture(scope="module")
def numpy_histories():
    return {name: nndsl.build(nndsl.load(str(ROOT / "specs" / f"{name}.nn"))).fit(epochs=3) for name in EXAMPLE_CNNS}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", EXAMPLE_CNNS)
def test_example_cnns_train_the_same_three_epochs_on_every_backend(numpy_histories, name, backend):
    """The whole training run, not one step: loss and val_loss (batch norm's running statistics)
    of every example CNN within 1e-3 relative for 3 epochs. (They agree to about 1e-7 today.
    Training paths that cross a ReLU kink or a max pool's near-tie differently can part after a
    few dozen steps even though each step's gradients agree to 1e-7, so the examples are set up
    where they do not: digits_cnn's batch of 64 rather than 32.)"""
    require_backend(backend)
    history = nndsl.build(nndsl.load(str(ROOT / "specs" / f"{name}.nn")), backend=backend, target="cpu").fit(epochs=3)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(history[key], numpy_histories[name][key], rtol=1e-3, err_msg=key)
