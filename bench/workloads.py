"""The three benchmark workloads, shared by every hand-written reference and by the runner.

* **small**: a 2-16-16-1 MLP (relu, relu, sigmoid fused with binary cross-entropy) on the
  TensorFlow Playground's XOR data, 500 samples, batch 32, SGD lr 0.03.
* **large**: a 784-1024-1024-10 MLP (relu, relu, softmax fused with categorical
  cross-entropy) on 16,384 synthetic samples, batch 256, SGD lr 0.01.
* **cnn**: MNIST's shape and the Keras MNIST example's network, 28x28x1 → conv2d 32 3x3 relu
  → maxpool 2 → conv2d 64 3x3 relu → maxpool 2 → flatten → dense 10 (softmax fused with
  categorical cross-entropy), on 4,096 synthetic digit-like images, batch 64, SGD lr 0.05.
* **resmlp** (a ``ResidualWorkload``): 64 → dense 256 relu → three residual blocks
  y = relu(x + dense 256(dense 256 relu(x))) → dense 10, on 16,384 samples of a linear teacher,
  batch 128, SGD lr 0.01: where the residual adds and their gradient sums sit between products.
* **rescnn** (a ``ResidualWorkload``): 28x28x1 → conv2d 16 3x3 same relu → a residual block
  with the identity shortcut (two conv2d 16 3x3 same) → one with stride 2 and a 1x1 conv
  shortcut (conv2d 32) → global average pooling → dense 10, on 2,048 digit-like images, batch 64,
  SGD lr 0.05.

Their specs are bench/specs/*.nn (``spec_text()`` writes the same).

All split 90/10 into training and validation exactly as nndsl does: shuffle all samples
with ``np.random.default_rng(data_seed).permutation(n)`` and train on the first
``floor(n * split)``. Weights follow nndsl's layout, ``W`` of shape (units, inputs) and
``z = x @ W.T + b``, a conv ``W`` (filters, kh, kw, in_channels) (docs/layers.md); ReLU layers
start He-normal (a conv's fan_in kh·kw·in_channels), the output Glorot-normal, biases zero,
drawn from nndsl's init stream; the batch order comes from its shuffle stream
(docs/reproducibility.md), so a reference and the generated code see the same numbers.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
SPEC_DIR = BENCH_DIR / "specs"
LARGE_NPZ = SPEC_DIR / "large.npz"
CNN_NPZ = SPEC_DIR / "cnn.npz"
RESMLP_NPZ = SPEC_DIR / "resmlp.npz"
RESCNN_NPZ = SPEC_DIR / "rescnn.npz"


class Dataset(NamedTuple):
    """Training and validation arrays: float32 features; labels float32 (n, 1) for binary, int64 (n,) for classes."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True)
class Conv:
    """``conv2d FILTERS relu kernel=KERNEL`` (valid padding, stride 1), then ``maxpool POOL``
    (windows side by side; a row or column left over at the end is dropped, as Keras does)."""

    filters: int
    kernel: int = 3
    pool: int = 2


class ConvShapes(NamedTuple):
    """One conv layer and its pool on an image: (height, width, channels) of each, and the W shape."""

    inputs: tuple[int, int, int]
    conv: tuple[int, int, int]
    pooled: tuple[int, int, int]
    W: tuple[int, int, int, int]  # (filters, kh, kw, in_channels)


