"""The NumPy image snippets (conv2d, pooling, flatten, batch norm): every local derivative against
central finite differences in float64, every forward against torch.nn.functional and
TensorFlow in float32, and nndsl/shapes.py's padding rule against TensorFlow's output shapes.

The snippets compute in the dtype of their arrays, so float64 checks the mathematics alone
(tests/test_numpy_ops.py explains the step and the tolerance); float32 against the frameworks
checks the conventions (NHWC, W as (c_out, kh, kw, c_in), TensorFlow's `same`, pooling over
padding, Keras' momentum) to float32 rounding.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import nndsl.shapes
from nndsl.shapes import output_size, same_padding
from tests.conftest import require_backend
from tests.test_numpy_ops import assert_gradient, load_snippet, numeric_gradient

#: float32 against a framework: a few roundings of values of order 1-10 apart.
FLOAT32_RTOL, FLOAT32_ATOL = 1e-5, 1e-5


@pytest.fixture(scope="module")
def torch():
    return require_backend("torch")


@pytest.fixture(scope="module")
def tf():
    return require_backend("tensorflow")


def padding(x_shape, kernel, stride, mode: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), as the compiler hands it to the ops."""
    if mode == "valid":
        return (0, 0, 0, 0)
    return same_padding(x_shape[1], kernel[0], stride[0]) + same_padding(x_shape[2], kernel[1], stride[1])


def output_shape(x_shape, kernel, stride, pad, channels: int) -> tuple[int, int, int, int]:
    return (x_shape[0], output_size(x_shape[1], kernel[0], stride[0], *pad[:2]),
            output_size(x_shape[2], kernel[1], stride[1], *pad[2:]), channels)


def test_shapes_doctests():
    assert doctest.testmod(nndsl.shapes).failed == 0


# --- conv2d ----------------------------------------------------------------------------------

#: case -> (x shape (n, h, w, c_in), c_out, kernel, stride, padding)
CONV_CASES = {
    "3x3 same": ((2, 5, 5, 2), 3, (3, 3), (1, 1), "same"),
    "2x2 same stride 2, odd input": ((2, 5, 6, 2), 3, (2, 2), (2, 2), "same"),
    "4x4 same stride 2": ((1, 7, 6, 3), 2, (4, 4), (2, 2), "same"),
    "3x2 same stride (2, 1)": ((2, 6, 5, 2), 3, (3, 2), (2, 1), "same"),
    "2x3 valid stride 2, a row left out": ((2, 5, 7, 3), 2, (2, 3), (2, 2), "valid"),
    "3x3 valid, one channel": ((3, 6, 6, 1), 4, (3, 3), (1, 1), "valid"),
}


def conv_case(case: str, dtype=np.float64, seed: int = 0):
    x_shape, c_out, kernel, stride, mode = CONV_CASES[case]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    W = rng.standard_normal((c_out, *kernel, x_shape[3])).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    pad = padding(x_shape, kernel, stride, mode)
    return x, W, b, stride, pad, mode, output_shape(x_shape, kernel, stride, pad, c_out)


#: the two im2col layouts: one patch per row (row-major), and one weight per column (column-major)
PATCH_LAYOUTS = {"conv2d_patches": "C", "conv2d_patches_by_weight": "F"}


def conv_forward(conv, x, W, b, stride, pad, out, im2col="conv2d_patches"):
    """im2col into a fresh patch matrix, then the product, as the generated forward() calls them:
    returns z (in out) and the patch matrix, which conv2d_backward reads."""
    n, oh, ow = out.shape[:3]
    patches = np.empty((n * oh * ow, W[0].size), x.dtype, order=PATCH_LAYOUTS[im2col])
    getattr(conv, im2col)(x, W.shape[1:3], stride, pad, out=patches)
    return conv.conv2d_forward(patches, W, b, out=out), patches


