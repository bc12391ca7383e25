"""The two benchmark workloads, shared by every hand-written reference and by the runner.

* **small**: a 2-16-16-1 MLP (relu, relu, sigmoid fused with binary cross-entropy) on the
  TensorFlow Playground's XOR data, 500 samples, batch 32, SGD lr 0.03.
* **large**: a 784-1024-1024-10 MLP (relu, relu, softmax fused with categorical
  cross-entropy) on 16,384 synthetic samples, batch 256, SGD lr 0.01.

Their specs are bench/specs/small.nn and large.nn (``Workload.spec_text()`` writes the same).

Both split 90/10 into training and validation exactly as nndsl does: shuffle all samples
with ``np.random.default_rng(data_seed).permutation(n)`` and train on the first
``floor(n * split)``. Weights follow nndsl's layout, ``W`` of shape (units, inputs) and
``z = x @ W.T + b``; ReLU layers start He-normal, the output Glorot-normal, biases zero,
drawn from nndsl's init stream; the batch order comes from its shuffle stream
(docs/reproducibility.md), so a reference and the generated code see the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
SPEC_DIR = BENCH_DIR / "specs"
LARGE_NPZ = SPEC_DIR / "large.npz"


class Dataset(NamedTuple):
    """Training and validation arrays: float32 features; labels float32 (n, 1) for binary, int64 (n,) for classes."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True)
class Workload:
    """One benchmark: the network's widths, the training settings and where its data comes from.

    ``layers`` lists the widths from the input to the output; every hidden layer is ReLU,
    the output is a sigmoid (one unit) or softmax (several) fused with its cross-entropy.
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

    @property
    def binary(self) -> bool:
        return self.layers[-1] == 1

    def load(self) -> Dataset:
        """The workload's data, shuffled and split the way nndsl splits it."""
        if self.data_file is None:
            return xor_dataset(samples=self.samples, noise=0.0, seed=self.data_seed, split=self.split)
        if self.data_file == LARGE_NPZ:
            ensure_large_npz()
        with np.load(self.data_file, allow_pickle=False) as stored:
            x, y = stored["x"], stored["y"]
        return split_like_nndsl(np.random.default_rng(self.data_seed), x, y.astype(np.int64), self.split)

    def spec_text(self) -> str:
        """The nndsl spec of this workload (its data file named relative to the spec's folder)."""
        if self.data_file is None:
            data = f"data xor(samples={self.samples}, noise=0.0, seed={self.data_seed}) {{\n    features x1, x2\n"
        else:
            data = f'data npz("{self.data_file.name}", seed={self.data_seed}) {{\n'
        hidden = "".join(f"    dense {units} relu\n" for units in self.layers[1:-1])
        output = "sigmoid" if self.binary else "softmax"
        loss = "binary_crossentropy" if self.binary else "categorical_crossentropy"
        return (
            f"{data}    split {self.split}\n}}\n\n"
            f"model {self.name.replace('-', '_')} {{\n    input {self.layers[0]}\n{hidden}"
            f"    dense {self.layers[-1]} {output}\n}}\n\n"
            f"loss {loss}\n\n"
            f"train {{\n    optimizer sgd(lr={self.lr})\n    batch {self.batch}\n    epochs {self.spec_epochs}\n"
            f"    metrics accuracy\n    seed {self.train_seed}\n}}\n"
        )

    def flops_per_epoch(self, n_train: int, n_val: int) -> float:
        """Floating-point operations of the matrix products of one epoch, validation included.

        2·m·n·k per product: the forward pass, ∂L/∂W of every layer, and ∂L/∂x of every layer
        but the first (nothing needs the gradient with respect to the input data).
        """
        pairs = list(zip(self.layers[:-1], self.layers[1:], strict=True))
        forward = sum(2 * n_in * n_out for n_in, n_out in pairs)
        weight_grad = forward
        input_grad = sum(2 * n_in * n_out for n_in, n_out in pairs[1:])
        return float(n_train * (forward + weight_grad + input_grad) + n_val * forward)


SMALL = Workload(
    name="small", layers=(2, 16, 16, 1), batch=32, lr=0.03, epochs=20, spec=SPEC_DIR / "small.nn", data_seed=7,
    samples=500, spec_epochs=200,
)
LARGE = Workload(
    name="large", layers=(784, 1024, 1024, 10), batch=256, lr=0.01, epochs=1, spec=SPEC_DIR / "large.nn",
    data_seed=11, samples=16384, data_file=LARGE_NPZ, spec_epochs=3,
)
WORKLOADS = {w.name: w for w in (SMALL, LARGE)}


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


def ensure_large_npz(path: Path = LARGE_NPZ) -> Path:
    """Write the large workload's data file (arrays ``x`` and ``y``) unless it is there already."""
    if not path.exists():
        x, y = teacher_arrays()
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


def initial_weights(layers: tuple[int, ...], seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) per layer in nndsl's layout, float32: He-normal for the ReLU layers, Glorot-normal for the output.

    Drawn as nndsl draws them (W then b, layer by layer, from the init stream, in float64 and
    then cast), so every reference starts where the generated code starts.
    """
    rng = random_streams(seed)[0]
    weights = []
    pairs = list(zip(layers[:-1], layers[1:], strict=True))
    for index, (n_in, n_out) in enumerate(pairs):
        is_output = index == len(pairs) - 1
        std = math.sqrt(2.0 / (n_in + n_out)) if is_output else math.sqrt(2.0 / n_in)
        W = (rng.standard_normal((n_out, n_in)) * std).astype(np.float32)
        weights.append((W, np.zeros(n_out, dtype=np.float32)))
    return weights


def tiny(workload: Workload, folder: Path, samples: int = 200, hidden: int = 64, seed: int = 3) -> Workload:
    """A scaled-down copy of a workload, for quick tests: same kind of task and output.

    Writes its spec (and, for classes, its .npz data) into `folder`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"tiny-{workload.name}"
    data_file = None
    layers = workload.layers
    if not workload.binary:
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
    )
    small_copy.spec.write_text(small_copy.spec_text(), encoding="utf-8")
    return small_copy