def conv_shapes(image: tuple[int, int, int], convs: tuple[Conv, ...]) -> list[ConvShapes]:
    """Each conv layer's input, output and pooled shapes and its W shape, as nndsl's checker infers them."""
    shapes = []
    h, w, c = image or (0, 0, 0)
    for conv in convs:
        oh, ow = h - conv.kernel + 1, w - conv.kernel + 1
        shapes.append(ConvShapes((h, w, c), (oh, ow, conv.filters), (oh // conv.pool, ow // conv.pool, conv.filters),
                                 (conv.filters, conv.kernel, conv.kernel, c)))
        h, w, c = shapes[-1].pooled
    return shapes


def flattened(image: tuple[int, int, int], convs: tuple[Conv, ...]) -> int:
    """The width of the flatten after the convs and pools."""
    return math.prod(conv_shapes(image, convs)[-1].pooled if convs else image)


@dataclass(frozen=True)
class Workload:
    """One benchmark: the network's widths, the training settings and where its data comes from.

    ``layers`` lists the widths from the input to the output; every hidden layer is ReLU,
    the output is a sigmoid (one unit) or softmax (several) fused with its cross-entropy.
    With an ``image`` input (height, width, channels), the ``convs`` come first and ``layers``
    are the dense widths after the flatten, from the flattened width (checked) to the output.
    The data are the Playground's XOR set of ``samples`` points (binary) or the arrays ``x``
    and ``y`` of the .npz file ``data_file`` (classes). ``spec`` is the nndsl spec of the
    same experiment; ``spec_text()`` writes it from these fields.
    """

    name: str
    layers: tuple[int, ...]
    batch: int
    lr: float
    epochs: int  # the runner's default epochs per timed repetition
    spec: Path
    data_seed: int
    samples: int = 500
    data_file: Path | None = None
    split: float = 0.9
    train_seed: int = 1
    spec_epochs: int = 1  # the spec's `epochs`: a whole training run
    image: tuple[int, int, int] | None = None
    convs: tuple[Conv, ...] = ()

    def __post_init__(self):
        if self.image is not None and self.layers[0] != flattened(self.image, self.convs):
            raise ValueError(f"{self.name}: the flatten gives {flattened(self.image, self.convs)} features, "
                             f"layers starts at {self.layers[0]}")

    @property
    def binary(self) -> bool:
        return self.layers[-1] == 1

    @property
    def kind(self) -> str:
        """Which hand-written reference class trains it: "mlp" or "cnn"."""
        return "cnn" if self.image is not None else "mlp"

    def conv_shapes(self) -> list[ConvShapes]:
        return conv_shapes(self.image, self.convs)

    def parameter_layers(self) -> list[str]:
        """nndsl's names of the layers with parameters, in the order of initial_weights()."""
        return ([f"conv2d_{i}" for i in range(1, len(self.convs) + 1)]
                + [f"dense_{i}" for i in range(1, len(self.layers))])

    def initial_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(W, b), …] per layer with parameters, the convs first: where the generated code starts."""
        return initial_weights(self.layers, self.train_seed, [shapes.W for shapes in self.conv_shapes()])

    def reference_args(self) -> tuple:
        """What every hand-written reference is constructed from: the split data, the convs (for an
        image workload), the dense widths, the initial weights, batch, learning rate and seed."""
        convs = (self.convs,) if self.image is not None else ()
        return (*self.load(), *convs, self.layers, self.initial_weights(), self.batch, self.lr, self.train_seed)

    def load(self) -> Dataset:
        """The workload's data, shuffled and split the way nndsl splits it."""
        if self.data_file is None:
            return xor_dataset(samples=self.samples, noise=0.0, seed=self.data_seed, split=self.split)
        if self.data_file in GENERATED_DATA:
            ensure_npz(self.data_file)
        with np.load(self.data_file, allow_pickle=False) as stored:
            x, y = stored["x"], stored["y"]
        if x.ndim == 3:  # images of one channel, as nndsl's load_npz reads them
            x = x[..., np.newaxis]
        return split_like_nndsl(np.random.default_rng(self.data_seed), x, y.astype(np.int64), self.split)

    def spec_text(self) -> str:
        """The nndsl spec of this workload (its data file named relative to the spec's folder)."""
        if self.data_file is None:
            data = f"data xor(samples={self.samples}, noise=0.0, seed={self.data_seed}) {{\n    features x1, x2\n"
        else:
            data = f'data npz("{self.data_file.name}", seed={self.data_seed}) {{\n'
        if self.image is None:
            head = f"    input {self.layers[0]}\n"
        else:
            head = f"    input {'x'.join(map(str, self.image))}\n" + "".join(
                f"    conv2d {conv.filters} relu kernel={conv.kernel}\n    maxpool {conv.pool}\n" for conv in self.convs
            ) + "    flatten\n"
        hidden = "".join(f"    dense {units} relu\n" for units in self.layers[1:-1])
        output = "sigmoid" if self.binary else "softmax"
        loss = "binary_crossentropy" if self.binary else "categorical_crossentropy"
        return (
            f"{data}    split {self.split}\n}}\n\n"
            f"model {self.name.replace('-', '_')} {{\n{head}{hidden}"
            f"    dense {self.layers[-1]} {output}\n}}\n\n"
            f"loss {loss}\n\n"
            f"train {{\n    optimizer sgd(lr={self.lr})\n    batch {self.batch}\n    epochs {self.spec_epochs}\n"
            f"    metrics accuracy\n    seed {self.train_seed}\n}}\n"
        )

    def products(self, rows: int) -> list[tuple[str, int, int, int]]:
        """(what, m, k, n) of C = A·B for each matrix product of a training step on `rows` samples.

        A conv is a dense layer on its im2col matrix, one row per output cell (rows·oh·ow of
        them, kh·kw·c_in wide): forward patches·Wᵀ, ∂L/∂W = dzᵀ·patches, ∂L/∂patches = dz·W;
        a dense layer x·Wᵀ, dzᵀ·x, dz·W. Nothing needs ∂L/∂x of the first layer (the data).
        """
        layers = [(f"conv{i}", rows * s.conv[0] * s.conv[1], math.prod(s.W[1:]), s.W[0])
                  for i, s in enumerate(self.conv_shapes(), start=1)]
        layers += [(f"dense{i}", rows, n_in, n_out)
                   for i, (n_in, n_out) in enumerate(zip(self.layers[:-1], self.layers[1:], strict=True), start=1)]
        found = []
        for index, (name, m, k, n) in enumerate(layers):
            found += [(f"{name} forward", m, k, n), (f"{name} ∂W", n, m, k)]
            if index > 0:
                found.append((f"{name} ∂x", m, n, k))
        return found

    def flops_per_epoch(self, n_train: int, n_val: int) -> float:
        """Floating-point operations of the matrix products of one epoch, validation included.

        2·m·n·k per product (products()): the forward pass, ∂L/∂W of every layer, and ∂L/∂x of
        every layer but the first (nothing needs the gradient with respect to the input data).
        """
        step = sum(2 * m * k * n for _, m, k, n in self.products(1))
        forward = sum(2 * m * k * n for what, m, k, n in self.products(1) if what.endswith("forward"))
        return float(n_train * step + n_val * forward)