@pytest.mark.parametrize("im2col", list(PATCH_LAYOUTS))
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_gradients_dx_dW_db(case, im2col):
    """Backward from the patches its forward kept, against finite differences of forward from x."""
    conv = load_snippet("ops/conv2d.py")
    x, W, b, stride, pad, _, out_shape = conv_case(case)
    upstream = np.random.default_rng(1).standard_normal(out_shape)  # ∂L/∂z, for L = Σ z · upstream
    out = np.empty(out_shape)

    def loss():
        return float(np.sum(conv_forward(conv, x, W, b, stride, pad, out, im2col)[0] * upstream))

    _, patches = conv_forward(conv, x, W, b, stride, pad, out, im2col)
    dW, db, dx = np.empty_like(W), np.empty_like(b), np.empty_like(x)
    conv.conv2d_backward(upstream, patches, W, stride, pad, dW=dW, db=db, dx=dx)
    assert_gradient(dW, numeric_gradient(loss, W))
    assert_gradient(db, numeric_gradient(loss, b))
    assert_gradient(dx, numeric_gradient(loss, x))


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_patch_layouts_hold_the_same_matrix(case):
    """conv2d_patches_by_weight writes the matrix conv2d_patches writes, column-major; every
    row is the window of its output cell, in W's (kh, kw, c_in) order."""
    conv = load_snippet("ops/conv2d.py")
    x, W, b, stride, pad, _, out_shape = conv_case(case)
    rows = conv_forward(conv, x, W, b, stride, pad, np.empty(out_shape))[1]
    columns = conv_forward(conv, x, W, b, stride, pad, np.empty(out_shape), "conv2d_patches_by_weight")[1]
    assert rows.flags.c_contiguous and columns.flags.f_contiguous
    np.testing.assert_array_equal(columns, rows)
    padded = np.pad(x, ((0, 0), pad[:2], pad[2:], (0, 0)))
    n, i, j = len(x) - 1, out_shape[1] - 1, out_shape[2] - 1  # the last cell: its window ends in the padding
    top, left = i * stride[0], j * stride[1]
    window = padded[n, top : top + W.shape[1], left : left + W.shape[2], :]
    np.testing.assert_array_equal(rows.reshape(out_shape[:3] + (-1,))[n, i, j], window.ravel())


def test_conv2d_is_the_dense_layer_on_each_patch():
    """W.reshape(c_out, −1) is the lecture's n_out × n_in matrix on a patch flattened (kh, kw, c_in)."""
    conv = load_snippet("ops/conv2d.py")
    x, W, b, stride, pad, _, out_shape = conv_case("3x2 same stride (2, 1)")
    z = conv_forward(conv, x, W, b, stride, pad, np.empty(out_shape))[0]
    padded = np.pad(x, ((0, 0), pad[:2], pad[2:], (0, 0)))
    i, j = 2, 3  # an output cell whose window reaches into the padding
    top, left = i * stride[0], j * stride[1]
    patch = padded[:, top : top + W.shape[1], left : left + W.shape[2], :].reshape(len(x), -1)
    np.testing.assert_allclose(z[:, i, j], patch @ W.reshape(len(W), -1).T + b, rtol=1e-12)


