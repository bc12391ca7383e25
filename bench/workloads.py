"""The three benchmark workloads, shared by every hand-written reference and by the runner.

* **small**: a 2-16-16-1 MLP (relu, relu, sigmoid fused with binary cross-entropy) on the
  TensorFlow Playground's XOR data, 500 samples, batch 32, SGD lr 0.03.
* **large**: a 784-1024-1024-10 MLP (relu, relu, softmax fused with categorical
  cross-entropy) on 16,384 synthetic samples, batch 256, SGD lr 0.01.
* **cnn**: MNIST's shape and the Keras MNIST example's network, 28x28x1 → conv2d 32 3x3 relu
  → maxpool 2 → conv2d 64 3x3 relu → maxpool 2 → flatten → dense 10 (softmax fused with
  categorical cross-entropy), on 4,096 synthetic digit-like images, batch 64, SGD lr 0.05.

Their specs are bench/specs/small.nn, large.nn and cnn.nn (``Workload.spec_text()`` writes the same).

All split 90/10 into training and validation exactly as nndsl does: shuffle all samples
with ``np.random.default_rng(data_seed).permutation(n)`` and train on the first
``floor(n * split)``. Weights follow nndsl's layout, ``W`` of shape (units, inputs) and
``z = x @ W.T + b``, a conv ``W`` (filters, kh, kw, in_channels) (docs/layers.md); ReLU layers
start He-normal (a conv's fan_in kh·kw·in_channels), the output Glorot-normal, biases zero,
drawn from nndsl's init stream; the batch order comes from its shuffle stream
(docs/reproducibility.md), so a reference and the generated code see the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
SPEC_DIR = BENCH_DIR / "specs"
LARGE_NPZ = SPEC_DIR / "large.npz"
CNN_NPZ = SPEC_DIR / "cnn.npz"


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
WORKLOADS = {w.name: w for w in (SMALL, LARGE, CNN)}


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
GENERATED_DATA = {LARGE_NPZ: teacher_arrays, CNN_NPZ: digit_arrays}


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


def tiny(workload: Workload, folder: Path, samples: int = 200, hidden: int = 64, seed: int = 3) -> Workload:
    """A scaled-down copy of a workload, for quick tests: same kind of task and output.

    Writes its spec (and, for classes, its .npz data) into `folder`. An image workload keeps
    its image size and layers (so the same pools divide or drop a row) with a quarter of the
    filters; an MLP of classes gets 20 features and `hidden` units.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"tiny-{workload.name}"
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
