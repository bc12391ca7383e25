"""The NumPy snippets one by one: every operation's local derivative, every loss and penalty,
against central finite differences in float64; every optimizer against the IR's formula and
against torch.optim.

The snippets (templates/numpy/ops, losses, optimizers) are plain Python files pasted verbatim
into generated programs; here they are imported from their paths. They are written for
float32 but compute in the dtype of their arrays, so float64 inputs check the mathematics
without float32 rounding in the way: with a step of 1e-6, a central difference is accurate to
about 1e-10 relative (truncation ~ step² · f''' ≈ 1e-12, rounding ~ 1e-16 / step = 1e-10),
so a relative error below 1e-6 leaves room only for float32 constants inside the snippets
(np.float32(alpha) and the like, ~6e-8 relative) — not for a wrong derivative.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nndsl.codegen.numpy_backend import DERIVATIVES_OF_Z

ROOT = Path(__file__).resolve().parent.parent
NUMPY_TEMPLATES = ROOT / "templates" / "numpy"
STEP = 1e-6
TOLERANCE = 1e-6


def load_snippet(relative: str):
    """Import templates/numpy/<relative> as a module of its own."""
    path = NUMPY_TEMPLATES / relative
    spec = importlib.util.spec_from_file_location(f"snippet_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numeric_gradient(f, x: np.ndarray) -> np.ndarray:
    """∂f/∂x by central differences, one element at a time (x is perturbed in place and restored)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + STEP
        up = f()
        x[index] = old - STEP
        down = f()
        x[index] = old
        grad[index] = (up - down) / (2 * STEP)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max |analytic − numeric|, relative to the larger of the two gradients' max-norms."""
    scale = max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-12)
    return float(np.abs(analytic - numeric).max() / scale)


def assert_gradient(analytic: np.ndarray, numeric: np.ndarray) -> None:
    assert analytic.shape == numeric.shape
    assert analytic.dtype == np.float64
    assert relative_error(analytic, numeric) < TOLERANCE, (analytic, numeric)


def away_from_zero(rng: np.random.Generator, shape, margin: float = 0.1) -> np.ndarray:
    """Normal samples with |value| ≥ margin, so a step of 1e-6 never crosses a kink at 0."""
    values = rng.standard_normal(shape) * 2
    return np.where(np.abs(values) < margin, np.copysign(margin, values) + values, values)


# --- operations -------------------------------------------------------------------------------


#: The two forms of the dense products (numpy_backend.column_form chooses) and their buffers' order.
DENSE_FORMS = {"ops/dense.py": "C", "ops/dense_columns.py": "F"}


@pytest.mark.parametrize("snippet", list(DENSE_FORMS))
def test_dense_gradients_dx_dW_db(snippet):
    dense, order = load_snippet(snippet), DENSE_FORMS[snippet]
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    upstream = np.asarray(rng.standard_normal((5, 3)), order=order)  # ∂L/∂z, for L = Σ z · upstream
    out = np.empty((5, 3), order=order)

    def loss():
        return float(np.sum(dense.dense_forward(x, W, b, out=out) * upstream))

    z = dense.dense_forward(x, W, b, out=out)
    np.testing.assert_allclose(z, x @ W.T + b, rtol=1e-12)  # the lecture's z = W·x + b, batch as rows
    dW, db, dx = np.empty_like(W), np.empty_like(b), np.empty((5, 4), order=order)
    dense.dense_backward(upstream, x, W, dW, db, np.ones(5), dx=dx)
    assert_gradient(dW, numeric_gradient(loss, W))
    assert_gradient(db, numeric_gradient(loss, b))
    assert_gradient(dx, numeric_gradient(loss, x))


@pytest.mark.parametrize("snippet", list(DENSE_FORMS))
def test_dense_backward_computes_only_what_is_asked(snippet):
    """A frozen layer passes no dW/db; the first layer no dx: those buffers stay untouched."""
    dense, order = load_snippet(snippet), DENSE_FORMS[snippet]
    rng = np.random.default_rng(1)
    x, W, dz = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    dx = np.empty((5, 4), order=order)
    dense.dense_backward(dz, x, W, dx=dx)
    np.testing.assert_allclose(dx, dz @ W, rtol=1e-12)
    dW, db = np.full_like(W, 7.0), np.full(3, 7.0)
    dense.dense_backward(dz, x, W, dW, db, np.ones(5))
    np.testing.assert_allclose(dW, dz.T @ x, rtol=1e-12)
    np.testing.assert_allclose(db, dz.sum(axis=0), rtol=1e-12)