def test_conv2d_backward_computes_only_what_is_asked():
    """A frozen layer passes no dW/db, the first layer no dx: the others stay untouched."""
    conv = load_snippet("ops/conv2d.py")
    x, W, b, stride, pad, _, out_shape = conv_case("2x2 same stride 2, odd input")
    dout = np.random.default_rng(2).standard_normal(out_shape)

    def patches():  # each backward with dx overwrites them with ∂L/∂patches
        return conv_forward(conv, x, W, b, stride, pad, np.empty(out_shape))[1]

    dW, db, dx = np.empty_like(W), np.empty_like(b), np.empty_like(x)
    conv.conv2d_backward(dout, patches(), W, stride, pad, dW=dW, db=db, dx=dx)
    only_dx = np.full_like(x, 7.0)
    conv.conv2d_backward(dout, patches(), W, stride, pad, dx=only_dx)
    np.testing.assert_array_equal(only_dx, dx)
    only_dW, only_db = np.full_like(W, 7.0), np.full_like(b, 7.0)
    kept = patches()
    conv.conv2d_backward(dout, kept, W, stride, pad, dW=only_dW, db=only_db)
    np.testing.assert_array_equal(only_dW, dW)
    np.testing.assert_array_equal(only_db, db)
    np.testing.assert_array_equal(kept, patches())  # without dx the patches are only read


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_matches_torch_forward_and_gradients(case, torch):
    """torch: NCHW, weight (c_out, c_in, kh, kw), and TensorFlow's asymmetric `same` by F.pad."""
    F = torch.nn.functional
    conv = load_snippet("ops/conv2d.py")
    x, W, b, stride, pad, _, out_shape = conv_case(case, np.float32)
    top, bottom, left, right = pad
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    Wt = torch.tensor(W.transpose(0, 3, 1, 2), requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    expected = F.conv2d(F.pad(xt, (left, right, top, bottom)), Wt, bt, stride=stride)
    z, patches = conv_forward(conv, x, W, b, stride, pad, np.empty(out_shape, np.float32))
    assert z.shape == out_shape and z.dtype == np.float32
    np.testing.assert_allclose(z, expected.detach().numpy().transpose(0, 2, 3, 1), FLOAT32_RTOL, FLOAT32_ATOL)

    dout = np.random.default_rng(3).standard_normal(out_shape).astype(np.float32)
    expected.backward(torch.tensor(dout.transpose(0, 3, 1, 2)))
    dW, db, dx = np.empty_like(W), np.empty_like(b), np.empty_like(x)
    conv.conv2d_backward(dout, patches, W, stride, pad, dW=dW, db=db, dx=dx)
    assert dW.dtype == db.dtype == dx.dtype == np.float32
    np.testing.assert_allclose(dW, Wt.grad.numpy().transpose(0, 2, 3, 1), FLOAT32_RTOL, FLOAT32_ATOL)
    np.testing.assert_allclose(db, bt.grad.numpy(), FLOAT32_RTOL, FLOAT32_ATOL)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), FLOAT32_RTOL, FLOAT32_ATOL)


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_matches_tensorflow(case, tf):
    """TensorFlow: NHWC, kernel (kh, kw, c_in, c_out), padding='SAME' / 'VALID' by its own rule."""
    conv = load_snippet("ops/conv2d.py")
    x, W, b, stride, pad, mode, out_shape = conv_case(case, np.float32)
    expected = tf.nn.conv2d(x, W.transpose(1, 2, 3, 0), strides=stride, padding=mode.upper()) + b
    z = conv_forward(conv, x, W, b, stride, pad, np.empty(out_shape, np.float32))[0]
    assert z.shape == tuple(expected.shape)
    np.testing.assert_allclose(z, expected.numpy(), FLOAT32_RTOL, FLOAT32_ATOL)


# --- max and average pooling -------------------------------------------------------------------

#: case -> (x shape (n, h, w, c), pool size, stride, padding)
POOL_CASES = {
    "2x2 stride 2": ((2, 4, 6, 2), (2, 2), (2, 2), "valid"),
    "2x2 stride 2 valid, odd input: a row and a column left out": ((2, 5, 7, 2), (2, 2), (2, 2), "valid"),
    "1x2 stride (1, 3), gaps between windows": ((2, 3, 8, 1), (1, 2), (1, 3), "valid"),
    "2x2 stride 2 same, odd input": ((2, 5, 5, 2), (2, 2), (2, 2), "same"),
    "3x3 stride 1 same, overlapping": ((2, 4, 5, 1), (3, 3), (1, 1), "same"),
    "3x2 stride (2, 1) same": ((1, 5, 4, 3), (3, 2), (2, 1), "same"),
    "4x4 stride 2 same": ((1, 6, 7, 2), (4, 4), (2, 2), "same"),
    "3x3 stride 2 valid, a row left out": ((2, 6, 7, 2), (3, 3), (2, 2), "valid"),
}


def pool_case(case: str, dtype=np.float64, seed: int = 4):
    """Distinct values, far enough apart that a step of 1e-6 never changes which cell is a maximum."""
    x_shape, size, stride, mode = POOL_CASES[case]
    rng = np.random.default_rng(seed)
    x = (rng.permutation(np.prod(x_shape)).reshape(x_shape) / 10 - 3).astype(dtype)
    pad = padding(x_shape, size, stride, mode)
    return x, size, stride, pad, mode, output_shape(x_shape, size, stride, pad, x_shape[3])


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("case", list(POOL_CASES))
def test_pool_gradient(case, kind):
    op = load_snippet(f"ops/{kind}.py")
    forward, backward = getattr(op, f"{kind}_forward"), getattr(op, f"{kind}_backward")
    x, size, stride, pad, _, out_shape = pool_case(case)
    upstream = np.random.default_rng(5).standard_normal(out_shape)
    out = np.empty(out_shape)
    forward(x, size, stride, pad, out=out)
    dx = np.full_like(x, 7.0)  # every cell must be written, those in no window with 0
    if kind == "maxpool":
        backward(upstream, x, out, size, stride, pad, dx=dx)
    else:
        backward(upstream, size, stride, pad, dx=dx)
    assert_gradient(dx, numeric_gradient(lambda: float(np.sum(forward(x, size, stride, pad, out=out) * upstream)), x))


