"""The lecture's worked examples (lecture-building-blocks.txt), reproduced by generated NumPy code.

Each example runs through code that `nndsl.generate` wrote: the network's forward() and
backward(), and the generated loss functions, so these are tests of the compiler's output,
not of a re-derivation. Values are float32, so "exactly" means to float32 rounding (~1e-7
relative): the tolerances below are a few units in the last place.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.codegen import load_module
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
F32 = dict(rtol=1e-6, atol=1e-7)  # a few float32 ulps at values of order 1


def generated_module(spec: str):
    """The generated NumPy program for spec text, imported."""
    return load_module(nndsl.generate(nndsl.parse(spec)))


def float32(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


# --- backpropagation: y_pred = z3 = ReLU(W·x + b), L = (z3 − y)² ------------------------------

PERCEPTRON = """
data plane(samples=10) { features x1 }
model { input 1  dense 1 relu }
loss mse
train { optimizer sgd(lr=0.1)  batch all  epochs 1 }
"""


def test_backpropagation_example_forward_and_backward():
    module = generated_module(PERCEPTRON)
    network = module.Network({"dense_1.W": [[0.5]], "dense_1.b": [0.1]})
    x, y = float32([[1.0]]), float32([[1.0]])

    # The lecture splits the dense layer in two: z1 = W·x, z2 = z1 + b. The generated code
    # computes z = x·Wᵀ + b in one call, so the lecture's z1 is that call with b = 0.
    z1 = module.dense_forward(x, network.W1, np.zeros(1, np.float32), out=np.empty((1, 1), np.float32))
    np.testing.assert_allclose(z1, [[0.5]], **F32)

    output = network.forward(x)
    # Generated names: z1 is the lecture's z2 (W·x + b), h1 the lecture's z3 (ReLU of it).
    np.testing.assert_allclose(network.batch.z1, [[0.6]], **F32)  # z2 = z1 + b = 0.6
    np.testing.assert_allclose(network.batch.h1, [[0.6]], **F32)  # z3 = ReLU(z2) = 0.6
    assert output is network.batch.h1

    loss = module.mean_squared_error(output, y, network.output_grad)
    assert loss == pytest.approx(0.16, rel=1e-6)  # (z3 − y)² = (−0.4)² = 0.16

    # ∂L/∂z3 = 2(z3 − y) = −0.8 (one sample: the mean divides by 1).
    np.testing.assert_allclose(network.output_grad, [[-0.8]], **F32)

    network.backward()
    # ∂L/∂W = ∂L/∂z3 · ∂z3/∂z2 · ∂z2/∂z1 · ∂z1/∂W = −0.8 · 1 · 1 · x = −0.8.
    # The slide's last line prints −0.4 · 1 · 1 · 1 = −0.4: an arithmetic slip, since its own
    # first factor is ∂L/∂z3 = 2(z3 − y) = −0.8 and the other factors are 1 (x = 1).
    np.testing.assert_allclose(network.grads["dense_1.W"], [[-0.8]], **F32)
    np.testing.assert_allclose(network.grads["dense_1.b"], [-0.8], **F32)  # ∂z2/∂b = 1


def test_backpropagation_example_gradient_step():
    """θ → θ − α·dL/dθ, as the lecture's gradient descent writes it, through the generated trainer."""
    module = generated_module(PERCEPTRON)
    network = module.Network({"dense_1.W": [[0.5]], "dense_1.b": [0.1]})
    trainer = module.Trainer(network, data=None)
    loss, _ = trainer.train_step(float32([[1.0]]), float32([[1.0]]))
    assert loss == pytest.approx(0.16, rel=1e-6)
    np.testing.assert_allclose(network.W1, [[0.5 + 0.1 * 0.8]], **F32)
    np.testing.assert_allclose(network.b1, [0.1 + 0.1 * 0.8], **F32)