#: activation -> (keyword arguments, the forward formula in float64, inputs must avoid 0)
ACTIVATIONS = {
    "relu": ({}, lambda z: np.maximum(z, 0), True),
    "sigmoid": ({}, lambda z: 1 / (1 + np.exp(-z)), False),
    "tanh": ({}, np.tanh, False),
    "leaky_relu": ({"alpha": 0.2}, lambda z: np.where(z > 0, z, 0.2 * z), True),
    "elu": ({"alpha": 0.7}, lambda z: np.where(z > 0, z, 0.7 * (np.exp(z) - 1)), True),
    "gelu": ({}, lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))), False),
    "softplus": ({}, lambda z: np.log1p(np.exp(z)), False),
    "softmax": ({}, lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), False),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_forward_and_gradient(name):
    kwargs, formula, kink_at_zero = ACTIVATIONS[name]
    op = load_snippet(f"ops/{name}.py")
    forward, backward = getattr(op, f"{name}_forward"), getattr(op, f"{name}_backward")
    rng = np.random.default_rng(2)
    z = away_from_zero(rng, (4, 5)) if kink_at_zero else rng.standard_normal((4, 5)) * 2
    upstream = rng.standard_normal((4, 5))
    out = np.empty_like(z)
    # relu's forward compares with an array of zeros the program allocates once per batch size
    forward_kwargs = {**kwargs, "zeros": np.zeros_like(z)} if name == "relu" else kwargs

    h = forward(z, out=out, **forward_kwargs).copy()
    # gelu's constants are float32 in the snippet (for float32 programs): ~1e-7 relative.
    np.testing.assert_allclose(h, formula(z), rtol=1e-6 if name == "gelu" else 1e-12, atol=1e-15)

    reads_z = name in DERIVATIVES_OF_Z  # the others compute their derivative from h alone
    dz = backward(*([z] if reads_z else []), h, upstream, out=np.empty_like(z), **kwargs)
    numeric = numeric_gradient(lambda: float(np.sum(forward(z, out=out, **forward_kwargs) * upstream)), z)
    assert_gradient(dz, numeric)


@pytest.mark.parametrize("shape", [(4, 5), (64, 100)], ids=["small, np.sign", "large, np.greater"])
def test_relu_in_place_and_its_derivative_on_either_size(shape):
    """relu_forward may overwrite z (out=z), and relu_backward reads only h, whichever of its two
    loops the size picks: the derivative is still 1 exactly where z > 0."""
    relu = load_snippet("ops/relu.py")
    rng = np.random.default_rng(3)
    z = away_from_zero(rng, shape).astype(np.float32)
    positive = z > 0
    upstream = rng.standard_normal(shape).astype(np.float32)
    h = relu.relu_forward(z, out=z, zeros=np.zeros_like(z))
    assert h is z and np.array_equal(h > 0, positive)
    dz = relu.relu_backward(h, upstream, out=np.empty_like(z))
    assert dz.dtype == np.float32
    np.testing.assert_array_equal(dz, np.where(positive, upstream, 0))


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "softmax", "elu", "gelu", "tanh"])
def test_activation_survives_extreme_inputs(name):
    """No overflow to NaN far out in the tails (float32, as in generated programs)."""
    kwargs = ACTIVATIONS[name][0]
    op = load_snippet(f"ops/{name}.py")
    z = np.array([[-1000.0, -100.0, 0.0, 100.0, 1000.0]], dtype=np.float32)
    h = getattr(op, f"{name}_forward")(z, out=np.empty_like(z), **kwargs)
    dz = getattr(op, f"{name}_backward")(*([z] if name in DERIVATIVES_OF_Z else []), h, np.ones_like(z),
                                         out=np.empty_like(z), **kwargs)
    assert np.isfinite(h).all() and np.isfinite(dz).all(), (h, dz)
    assert h.dtype == dz.dtype == np.float32