def test_maxpool_ties_go_to_the_first_maximum_as_in_torch_and_tensorflow(torch, tf):
    """A window holding its maximum twice sends the gradient to the first, row by row; windows
    that overlap add up."""
    maxpool = load_snippet("ops/maxpool.py")
    x = np.random.default_rng(6).integers(0, 3, (2, 5, 5, 2)).astype(np.float32)  # many ties
    size, stride = (3, 3), (1, 1)
    pad = padding(x.shape, size, stride, "same")
    out = maxpool.maxpool_forward(x, size, stride, pad, out=np.empty(output_shape(x.shape, size, stride, pad, 2),
                                                                     np.float32))
    dout = np.random.default_rng(7).standard_normal(out.shape).astype(np.float32)
    dx = maxpool.maxpool_backward(dout, x, out, size, stride, pad, dx=np.empty_like(x))

    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    top, bottom, left, right = pad
    padded = torch.nn.functional.pad(xt, (left, right, top, bottom), value=-float("inf"))
    torch.nn.functional.max_pool2d(padded, size, stride).backward(torch.tensor(dout.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), FLOAT32_RTOL, FLOAT32_ATOL)

    xtf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xtf)
        pooled = tf.nn.max_pool2d(xtf, size, stride, "SAME")
    np.testing.assert_allclose(dx, tape.gradient(pooled, xtf, output_gradients=tf.constant(dout)).numpy(),
                               FLOAT32_RTOL, FLOAT32_ATOL)


def torch_pool_as_tensorflow(torch, kind: str, x: np.ndarray, size, stride, pad) -> np.ndarray:
    """torch's pooling with TensorFlow's padding: −∞ cells for max; for average the sum over the
    zero-padded input divided by the count of real cells (the same pooling of padded ones)."""
    F = torch.nn.functional
    top, bottom, left, right = pad
    xt = torch.tensor(x.transpose(0, 3, 1, 2))
    if kind == "maxpool":
        pooled = F.max_pool2d(F.pad(xt, (left, right, top, bottom), value=-float("inf")), size, stride)
    else:
        sums = F.avg_pool2d(F.pad(xt, (left, right, top, bottom)), size, stride)
        counts = F.avg_pool2d(F.pad(torch.ones_like(xt), (left, right, top, bottom)), size, stride)
        pooled = sums / counts
    return pooled.numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("case", list(POOL_CASES))
def test_pool_matches_torch_and_tensorflow(case, kind, torch, tf):
    op = load_snippet(f"ops/{kind}.py")
    x, size, stride, pad, mode, out_shape = pool_case(case, np.float32)
    x = np.random.default_rng(8).standard_normal(x.shape).astype(np.float32)
    pooled = getattr(op, f"{kind}_forward")(x, size, stride, pad, out=np.empty(out_shape, np.float32))
    assert pooled.dtype == np.float32
    expected = torch_pool_as_tensorflow(torch, kind, x, size, stride, pad)
    assert pooled.shape == expected.shape
    np.testing.assert_allclose(pooled, expected, FLOAT32_RTOL, FLOAT32_ATOL)
    tf_pool = tf.nn.max_pool2d if kind == "maxpool" else tf.nn.avg_pool2d
    expected = tf_pool(x, size, stride, mode.upper()).numpy()
    assert pooled.shape == expected.shape
    np.testing.assert_allclose(pooled, expected, FLOAT32_RTOL, FLOAT32_ATOL)