SMALL = Workload(
    name="small", layers=(2, 16, 16, 1), batch=32, lr=0.03, epochs=20, spec=SPEC_DIR / "small.nn", data_seed=7,
    samples=500, spec_epochs=200,
)
LARGE = Workload(
    name="large", layers=(784, 1024, 1024, 10), batch=256, lr=0.01, epochs=1, spec=SPEC_DIR / "large.nn",
    data_seed=11, samples=16384, data_file=LARGE_NPZ, spec_epochs=3,
)
CNN = Workload(
    name="cnn", layers=(1600, 10), batch=64, lr=0.05, epochs=1, spec=SPEC_DIR / "cnn.nn", data_seed=13,
    samples=4096, data_file=CNN_NPZ, spec_epochs=3, image=(28, 28, 1), convs=(Conv(32), Conv(64)),
)


@dataclass(frozen=True)
class Block:
    """``residual { LAYER units relu; LAYER units } [shortcut { LAYER units }]`` then ``activation relu``.

    In an MLP both layers are dense; in a CNN both are 3x3 convs with padding=same, the first
    with ``stride``. The shortcut (a dense layer, or a 1x1 conv with ``stride``) is there when
    the block changes the width or the image size, else the input is added as it is.
    """

    units: int
    stride: int = 1


class ParameterLayer(NamedTuple):
    """A layer with W and b: nndsl's name, W's shape in nndsl's layout, and whether a ReLU follows it."""

    name: str
    W: tuple[int, ...]
    relu: bool