def test_dropout_with_a_fixed_mask():
    dropout = load_snippet("ops/dropout.py")
    rate = 0.3
    rng = np.random.default_rng(3)
    h, upstream = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    mask, out = np.empty_like(h), np.empty_like(h)

    def forward():
        # The same seed every call: the same mask, as within one training step.
        return dropout.dropout_forward(h, rate, np.random.default_rng(42), mask=mask, out=out)

    forward()
    assert set(np.unique(mask)) <= {0.0, np.float32(1 / (1 - rate))}
    np.testing.assert_allclose(out, h * mask, rtol=1e-12)
    dh = dropout.dropout_backward(mask, upstream, out=np.empty_like(h))
    assert_gradient(dh, numeric_gradient(lambda: float(np.sum(forward() * upstream)), h))


def test_dropout_drops_the_rate_and_keeps_the_mean():
    dropout = load_snippet("ops/dropout.py")
    rate, n = 0.3, 200_000
    h = np.ones((n, 1), np.float32)
    mask, out = np.empty_like(h), np.empty_like(h)
    dropout.dropout_forward(h, rate, np.random.default_rng(4), mask=mask, out=out)
    # A binomial fraction over n draws has standard deviation √(r(1−r)/n) ≈ 0.001: 5σ.
    assert abs(np.mean(mask == 0) - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    assert abs(out.mean() - 1) < 5 * np.sqrt(rate / (1 - rate) / n)  # inverted dropout keeps E[out] = h
    dropout.dropout_forward(h, rate, None, mask=mask, out=out)  # inference: the identity
    assert (out == h).all()


# --- losses -----------------------------------------------------------------------------------


def loss_case(name: str, rng: np.random.Generator):
    """(loss function, predictions or logits, targets) for one loss, away from any kink."""
    if name == "sigmoid_binary_crossentropy":
        z = rng.standard_normal((7, 1)) * 3
        return load_snippet(f"losses/{name}.py").sigmoid_binary_crossentropy, z, rng.integers(0, 2, (7, 1)) * 1.0
    if name == "softmax_categorical_crossentropy":
        z = rng.standard_normal((7, 4)) * 3
        return load_snippet(f"losses/{name}.py").softmax_categorical_crossentropy, z, rng.integers(0, 4, 7)
    if name == "mse":
        return load_snippet("losses/mse.py").mean_squared_error, rng.standard_normal((7, 2)), rng.standard_normal((7, 2))
    y = rng.standard_normal((7, 2))
    # mae has a kink where prediction = target: keep every difference at least 0.1 away.
    return load_snippet("losses/mae.py").mean_absolute_error, y + away_from_zero(rng, (7, 2)), y


LOSSES = ["sigmoid_binary_crossentropy", "softmax_categorical_crossentropy", "mse", "mae"]


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradient(name):
    rng = np.random.default_rng(5)
    loss, z, y = loss_case(name, rng)
    dz = np.empty_like(z)
    value = loss(z, y, dz)
    assert isinstance(value, float)
    scratch = np.empty_like(z)
    assert_gradient(dz, numeric_gradient(lambda: loss(z, y, scratch), z))


@pytest.mark.parametrize("name", LOSSES)
def test_loss_scale_multiplies_only_the_gradient(name):
    """scale=lr (what the trainer of plain SGD passes) writes lr·∂L/∂z; the loss is unchanged."""
    loss, z, y = loss_case(name, np.random.default_rng(7))
    plain, scaled = np.empty_like(z), np.empty_like(z)
    value = loss(z, y, plain)
    assert loss(z, y, scaled, scale=0.03) == value
    np.testing.assert_allclose(scaled, 0.03 * plain, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("name", LOSSES)
def test_loss_value_matches_its_textbook_formula(name):
    rng = np.random.default_rng(6)
    loss, z, y = loss_case(name, rng)
    if name == "sigmoid_binary_crossentropy":
        p = 1 / (1 + np.exp(-z))
        expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    elif name == "softmax_categorical_crossentropy":
        q = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        expected = -np.mean(np.log(q[np.arange(len(y)), y]))
    elif name == "mse":
        expected = np.mean((y - z) ** 2)  # the mean over samples and outputs
    else:
        expected = np.mean(np.abs(y - z))
    assert loss(z, y, np.empty_like(z)) == pytest.approx(expected, rel=1e-12)


def test_fused_cross_entropies_are_stable_for_huge_logits():
    """The fused forms never take log(0): confident mistakes cost |z|, confident hits ~0."""
    binary = load_snippet("losses/sigmoid_binary_crossentropy.py").sigmoid_binary_crossentropy
    z = np.array([[100.0], [-100.0], [100.0], [-100.0]], dtype=np.float32)
    y = np.array([[1.0], [0.0], [0.0], [1.0]], dtype=np.float32)
    dz = np.empty_like(z)
    assert binary(z, y, dz) == pytest.approx(200 / 4, rel=1e-6)
    np.testing.assert_allclose(dz, [[0], [0], [0.25], [-0.25]], atol=1e-7)

    categorical = load_snippet("losses/softmax_categorical_crossentropy.py").softmax_categorical_crossentropy
    z = np.array([[1000.0, 0.0, -1000.0], [1000.0, 0.0, -1000.0]], dtype=np.float32)
    dz = np.empty_like(z)
    assert categorical(z, np.array([0, 2]), dz) == pytest.approx(2000 / 2, rel=1e-6)
    np.testing.assert_allclose(dz, [[0, 0, 0], [0.5, 0, -0.5]], atol=1e-7)


# --- regularisation penalties -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_penalty_value_and_gradient(kind):
    penalty = getattr(load_snippet("losses/regularizers.py"), f"{kind}_penalty")
    rng = np.random.default_rng(7)
    W = away_from_zero(rng, (4, 3))  # l1's |W| has a kink at 0
    rate = 0.03
    expected = rate * (np.abs(W).sum() if kind == "l1" else np.square(W).sum())

    assert penalty(W, None, rate) == pytest.approx(expected, rel=1e-12)
    dW = np.zeros_like(W)
    assert penalty(W, dW, rate) == pytest.approx(expected, rel=1e-12)
    assert_gradient(dW, numeric_gradient(lambda: penalty(W, None, rate), W))


def test_penalty_adds_to_the_gradient_already_there():
    """backward() writes ∂L/∂W first; the penalty's derivative is added on top."""
    l2 = load_snippet("losses/regularizers.py").l2_penalty
    W, dW = np.full((2, 2), 3.0), np.full((2, 2), 1.0)
    l2(W, dW, 0.5)
    np.testing.assert_allclose(dW, 1.0 + 2 * 0.5 * 3.0)


# --- optimizers ---------------------------------------------------------------------------------

#: Hyperparameters per case; the IR's formulas (nndsl/ir.py) transcribed in float64 below.
OPTIMIZERS = {
    "sgd": ("SGD", {"lr": 0.1}),
    "momentum": ("Momentum", {"lr": 0.05, "momentum": 0.9, "nesterov": False}),
    "nesterov": ("Momentum", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}),
    "rmsprop": ("RMSprop", {"lr": 0.01, "rho": 0.9, "eps": 1e-7}),
}
STEPS_TAKEN = 6


def gradient_sequence(shape=(3, 4)) -> list[np.ndarray]:
    rng = np.random.default_rng(8)
    return [rng.standard_normal(shape) * 10 ** rng.uniform(-3, 0) for _ in range(STEPS_TAKEN)]


def transcription(case: str, theta: np.ndarray, gradients) -> np.ndarray:
    """θ after each gradient, by the IR's docstring formulas, in float64."""
    _, h = OPTIMIZERS[case]
    theta = theta.copy()
    v = np.zeros_like(theta)  # momentum's velocity, Adam's second moment
    m = np.zeros_like(theta)  # Adam's first moment
    s = np.zeros_like(theta)  # RMSprop's running mean of g²
    for t, g in enumerate(gradients, start=1):
        if case == "sgd":  # θ ← θ − lr·g
            theta = theta - h["lr"] * g
        elif case in ("momentum", "nesterov"):  # v ← momentum·v + g
            v = h["momentum"] * v + g
            step = g + h["momentum"] * v if h["nesterov"] else v
            theta = theta - h["lr"] * step
        elif case == "adam":  # θ ← θ − lr·m̂/(√v̂ + eps)
            m = h["beta1"] * m + (1 - h["beta1"]) * g
            v = h["beta2"] * v + (1 - h["beta2"]) * g * g
            m_hat, v_hat = m / (1 - h["beta1"] ** t), v / (1 - h["beta2"] ** t)
            theta = theta - h["lr"] * m_hat / (np.sqrt(v_hat) + h["eps"])
        else:  # s ← rho·s + (1−rho)·g²; θ ← θ − lr·g/(√s + eps)
            s = h["rho"] * s + (1 - h["rho"]) * g * g
            theta = theta - h["lr"] * g / (np.sqrt(s) + h["eps"])
    return theta


def run_snippet(case: str, theta: np.ndarray, gradients, dtype) -> np.ndarray:
    """θ after each gradient, by the snippet, which updates params in place from the grads buffer."""
    class_name, hyper = OPTIMIZERS[case]
    module = load_snippet(f"optimizers/{'momentum' if class_name == 'Momentum' else case}.py")
    param, grad = theta.astype(dtype), np.zeros(theta.shape, dtype)
    optimizer = getattr(module, class_name)([param], [grad], **hyper)
    for g in gradients:
        grad[...] = g  # backward() refills the buffer each step; the optimizer may use it as scratch
        optimizer.step()
    return param


# float64: only the snippets' float32 constants (lr, eps, … cast once) differ, ~1e-7 relative.
# float32, the dtype of generated programs: ~1e-7 relative per operation over a few steps.
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-6), (np.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_optimizer_matches_the_ir_formula(case, dtype, rtol):
    theta = np.random.default_rng(9).standard_normal((3, 4))
    gradients = gradient_sequence()
    expected = transcription(case, theta, gradients)
    got = run_snippet(case, theta, gradients, dtype)
    assert got.dtype == dtype
    # atol: float32 resolves θ (of order 1) to ~1e-7.
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * 0.1)
    assert not np.allclose(expected, theta), "the steps must move θ for the comparison to mean anything"