def test_padding_rule_matches_tensorflow_shapes_and_windows(tf):
    """same_padding and output_size against TensorFlow for sizes 1-9, kernels 1-4, strides 1-3.
    Average pooling, padding left out of the count, gives values that differ unless the windows
    start where TensorFlow's do, so comparing values checks the split of the padding too. A
    `valid` kernel larger than its input has no windows: 0 here, where TensorFlow gives an
    empty output or refuses a negative size."""
    avgpool = load_snippet("ops/avgpool.py")
    rng = np.random.default_rng(9)
    for size in range(1, 10):
        x = rng.standard_normal((1, size, size + 1, 1)).astype(np.float32)
        for kernel in range(1, 5):
            for stride in range(1, 4):
                for mode in ("valid", "same"):
                    window = (kernel, kernel)
                    pad = padding(x.shape, window, (stride, stride), mode)
                    out_shape = output_shape(x.shape, window, (stride, stride), pad, 1)
                    try:
                        expected = tf.nn.avg_pool2d(x, window, stride, mode.upper()).numpy()
                    except tf.errors.InvalidArgumentError:
                        assert mode == "valid" and kernel > size and out_shape[1] == 0
                        continue
                    assert out_shape == expected.shape, (size, kernel, stride, mode)
                    pooled = avgpool.avgpool_forward(x, window, (stride, stride), pad, out=np.empty(out_shape, np.float32))
                    np.testing.assert_allclose(pooled, expected, FLOAT32_RTOL, FLOAT32_ATOL,
                                               err_msg=f"size={size} kernel={kernel} stride={stride} {mode}")


# --- global pooling and flatten ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["global_avgpool", "global_maxpool"])
def test_global_pool_gradient(kind):
    op = load_snippet("ops/global_pool.py")
    forward, backward = getattr(op, f"{kind}_forward"), getattr(op, f"{kind}_backward")
    x, *_ = pool_case("2x2 stride 2 same, odd input")
    upstream = np.random.default_rng(10).standard_normal((x.shape[0], x.shape[3]))
    out = np.empty_like(upstream)
    pooled = forward(x, out=out).copy()
    reduce = np.mean if kind == "global_avgpool" else np.max
    np.testing.assert_allclose(pooled, reduce(x, axis=(1, 2)), rtol=1e-12)
    dx = np.full_like(x, 7.0)
    backward(upstream, *([x] if kind == "global_maxpool" else []), out=dx)
    assert_gradient(dx, numeric_gradient(lambda: float(np.sum(forward(x, out=out) * upstream)), x))


def test_global_maxpool_tie_goes_to_the_first_maximum():
    op = load_snippet("ops/global_pool.py")
    x = np.zeros((1, 2, 3, 1), np.float32)
    x[0, 1, 0, 0] = x[0, 1, 2, 0] = 1.0
    dx = op.global_maxpool_backward(np.array([[5.0]], np.float32), x, out=np.empty_like(x))
    assert dx[0, 1, 0, 0] == 5.0 and dx.sum() == 5.0


def test_global_pool_matches_keras(tf):
    keras = require_backend("keras")
    op = load_snippet("ops/global_pool.py")
    x = np.random.default_rng(11).standard_normal((3, 4, 5, 2)).astype(np.float32)
    for kind, layer in [("global_avgpool", keras.layers.GlobalAveragePooling2D()),
                        ("global_maxpool", keras.layers.GlobalMaxPooling2D())]:
        pooled = getattr(op, f"{kind}_forward")(x, out=np.empty((3, 2), np.float32))
        np.testing.assert_allclose(pooled, np.asarray(layer(x)), FLOAT32_RTOL, FLOAT32_ATOL)


def test_flatten_is_keras_order_and_its_backward_the_reshape_back(tf):
    keras = require_backend("keras")
    flatten = load_snippet("ops/flatten.py")
    x = np.random.default_rng(12).standard_normal((2, 3, 4, 5))
    flat = flatten.flatten_forward(x)
    assert flat.shape == (2, 60) and np.shares_memory(flat, x)
    np.testing.assert_array_equal(flat.astype(np.float32), np.asarray(keras.layers.Flatten()(x.astype(np.float32))))
    upstream = np.random.default_rng(13).standard_normal((2, 60))
    dx = flatten.flatten_backward(upstream, x)
    assert_gradient(dx, numeric_gradient(lambda: float(np.sum(flatten.flatten_forward(x) * upstream)), x))


# --- batch normalisation -------------------------------------------------------------------------