@pytest.mark.parametrize("backend", ["numpy", "torch", "tensorflow"])
def test_backprop_spec_takes_the_lectures_step_on_every_backend(backend):
    """specs/backprop.nn: the example as a spec, one sample, `split 1`, `batch all`, one epoch of sgd(lr=1)."""
    if backend != "numpy":
        require_backend(backend)
    trainer = nndsl.build(nndsl.load(ROOT / "specs" / "backprop.nn"), backend=backend)
    data = trainer.data
    assert data.x_train.tolist() == [[1.0]] and data.y_train.tolist() == [[1.0]]
    assert data.x_val.shape == (0, 1)  # split 1: nothing held out

    loss, grads = trainer.loss_and_gradients(data.x_train, data.y_train)
    assert loss == pytest.approx(0.16, rel=1e-6)  # (ReLU(0.5·1 + 0.1) − 1)² = 0.16
    np.testing.assert_allclose(grads["dense_1.W"], [[-0.8]], **F32)  # 2(z3 − y)·1·1·x = −0.8
    np.testing.assert_allclose(grads["dense_1.b"], [-0.8], **F32)

    history = trainer.fit()
    assert list(history) == ["loss", "lr"]  # no val_ keys without a validation set; lr, each epoch's rate
    assert history["loss"] == [pytest.approx(0.16, rel=1e-6)]
    weights = trainer.get_weights()
    np.testing.assert_allclose(weights["dense_1.W"], [[1.3]], **F32)  # W → W − α·∂L/∂W = 0.5 + 0.8
    np.testing.assert_allclose(weights["dense_1.b"], [0.9], **F32)

    with pytest.raises(ValueError, match=r"split 1.*evaluate\(x, y\)"):
        trainer.evaluate()
    # After the step: (ReLU(1.3 + 0.9) − 1)² = 1.2² = 1.44
    assert trainer.evaluate(data.x_train, data.y_train)["loss"] == pytest.approx(1.44, rel=1e-6)


# --- the universal-approximation staircase --------------------------------------------------

STEPS = [(-1.5, 0.25), (-0.5, 0.5), (0.5, 1.0), (1.5, 1.2), (2.5, 0.8), (3.5, 1.6)]


def staircase(x: np.ndarray) -> np.ndarray:
    """The lecture's f(x), in float64: six differences of steep sigmoids."""
    def s(t):
        return 1 / (1 + np.exp(-t))

    heights = [0.25, 0.5, 1.0, 1.2, 0.8, 1.6]
    offsets = [200, 100, 0, -100, -200, -300, -400]
    return sum(h * (s(100 * x + offsets[k]) - s(100 * x + offsets[k + 1])) for k, h in enumerate(heights))


@pytest.fixture(scope="module")
def staircase_network():
    """specs/staircase.nn's network with its hand-written (initial) weights."""
    program = nndsl.load(ROOT / "specs" / "staircase.nn")
    module = load_module(nndsl.generate(program))
    return module.Network(module.initial_weights())