@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_optimizer_matches_torch_optim(case):
    import torch  # installed for the test suite (make test); a missing torch is a failure here, not a skip

    class_name, h = OPTIMIZERS[case]
    theta = np.random.default_rng(10).standard_normal((3, 4))
    gradients = gradient_sequence()
    parameter = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float64))
    if case == "sgd":
        optimizer = torch.optim.SGD([parameter], lr=h["lr"])
    elif class_name == "Momentum":
        optimizer = torch.optim.SGD([parameter], lr=h["lr"], momentum=h["momentum"], nesterov=h["nesterov"])
    elif case == "adam":
        optimizer = torch.optim.Adam([parameter], lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"])
    else:
        optimizer = torch.optim.RMSprop([parameter], lr=h["lr"], alpha=h["rho"], eps=h["eps"])
    for g in gradients:
        parameter.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
    np.testing.assert_allclose(run_snippet(case, theta, gradients, np.float64), parameter.detach().numpy(),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_optimizer_state_round_trip_continues_exactly(case):
    """state()/load_state() (what checkpoints store) carry everything: a restored copy goes on bitwise."""
    class_name, hyper = OPTIMIZERS[case]
    module = load_snippet(f"optimizers/{'momentum' if class_name == 'Momentum' else case}.py")
    gradients = [g.astype(np.float32) for g in gradient_sequence()]
    theta = np.random.default_rng(11).standard_normal((3, 4)).astype(np.float32)

    def make(start):
        param, grad = start.copy(), np.zeros_like(start)
        return param, grad, getattr(module, class_name)([param], [grad], **hyper)

    param, grad, optimizer = make(theta)
    for g in gradients[:3]:
        grad[...] = g
        optimizer.step()
    saved = {key: np.array(value, copy=True) for key, value in optimizer.state().items()}
    param_copy, grad_copy, restored = make(param)
    restored.load_state(saved)
    for g in gradients[3:]:
        grad[...] = g
        optimizer.step()
        grad_copy[...] = g
        restored.step()
    assert np.array_equal(param, param_copy)