BATCHNORM_SHAPES = {"after dense (n, c)": (6, 3), "after conv2d (n, h, w, c)": (3, 2, 4, 3)}
MOMENTUM, EPS = 0.9, 1e-3


def batchnorm_case(shape, dtype=np.float64, seed: int = 14):
    """x with a per-channel offset and scale, γ and β, and running statistics away from the batch's."""
    rng = np.random.default_rng(seed)
    c = shape[-1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3, c) + rng.uniform(-2, 2, c)).astype(dtype)
    gamma, beta = rng.uniform(0.5, 2, c).astype(dtype), rng.standard_normal(c).astype(dtype)
    mean, var = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    return x, gamma, beta, mean, var


@pytest.mark.parametrize("shape", list(BATCHNORM_SHAPES.values()), ids=list(BATCHNORM_SHAPES))
def test_batchnorm_training_gradients_dx_dgamma_dbeta(shape):
    bn = load_snippet("ops/batchnorm.py")
    x, gamma, beta, mean, var = batchnorm_case(shape)
    upstream = np.random.default_rng(15).standard_normal(shape)
    out, xhat, inv_std = np.empty_like(x), np.empty_like(x), np.empty_like(gamma)

    def loss():  # the running statistics move on every call; the output does not depend on them
        return float(np.sum(bn.batchnorm_forward(x, gamma, beta, mean.copy(), var.copy(), MOMENTUM, EPS, True,
                                                 out=out, xhat=xhat, inv_std=inv_std) * upstream))

    loss()
    dgamma, dbeta, dx = np.empty_like(gamma), np.empty_like(beta), np.empty_like(x)
    bn.batchnorm_backward(upstream, xhat, inv_std, gamma, dgamma=dgamma, dbeta=dbeta, dx=dx)
    assert_gradient(dgamma, numeric_gradient(loss, gamma))
    assert_gradient(dbeta, numeric_gradient(loss, beta))
    assert_gradient(dx, numeric_gradient(loss, x))

    loss()  # xhat and inv_std again from the unperturbed x
    only_dx = np.empty_like(x)
    bn.batchnorm_backward(upstream, xhat, inv_std, gamma, dx=only_dx)  # γ and β frozen
    np.testing.assert_array_equal(only_dx, dx)


@pytest.mark.parametrize("shape", list(BATCHNORM_SHAPES.values()), ids=list(BATCHNORM_SHAPES))
def test_batchnorm_training_statistics_and_running_update(shape):
    """Batch mean and biased variance normalise; running = momentum·running + (1 − momentum)·batch,
    in place, with the biased variance."""
    bn = load_snippet("ops/batchnorm.py")
    x, gamma, beta, mean, var = batchnorm_case(shape)
    old_mean, old_var = mean.copy(), var.copy()
    out, xhat, inv_std = np.empty_like(x), np.empty_like(x), np.empty_like(gamma)
    bn.batchnorm_forward(x, gamma, beta, mean, var, MOMENTUM, EPS, True, out=out, xhat=xhat, inv_std=inv_std)
    axes = tuple(range(x.ndim - 1))
    batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)  # np.var: ddof=0, biased
    np.testing.assert_allclose(out, gamma * (x - batch_mean) / np.sqrt(batch_var + EPS) + beta, rtol=1e-12)
    np.testing.assert_allclose(xhat, (x - batch_mean) / np.sqrt(batch_var + EPS), rtol=1e-12)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(batch_var + EPS), rtol=1e-12)
    np.testing.assert_allclose(mean, MOMENTUM * old_mean + (1 - MOMENTUM) * batch_mean, rtol=1e-12)
    np.testing.assert_allclose(var, MOMENTUM * old_var + (1 - MOMENTUM) * batch_var, rtol=1e-12)