@dataclass(frozen=True)
class ResidualWorkload:
    """A benchmark of residual blocks: a stem layer, ``blocks``, then the softmax output.

    MLP (``image`` None): input ``inputs`` → dense ``width`` relu → the blocks → dense ``classes``.
    CNN (``image`` (h, w, c)): input image → conv2d ``width`` relu kernel=3 padding=same → the blocks
    → global_avgpool → dense ``classes``. Softmax fused with categorical cross-entropy; the data
    are the arrays x, y of ``data_file`` (generated on first use); the fields otherwise as
    Workload's. The hand-written references are built from reference_args().
    """

    name: str
    width: int
    blocks: tuple[Block, ...]
    classes: int
    batch: int
    lr: float
    epochs: int
    spec: Path
    data_seed: int
    data_file: Path
    samples: int
    inputs: int = 0
    image: tuple[int, int, int] | None = None
    split: float = 0.9
    train_seed: int = 1
    spec_epochs: int = 1

    @property
    def binary(self) -> bool:
        return False

    @property
    def kind(self) -> str:
        """Which hand-written reference class trains it: "resmlp" or "rescnn"."""
        return "rescnn" if self.image is not None else "resmlp"

    def parameter_specs(self) -> list[ParameterLayer]:
        """Every layer with parameters in the spec's order (nndsl's numbering and initialisation order)."""
        conv = self.image is not None
        kind, count = ("conv2d" if conv else "dense"), 0

        def layer(units, inputs, kernel, relu):
            nonlocal count
            count += 1
            return ParameterLayer(f"{kind}_{count}", (units, kernel, kernel, inputs) if conv else (units, inputs), relu)

        found = [layer(self.width, self.image[2] if conv else self.inputs, 3, True)]
        width = self.width
        for block in self.blocks:
            found += [layer(block.units, width, 3, True), layer(block.units, block.units, 3, False)]
            if block.units != width or block.stride != 1:
                found.append(layer(block.units, width, 1, False))
            width = block.units
        output = ParameterLayer("dense_1" if conv else f"dense_{count + 1}", (self.classes, width), False)
        return [*found, output]

    def parameter_layers(self) -> list[str]:
        return [layer.name for layer in self.parameter_specs()]

    def initial_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(W, b), …] in parameter_specs() order, drawn as nndsl draws them: He-normal before a ReLU,
        Glorot-normal elsewhere (a conv's fans kh·kw·c_in and kh·kw·c_out), biases zero."""
        rng = random_streams(self.train_seed)[0]
        weights = []
        for layer in self.parameter_specs():
            receptive = math.prod(layer.W[1:-1])  # kh·kw for a conv, 1 for a dense layer
            fan_in, fan_out = layer.W[-1] * receptive, layer.W[0] * receptive
            std = math.sqrt(2.0 / fan_in) if layer.relu else math.sqrt(2.0 / (fan_in + fan_out))
            weights.append(((rng.standard_normal(layer.W) * std).astype(np.float32), np.zeros(layer.W[0], np.float32)))
        return weights

    def reference_args(self) -> tuple:
        """The split data, the stem width, the blocks, the classes, the initial weights, batch, lr and seed."""
        return (*self.load(), self.width, self.blocks, self.classes, self.initial_weights(), self.batch, self.lr,
                self.train_seed)

    def load(self) -> Dataset:
        if self.data_file in GENERATED_DATA:
            ensure_npz(self.data_file)
        with np.load(self.data_file, allow_pickle=False) as stored:
            x, y = stored["x"], stored["y"]
        if x.ndim == 3:
            x = x[..., np.newaxis]
        return split_like_nndsl(np.random.default_rng(self.data_seed), x, y.astype(np.int64), self.split)

    def spec_text(self) -> str:
        conv = self.image is not None
        same = " kernel=3 padding=same" if conv else ""

        def layer(units, relu=False, stride=1, kernel=None):
            name = "conv2d" if conv else "dense"
            options = (f" kernel={kernel}" if kernel else same) + (f" stride={stride}" if stride != 1 else "")
            return f"{name} {units}{' relu' if relu else ''}{options if conv else ''}"

        lines = [f"input {'x'.join(map(str, self.image)) if conv else self.inputs}", layer(self.width, relu=True)]
        width = self.width
        for block in self.blocks:
            lines += ["residual {", "    " + layer(block.units, relu=True, stride=block.stride),
                      "    " + layer(block.units), "}"]
            if block.units != width or block.stride != 1:
                lines[-1] = "} shortcut {"
                lines += ["    " + layer(block.units, stride=block.stride, kernel=1), "}"]
            lines.append("activation relu")
            width = block.units
        lines += ["global_avgpool"] * conv + [f"dense {self.classes} softmax"]
        body = "".join(f"    {line}\n" for line in lines)
        return (
            f'data npz("{self.data_file.name}", seed={self.data_seed}) {{\n    split {self.split}\n}}\n\n'
            f"model {self.name.replace('-', '_')} {{\n{body}}}\n\n"
            f"loss categorical_crossentropy\n\n"
            f"train {{\n    optimizer sgd(lr={self.lr})\n    batch {self.batch}\n    epochs {self.spec_epochs}\n"
            f"    metrics accuracy\n    seed {self.train_seed}\n}}\n"
        )

    def cells(self) -> list[int]:
        """Per layer of parameter_specs(), the cells of its output per sample: a conv's h·w (a stride
        divides the size, rounding up, for padding=same and for the 1x1 shortcut alike), 1 for dense."""
        layers = self.parameter_specs()
        if self.image is None:
            return [1] * len(layers)
        h, w = self.image[:2]
        found, width = [h * w], self.width
        for block in self.blocks:
            h, w = -(-h // block.stride), -(-w // block.stride)
            found += [h * w] * (3 if block.units != width or block.stride != 1 else 2)
            width = block.units
        return [*found, 1]

    def products(self, rows: int) -> list[tuple[str, int, int, int]]:
        """(what, m, k, n) of each matrix product of a training step on `rows` samples, as
        Workload.products counts them (a conv as its im2col product, one row per output cell)."""
        found = []
        for index, (layer, cells) in enumerate(zip(self.parameter_specs(), self.cells(), strict=True)):
            m, k, n = rows * cells, math.prod(layer.W[1:]), layer.W[0]
            found += [(f"{layer.name} forward", m, k, n), (f"{layer.name} ∂W", n, m, k)]
            if index > 0:
                found.append((f"{layer.name} ∂x", m, n, k))
        return found

    def flops_per_epoch(self, n_train: int, n_val: int) -> float:
        step = sum(2 * m * k * n for _, m, k, n in self.products(1))
        forward = sum(2 * m * k * n for what, m, k, n in self.products(1) if what.endswith("forward"))
        return float(n_train * step + n_val * forward)


RESMLP = ResidualWorkload(
    name="resmlp", inputs=64, width=256, blocks=(Block(256),) * 3, classes=10, batch=128, lr=0.01, epochs=1,
    spec=SPEC_DIR / "resmlp.nn", data_seed=17, data_file=RESMLP_NPZ, samples=16384, spec_epochs=3,
)
RESCNN = ResidualWorkload(
    name="rescnn", image=(28, 28, 1), width=16, blocks=(Block(16), Block(32, stride=2)), classes=10, batch=64,
    lr=0.05, epochs=1, spec=SPEC_DIR / "rescnn.nn", data_seed=19, data_file=RESCNN_NPZ, samples=2048, spec_epochs=3,
)
WORKLOADS = {w.name: w for w in (SMALL, LARGE, CNN, RESMLP, RESCNN)}


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """(output cells, padding before, padding after) along one axis for padding=same, as Keras and
    nndsl pad: ceil(size / stride) cells, the odd cell of padding after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def split_like_nndsl(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, fraction: float) -> Dataset:
    """Shuffle all samples with ``rng.permutation``, train on the first floor(n·fraction), validate on the rest."""
    order = rng.permutation(len(x))
    n_train = math.floor(len(x) * fraction)
    train, val = order[:n_train], order[n_train:]
    return Dataset(x[train], y[train], x[val], y[val])


def xor_points(rng: np.random.Generator, samples: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The Playground's XOR set (``classifyXORData`` in its dataset.ts), vectorised.

    x and y uniform in [-5, 5], each pushed 0.3 away from zero; the label is 1 where
    (x + noise_x)·(y + noise_y) >= 0 (the Playground's +1), else 0, with the noise uniform
    in [-5, 5] scaled by ``noise``.
    """
    padding = 0.3
    x = rng.uniform(-5, 5, samples)
    y = rng.uniform(-5, 5, samples)
    x += np.where(x > 0, padding, -padding)
    y += np.where(y > 0, padding, -padding)
    noise_x = rng.uniform(-5, 5, samples) * noise
    noise_y = rng.uniform(-5, 5, samples) * noise
    labels = ((x + noise_x) * (y + noise_y) >= 0).astype(np.int64)
    return np.stack([x, y], axis=1), labels


def xor_dataset(samples: int = 500, noise: float = 0.0, seed: int = 7, split: float = 0.9) -> Dataset:
    """XOR points as float32 features (x1, x2) with float32 0/1 labels of shape (n, 1).

    Like nndsl, one generator draws the points and then the split.
    """
    rng = np.random.default_rng(seed)
    points, labels = xor_points(rng, samples, noise)
    x = points.astype(np.float32)
    y = labels.astype(np.float32).reshape(-1, 1)
    return split_like_nndsl(rng, x, y, split)


def teacher_arrays(samples: int = 16384, features: int = 784, classes: int = 10, seed: int = 2024):
    """Synthetic classification data a network can learn: x ~ N(0, 1) in float32, labels from a
    fixed random linear teacher, argmax(x·T). Returns (x, y) with y int64 in 0 … classes−1."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, features), dtype=np.float32)
    teacher = rng.standard_normal((features, classes), dtype=np.float32) / np.float32(math.sqrt(features))
    y = np.argmax(x @ teacher, axis=1).astype(np.int64)
    return x, y


def blurred(images: np.ndarray, sigma: float) -> np.ndarray:
    """Each image (the last two axes) convolved with a Gaussian of `sigma` pixels, zero outside."""
    radius = math.ceil(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    for axis in (-2, -1):
        images = np.apply_along_axis(np.convolve, axis, images, kernel, mode="same")
    return images


def digit_arrays(samples: int = 4096, size: int = 28, classes: int = 10, seed: int = 2025):
    """Synthetic MNIST-shaped data a CNN can learn: x float32 (samples, size, size) in [0, 1], y int64.

    Each class has a prototype of three blurred strokes (random walks of 40 half-pixel steps);
    a sample is its class's prototype shifted by up to 3 pixels either way (wrapping round),
    scaled by a contrast in [0.6, 1.2], plus Gaussian noise of 0.15, clipped to [0, 1]. The
    shifts make it a task for convolutions rather than for one template per class.
    """
    rng = np.random.default_rng(seed)
    prototypes = np.zeros((classes, size, size))
    low, high = size / 7, size - 1 - size / 7
    for c in range(classes):
        for _ in range(3):
            y, x = rng.uniform(size * 2 / 7, size * 5 / 7, 2)
            angle = rng.uniform(0, 2 * np.pi)
            for _ in range(40):
                angle += rng.normal(0, 0.3)
                y = min(max(y + 0.5 * math.sin(angle), low), high)
                x = min(max(x + 0.5 * math.cos(angle), low), high)
                prototypes[c, int(y), int(x)] = 1.0
    prototypes = blurred(prototypes, 1.0)
    prototypes /= prototypes.max(axis=(1, 2), keepdims=True)
    labels = rng.integers(0, classes, samples)
    shifts = rng.integers(-3, 4, (samples, 2))
    rows = (np.arange(size) - shifts[:, :1]) % size  # (samples, size): the prototype's row for each row
    cols = (np.arange(size) - shifts[:, 1:]) % size
    images = prototypes[labels[:, None, None], rows[:, :, None], cols[:, None, :]]
    images = images * rng.uniform(0.6, 1.2, (samples, 1, 1)) + rng.normal(0, 0.15, images.shape)
    return np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int64)


#: the data files written on first use, each with the function that makes its (x, y)
GENERATED_DATA = {
    LARGE_NPZ: teacher_arrays,
    CNN_NPZ: digit_arrays,
    RESMLP_NPZ: functools.partial(teacher_arrays, samples=16384, features=64, seed=2027),
    RESCNN_NPZ: functools.partial(digit_arrays, samples=2048, seed=2026),
}


def ensure_npz(path: Path) -> Path:
    """Write a generated workload's data file (arrays ``x`` and ``y``) unless it is there already."""
    if not path.exists():
        x, y = GENERATED_DATA[path]()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as stream:
            np.savez(stream, x=x, y=y)
        partial.replace(path)
    return path


def random_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """nndsl's three generators for a training seed: initial weights, batch order, dropout."""
    init, shuffle, dropout = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(init), np.random.default_rng(shuffle), np.random.default_rng(dropout)


def shuffle_stream(seed: int) -> np.random.Generator:
    """The generator nndsl draws each epoch's ``permutation(n_train)`` from."""
    return random_streams(seed)[1]


def initial_weights(layers: tuple[int, ...], seed: int = 1, convs=()) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) per layer in nndsl's layout, float32: He-normal for the ReLU layers, Glorot-normal for the output.

    `convs` are the W shapes (filters, kh, kw, in_channels) of ReLU conv layers before the dense
    ones, He-normal with fan_in kh·kw·in_channels. Drawn as nndsl draws them (W then b, layer
    by layer, from the init stream, in float64 and then cast), so every reference starts where
    the generated code starts.
    """
    rng = random_streams(seed)[0]
    weights = []
    for shape in convs:
        W = (rng.standard_normal(shape) * math.sqrt(2.0 / math.prod(shape[1:]))).astype(np.float32)
        weights.append((W, np.zeros(shape[0], dtype=np.float32)))
    pairs = list(zip(layers[:-1], layers[1:], strict=True))
    for index, (n_in, n_out) in enumerate(pairs):
        is_output = index == len(pairs) - 1
        std = math.sqrt(2.0 / (n_in + n_out)) if is_output else math.sqrt(2.0 / n_in)
        W = (rng.standard_normal((n_out, n_in)) * std).astype(np.float32)
        weights.append((W, np.zeros(n_out, dtype=np.float32)))
    return weights


def keras_kernel(W: np.ndarray) -> np.ndarray:
    """nndsl's W as a Keras/TensorFlow kernel: dense (units, inputs) → (inputs, units), conv
    (filters, kh, kw, c_in) → (kh, kw, c_in, filters)."""
    return W.T if W.ndim == 2 else W.transpose(1, 2, 3, 0)


def ir_kernel(kernel: np.ndarray) -> np.ndarray:
    """A Keras/TensorFlow kernel in nndsl's layout again (keras_kernel's inverse)."""
    return kernel.T if kernel.ndim == 2 else kernel.transpose(3, 0, 1, 2)


def tiny(workload, folder: Path, samples: int = 200, hidden: int = 64, seed: int = 3) -> Workload:
    """A scaled-down copy of a workload, for quick tests: same kind of task and output.

    Writes its spec (and, for classes, its .npz data) into `folder`. An image workload keeps
    its image size and layers (so the same pools divide or drop a row) with a quarter of the
    filters; an MLP of classes gets 20 features and `hidden` units.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"tiny-{workload.name}"
    if isinstance(workload, ResidualWorkload):
        return tiny_residual(workload, folder, name, samples, seed)
    data_file = None
    layers, convs = workload.layers, workload.convs
    if workload.image is not None:
        x, y = digit_arrays(samples=samples, size=workload.image[0], classes=workload.layers[-1], seed=seed)
        data_file = folder / f"{name}.npz"
        np.savez(data_file, x=x, y=y)
        convs = tuple(replace(conv, filters=max(conv.filters // 4, 1)) for conv in workload.convs)
        layers = (flattened(workload.image, convs), *workload.layers[1:])
    elif not workload.binary:
        x, y = teacher_arrays(samples=samples, features=20, classes=workload.layers[-1], seed=seed)
        data_file = folder / f"{name}.npz"
        np.savez(data_file, x=x, y=y)
        layers = (20, hidden, hidden, workload.layers[-1])
    small_copy = Workload(
        name=name,
        layers=layers,
        batch=min(workload.batch, 32),
        lr=workload.lr if workload.binary else 0.05,
        epochs=2,
        spec=folder / f"{name}.nn",
        data_seed=seed,
        samples=samples,
        data_file=data_file,
        split=workload.split,
        spec_epochs=2,
        image=workload.image,
        convs=convs,
    )
    small_copy.spec.write_text(small_copy.spec_text(), encoding="utf-8")
    return small_copy


def tiny_residual(workload: ResidualWorkload, folder: Path, name: str, samples: int, seed: int) -> ResidualWorkload:
    """tiny() of a residual workload: the same blocks a quarter (CNN) or an eighth (MLP) as wide,
    20 features for the MLP, images of half the size for the CNN (14x14: even, as 28, so a stride
    of 2 pads the same way, then odd, 7x7)."""
    data_file = folder / f"{name}.npz"
    image = None
    if workload.image is not None:
        image = (workload.image[0] // 2, workload.image[1] // 2, workload.image[2])
        x, y = digit_arrays(samples=samples, size=image[0], classes=workload.classes, seed=seed)
        shrink, inputs = 4, 0
    else:
        x, y = teacher_arrays(samples=samples, features=20, classes=workload.classes, seed=seed)
        shrink, inputs = 8, 20
    np.savez(data_file, x=x, y=y)
    small_copy = replace(
        workload, name=name, inputs=inputs, image=image, width=max(workload.width // shrink, 1),
        blocks=tuple(replace(block, units=max(block.units // shrink, 1)) for block in workload.blocks),
        batch=min(workload.batch, 32), epochs=2, spec=folder / f"{name}.nn", data_seed=seed, data_file=data_file,
        samples=samples, spec_epochs=2,
    )
    small_copy.spec.write_text(small_copy.spec_text(), encoding="utf-8")
    return small_copy