@pytest.mark.parametrize("x, height", STEPS)
def test_staircase_steps(staircase_network, x, height):
    output = staircase_network.forward(float32([[x]]))
    np.testing.assert_allclose(output, [[height]], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("x", [-4.0, -3.0, -2.5, 4.5, 5.0, 7.0])
def test_staircase_is_zero_outside_minus_two_to_four(staircase_network, x):
    output = staircase_network.forward(float32([[x]]))
    # Right of x = 4 every sigmoid is 1 and the output weights sum to 0: float32 rounding remains.
    assert abs(float(output[0, 0])) < 1e-6


def test_staircase_matches_the_lecture_formula_everywhere(staircase_network):
    x = np.linspace(-3, 5, 1601).astype(np.float32)
    output = staircase_network.forward(x[:, None])[:, 0]
    # Near a step the function rises by up to 1.6 over ~0.05 (slope ≤ 100·1.6/4 = 40): float32
    # rounding of x and of the sigmoids leaves errors of a few 1e-6 there, far below a step.
    np.testing.assert_allclose(output, staircase(x.astype(np.float64)), atol=2e-5)


# --- the loss tables ------------------------------------------------------------------------


def test_mse_table():
    """Three students: squared errors 0.25, 4 and 1 (the last: true 9 k€, predicted 8 k€)."""
    module = generated_module(PERCEPTRON)
    y_true = float32([[5.0], [7.5], [9.0]])
    y_pred = float32([[5.5], [5.5], [8.0]])
    per_sample = []
    for i in range(3):
        grad = np.empty((1, 1), np.float32)
        per_sample.append(module.mean_squared_error(y_pred[i : i + 1], y_true[i : i + 1], grad))
    assert per_sample == pytest.approx([0.25, 4.0, 1.0], rel=1e-6)

    grad = np.empty((3, 1), np.float32)
    mean = module.mean_squared_error(y_pred, y_true, grad)
    assert 3 * mean == pytest.approx(5.25, rel=1e-6)  # L ∝ 0.25 + 4 + 1 = 5.25
    assert mean == pytest.approx(1.75, rel=1e-6)  # L = (1/n)·Σ = 5.25 / 3
    np.testing.assert_allclose(grad, 2 * (y_pred - y_true) / 3, **F32)


# Cats and dogs: the predicted probability of each sample's true class is e^−0.5, e^−0.4 and
# 0.9, so −log q is 0.5, 0.4 and 0.105 (the slide rounds log 0.9 = −0.105 to −0.1).
Q_TRUE = [math.exp(-0.5), math.exp(-0.4), 0.9]
CE_PER_SAMPLE = [0.5, 0.4, -math.log(0.9)]

SOFTMAX_CLASSIFIER = """
data spiral(samples=10, classes=2)
model { input 2  dense 2 softmax }
loss categorical_crossentropy
train { optimizer sgd(lr=0.1)  batch all  epochs 1 }
"""

SIGMOID_CLASSIFIER = """
data xor(samples=10)
model { input 2  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer sgd(lr=0.1)  batch all  epochs 1 }
"""


def test_cross_entropy_table_softmax():
    """Classes (cat, dog); true classes cat, dog, cat. Logits log q give softmax(logits) = q."""
    module = generated_module(SOFTMAX_CLASSIFIER)
    labels = np.array([0, 1, 0])
    q = np.array([[Q_TRUE[0], 1 - Q_TRUE[0]], [1 - Q_TRUE[1], Q_TRUE[1]], [Q_TRUE[2], 1 - Q_TRUE[2]]])
    logits = np.log(q).astype(np.float32)

    per_sample = []
    for i in range(3):
        grad = np.empty((1, 2), np.float32)
        per_sample.append(module.softmax_categorical_crossentropy(logits[i : i + 1], labels[i : i + 1], grad))
    assert per_sample == pytest.approx(CE_PER_SAMPLE, rel=1e-6)

    grad = np.empty((3, 2), np.float32)
    mean = module.softmax_categorical_crossentropy(logits, labels, grad)
    assert 3 * mean == pytest.approx(sum(CE_PER_SAMPLE), rel=1e-6)
    assert 3 * mean == pytest.approx(1.0, abs=0.01)  # L ∝ 0.5 + 0.4 + 0.1 = 1.0
    # ∂L/∂logits = (q − p) / n: the predicted distribution minus the true one.
    np.testing.assert_allclose(grad, (q - np.eye(2)[labels]) / 3, rtol=1e-5, atol=1e-7)


def test_cross_entropy_table_sigmoid():
    """The same table as binary labels (cat = 1): the logit z = log(p/(1 − p)) of p = P(cat)."""
    module = generated_module(SIGMOID_CLASSIFIER)
    y = float32([[1.0], [0.0], [1.0]])
    p_cat = np.array([Q_TRUE[0], 1 - Q_TRUE[1], Q_TRUE[2]])
    logits = np.log(p_cat / (1 - p_cat)).astype(np.float32)[:, None]

    per_sample = []
    for i in range(3):
        grad = np.empty((1, 1), np.float32)
        per_sample.append(module.sigmoid_binary_crossentropy(logits[i : i + 1], y[i : i + 1], grad))
    assert per_sample == pytest.approx(CE_PER_SAMPLE, rel=1e-6)

    grad = np.empty((3, 1), np.float32)
    mean = module.sigmoid_binary_crossentropy(logits, y, grad)
    assert 3 * mean == pytest.approx(sum(CE_PER_SAMPLE), rel=1e-6)
    assert 3 * mean == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(grad, (p_cat[:, None] - y) / 3, rtol=1e-5, atol=1e-7)