@pytest.mark.parametrize("shape", list(BATCHNORM_SHAPES.values()), ids=list(BATCHNORM_SHAPES))
def test_batchnorm_evaluation_uses_and_keeps_the_running_statistics(shape):
    bn = load_snippet("ops/batchnorm.py")
    x, gamma, beta, mean, var = batchnorm_case(shape)
    old_mean, old_var = mean.copy(), var.copy()
    out = bn.batchnorm_forward(x, gamma, beta, mean, var, MOMENTUM, EPS, False, out=np.empty_like(x))
    np.testing.assert_allclose(out, gamma * (x - mean) / np.sqrt(var + EPS) + beta, rtol=1e-12)
    np.testing.assert_array_equal(mean, old_mean)
    np.testing.assert_array_equal(var, old_var)

    upstream = np.random.default_rng(16).standard_normal(shape)
    dx = bn.batchnorm_inference_backward(upstream, gamma, var, EPS, dx=np.empty_like(x))
    numeric = numeric_gradient(
        lambda: float(np.sum(bn.batchnorm_forward(x, gamma, beta, mean, var, MOMENTUM, EPS, False, out=out) * upstream)),
        x)
    assert_gradient(dx, numeric)


@pytest.mark.parametrize("shape", list(BATCHNORM_SHAPES.values()), ids=list(BATCHNORM_SHAPES))
def test_batchnorm_matches_keras_in_both_modes(shape, tf):
    """keras.layers.BatchNormalization(momentum, epsilon): the output in training and in
    evaluation, and moving_mean / moving_variance after one training call."""
    keras = require_backend("keras")
    bn = load_snippet("ops/batchnorm.py")
    x, gamma, beta, mean, var = batchnorm_case(shape, np.float32)
    layer = keras.layers.BatchNormalization(momentum=MOMENTUM, epsilon=EPS)
    layer.build(x.shape)
    layer.set_weights([gamma, beta, mean, var])

    out, xhat, inv_std = np.empty_like(x), np.empty_like(x), np.empty_like(gamma)
    bn.batchnorm_forward(x, gamma, beta, mean, var, MOMENTUM, EPS, True, out=out, xhat=xhat, inv_std=inv_std)
    assert out.dtype == mean.dtype == var.dtype == np.float32
    np.testing.assert_allclose(out, np.asarray(layer(x, training=True)), FLOAT32_RTOL, FLOAT32_ATOL)
    np.testing.assert_allclose(mean, np.asarray(layer.moving_mean), FLOAT32_RTOL, FLOAT32_ATOL)
    np.testing.assert_allclose(var, np.asarray(layer.moving_variance), FLOAT32_RTOL, FLOAT32_ATOL)

    other = batchnorm_case(shape, np.float32, seed=17)[0]
    evaluated = bn.batchnorm_forward(other, gamma, beta, mean, var, MOMENTUM, EPS, False, out=np.empty_like(x))
    np.testing.assert_allclose(evaluated, np.asarray(layer(other, training=False)), FLOAT32_RTOL, FLOAT32_ATOL)


# --- a conv laid out pool-major for the max pool after it ------------------------------------

#: case -> conv case, pool size (stride = size): the conv map tiled exactly, or with a last row/column dropped
POOLED_CASES = {
    "3x3 same 5x5, 2x2 pool: a row and a column dropped": ("3x3 same", (2, 2)),
    "3x3 valid one channel 4x4, 2x2 pool": ("3x3 valid, one channel", (2, 2)),
    "2x3 valid stride 2 2x3, 2x1 pool": ("2x3 valid stride 2, a row left out", (2, 1)),
    "4x4 same stride 2 4x3, 3x2 pool: a row dropped": ("4x4 same stride 2", (3, 2)),
}


def pooled_case(case: str, dtype=np.float64):
    conv_name, pool = POOLED_CASES[case]
    x, W, b, stride, pad, _, (n, oh, ow, c_out) = conv_case(conv_name, dtype)
    qh, qw = oh // pool[0], ow // pool[1]
    return x, W, b, stride, pad, pool, (n, oh, ow, c_out), (pool[0] * pool[1], n, qh, qw, c_out)


def pooled_conv_forward(conv, x, W, b, stride, pad, pool, z_shape, im2col):
    patches = np.empty((np.prod(z_shape[:-1]), W[0].size), x.dtype, order=PATCH_LAYOUTS[im2col])
    getattr(conv, im2col)(x, W.shape[1:3], stride, pad, out=patches, pool=pool)
    return conv.conv2d_forward(patches, W, b, out=np.empty(z_shape, x.dtype)), patches


@pytest.mark.parametrize("im2col", list(PATCH_LAYOUTS))
@pytest.mark.parametrize("case", list(POOLED_CASES))
def test_pool_major_conv_is_the_conv_on_the_cells_the_pool_reads(case, im2col):
    """Block di·pw + dj holds conv cells (ph·i + di, pw·j + dj), the whole map's numbers (to BLAS's
    rounding: a product of other shapes may sum in another order)."""
    conv = load_snippet("ops/conv2d.py")
    x, W, b, stride, pad, pool, out_shape, z_shape = pooled_case(case)
    full = conv_forward(conv, x, W, b, stride, pad, np.empty(out_shape))[0]
    z = pooled_conv_forward(conv, x, W, b, stride, pad, pool, z_shape, im2col)[0]
    (ph, pw), (qh, qw) = pool, z_shape[2:4]
    for di in range(ph):
        for dj in range(pw):
            np.testing.assert_allclose(z[di * pw + dj], full[:, di : qh * ph : ph, dj : qw * pw : pw], rtol=1e-13,
                                       atol=1e-13)


@pytest.mark.parametrize("im2col", list(PATCH_LAYOUTS))
@pytest.mark.parametrize("case", list(POOLED_CASES))
def test_pool_major_conv_gradients_dx_dW_db(case, im2col):
    """conv2d_backward_pooled against finite differences of the pool-major forward from x."""
    conv = load_snippet("ops/conv2d.py")
    x, W, b, stride, pad, pool, _, z_shape = pooled_case(case)
    upstream = np.random.default_rng(1).standard_normal(z_shape)

    def loss():
        return float(np.sum(pooled_conv_forward(conv, x, W, b, stride, pad, pool, z_shape, im2col)[0] * upstream))

    _, patches = pooled_conv_forward(conv, x, W, b, stride, pad, pool, z_shape, im2col)
    dW, db, dx = np.empty_like(W), np.empty_like(b), np.full_like(x, 7.0)  # every cell of dx written
    _, n, qh, qw, c_out = z_shape
    dz_image = np.empty((n, qh * pool[0], qw * pool[1], c_out))
    conv.conv2d_backward_pooled(upstream, patches, W, stride, pad, pool, dW=dW, db=db, dx=dx, dz_image=dz_image)
    assert_gradient(dW, numeric_gradient(loss, W))
    assert_gradient(db, numeric_gradient(loss, b))
    assert_gradient(dx, numeric_gradient(loss, x))
    # ∂L/∂b from the pool's gradient: any dpooled whose cells are the sums of dz over the blocks
    from_pool = np.empty_like(b)
    conv.conv2d_backward_pooled(upstream, patches, W, stride, pad, pool, dW=dW, db=from_pool,
                                dpooled=upstream.sum(axis=0))
    np.testing.assert_allclose(from_pool, db, rtol=1e-12)


@pytest.mark.parametrize("case", ["2x2 stride 2", "2x2 stride 2 valid, odd input: a row and a column left out"])
def test_maxpool_blocks_is_maxpool_on_the_pool_major_layout(case):
    """maxpool_blocks_forward/backward give maxpool_forward/backward's numbers on the cells the
    windows read, ties included (the first offset, row by row, gets the gradient)."""
    maxpool = load_snippet("ops/maxpool.py")
    x, size, stride, pad, _, out_shape = pool_case(case)
    x[0, 0, 1] = x[0, 0, 0] = x[0, :2, :2].max()  # a tie in the first window
    n, qh, qw, c = out_shape
    (ph, pw) = size
    blocks = np.stack([x[:, di : qh * ph : ph, dj : qw * pw : pw] for di in range(ph) for dj in range(pw)])
    out, expected = np.empty(out_shape), np.empty(out_shape)
    maxpool.maxpool_forward(x, size, stride, pad, out=expected)
    np.testing.assert_array_equal(maxpool.maxpool_blocks_forward(blocks, out=out), expected)
    upstream = np.random.default_rng(5).standard_normal(out_shape)
    dx, dz = np.empty_like(x), np.full_like(blocks, 7.0)
    maxpool.maxpool_backward(upstream, x, expected, size, stride, pad, dx=dx)
    maxpool.maxpool_blocks_backward(upstream, blocks, out, dz=dz)
    for k, (di, dj) in enumerate((di, dj) for di in range(ph) for dj in range(pw)):
        np.testing.assert_array_equal(dz[k], dx[:, di : qh * ph : ph, dj : qw * pw : pw])
