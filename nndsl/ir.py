"""The checked IR: what a spec means, independent of any backend.

Every node is a frozen dataclass carrying the `Span` it came from (spans never
take part in equality, so a reformatted spec gives an equal IR). `nndsl.check`
builds it and guarantees it is complete and consistent: names resolved, widths
inferred, defaults filled in. Backends read it and never second-guess it.

Conventions fixed here, once, for every backend:

* **Layout.** A dense layer computes ``y = W·x + b`` as the lecture writes it:
  ``W`` has shape ``(units, in_features)`` (n_out × n_in) and ``b`` has shape
  ``(units,)``. Batches are rows: inputs are ``(batch, features)``, so the
  generated code computes ``x @ W.T + b``. PyTorch's ``nn.Linear.weight`` has
  this layout already; a Keras ``Dense.kernel`` is ``W.T``.
* **Names.** Layers are named by the spec (``name=``) or ``<kind>_<k>`` with
  ``k`` counting layers of that kind from 1 (``dense_1``, ``dense_2``,
  ``dropout_1``). Parameters are ``<layer>.W`` and ``<layer>.b``; these are the
  keys of every saved ``weights.npz``.
* **Numbers.** Parameters, activations and data are float32. Class labels are
  integers ``0 … classes-1``; binary labels are 0.0/1.0.
* **Losses** are means over the batch (and over output units), regularisation
  penalties are added to them, and a sigmoid or softmax output paired with its
  cross-entropy is computed in the fused, numerically stable form.
* **Randomness** comes only from NumPy generators seeded as docs/reproducibility.md
  describes, so every backend draws the same initial weights, data and batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, is_dataclass

from nndsl.source import Span

NO_SPAN = Span(1, 1, 1, 1)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)


# --- model -------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An element-wise (or, for softmax, row-wise) non-linearity.

    `alpha` is leaky_relu's negative slope or elu's scale; None for the others.
    """

    name: str
    alpha: float | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Initializer:
    """How a parameter starts.

    kind: glorot_normal (σ² = 2/(n_in+n_out)), he_normal (σ² = 2/n_in),
    glorot_uniform (limit √(6/(n_in+n_out))), he_uniform (limit √(6/n_in)),
    zeros, ones, constant (`value`), normal (`value` is the standard deviation),
    or values (the literal `values`, nested tuples in the parameter's layout).
    Normal draws are plain Gaussians, not truncated.
    """

    kind: str
    value: float | None = None
    values: tuple | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Regularizer:
    """A penalty on a layer's weights W (never on b): l1 adds rate·Σ|W|, l2 adds rate·ΣW²."""

    kind: str
    rate: float
    span: Span = _span()


@dataclass(frozen=True)
class Dense:
    """``y = activation(W·x + b)``."""

    name: str
    in_features: int
    units: int
    activation: Activation
    kernel_init: Initializer
    bias_init: Initializer
    trainable: bool = True
    regularizers: tuple[Regularizer, ...] = ()
    span: Span = _span()
    inputs: tuple[str, ...] = ()  # the layers (or the model input) it reads, by name; the checker fills it

    kind = "dense"

    @property
    def out_features(self) -> int:
        return self.units

    @property
    def in_shape(self) -> tuple[int]:
        return (self.in_features,)

    @property
    def out_shape(self) -> tuple[int]:
        return (self.units,)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return (
            Parameter(f"{self.name}.W", (self.units, self.in_features), self.trainable),
            Parameter(f"{self.name}.b", (self.units,), self.trainable),
        )


@dataclass(frozen=True)
class ActivationLayer:
    """A separate `activation NAME` layer."""

    name: str
    features: int
    activation: Activation
    span: Span = _span()
    shape: tuple[int, ...] | None = None  # an image's (h, w, c); None: (features,)
    inputs: tuple[str, ...] = ()  # the layers (or the model input) it reads, by name; the checker fills it

    kind = "activation"

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.shape or (self.features,)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.in_shape

    @property
    def in_features(self) -> int:
        return self.features

    @property
    def out_features(self) -> int:
        return self.features

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return ()


@dataclass(frozen=True)
class Dropout:
    """Zeroes each unit with probability `rate` in training, scaling the rest by 1/(1-rate)."""

    name: str
    features: int
    rate: float
    span: Span = _span()
    shape: tuple[int, ...] | None = None  # an image's (h, w, c); None: (features,)
    inputs: tuple[str, ...] = ()  # the layers (or the model input) it reads, by name; the checker fills it

    kind = "dropout"

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.shape or (self.features,)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.in_shape

    @property
    def in_features(self) -> int:
        return self.features

    @property
    def out_features(self) -> int:
        return self.features

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return ()


@dataclass(frozen=True)
class Conv2D:
    """``y = activation(W ⋆ x + b)``: each output cell is a dense layer applied to the input patch
    under it. Activations are NHWC, ``(height, width, channels)`` per sample; ``W`` has shape
    ``(filters, kh, kw, in_channels)``, so that ``W.reshape(filters, -1)`` is the lecture's
    ``n_out × n_in`` matrix of a dense layer on a patch flattened in ``(kh, kw, c)`` order.
    ``padding`` is ``(top, bottom, left, right)``, fixed by the checker (``same`` is TensorFlow's
    rule, the extra cell at the bottom and right)."""

    name: str
    in_shape: tuple[int, int, int]
    filters: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    padding_name: str
    activation: Activation
    kernel_init: Initializer
    bias_init: Initializer
    trainable: bool = True
    regularizers: tuple[Regularizer, ...] = ()
    span: Span = _span()
    inputs: tuple[str, ...] = ()  # the layers (or the model input) it reads, by name; the checker fills it

    kind = "conv2d"

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (*_window_output(self.in_shape, self.kernel, self.stride, self.padding), self.filters)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        kh, kw = self.kernel
        return (
            Parameter(f"{self.name}.W", (self.filters, kh, kw, self.in_shape[2]), self.trainable),
            Parameter(f"{self.name}.b", (self.filters,), self.trainable),
        )


@dataclass(frozen=True)
class Pool2D:
    """Max or average pooling over ``pool`` windows, channel by channel. Padded cells count as −∞
    for max and are left out of the average (TensorFlow's rule)."""

    name: str
    in_shape: tuple[int, int, int]
    op: str  # max | avg
    pool: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    padding_name: str
    span: Span = _span()
    inputs: tuple[str, ...] = ()  # the layers (or the model input) it reads, by name; the checker fills it

    @property
    def kind(self) -> str:
        return f"{self.op}pool"

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (*_window_output(self.in_shape, self.pool, self.stride, self.padding), self.in_shape[2])

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return ()


@dataclass(frozen=True)
class GlobalPool:
    """The max or the mean of each channel over height and width: ``(h, w, c)`` → ``(c,)``."""

    name: str
    in_shape: tuple[int, int, int]
    op: str  # max | avg
    span: Span = _span()
    inputs: tuple[str, ...] = ()  # the layers (or the model input) it reads, by name; the checker fills it

    @property
    def kind(self) -> str:
        return f"global_{self.op}pool"

    @property
    def out_shape(self) -> tuple[int]:
        return (self.in_shape[2],)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return ()


@dataclass(frozen=True)
class Flatten:
    """``(h, w, c)`` → ``(h·w·c,)`` in row-major ``(h, w, c)`` order, as Keras flattens."""

    name: str
    in_shape: tuple[int, ...]
    span: Span = _span()
    inputs: tuple[str, ...] = ()  # the layers (or the model input) it reads, by name; the checker fills it

    kind = "flatten"

    @property
    def out_shape(self) -> tuple[int]:
        size = 1
        for n in self.in_shape:
            size *= n
        return (size,)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return ()


@dataclass(frozen=True)
class BatchNorm:
    """``y = γ·(x − μ)/√(σ² + eps) + β`` per channel (the last axis). In training μ and σ² are the
    batch's mean and biased variance, and the running statistics move as Keras moves them:
    ``mean ← momentum·mean + (1 − momentum)·μ`` (the same for ``var`` with the biased σ²); in
    evaluation and predict the running statistics are used. ``gamma`` and ``beta`` are trained,
    ``mean`` and ``var`` are state (non-trainable), all of shape ``(channels,)``."""

    name: str
    in_shape: tuple[int, ...]
    momentum: float = 0.99
    eps: float = 0.001
    span: Span = _span()
    inputs: tuple[str, ...] = ()  # the layers (or the model input) it reads, by name; the checker fills it

    kind = "batchnorm"

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.in_shape

    @property
    def channels(self) -> int:
        return self.in_shape[-1]

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        c = (self.channels,)
        return (
            Parameter(f"{self.name}.gamma", c, True),
            Parameter(f"{self.name}.beta", c, True),
            Parameter(f"{self.name}.mean", c, False),
            Parameter(f"{self.name}.var", c, False),
        )


@dataclass(frozen=True)
class Add:
    """``y = a + b + …``: the element-wise sum of layers of one shape. A residual block's join:
    ``y = x + f(x)``, or ``shortcut(x) + f(x)``. Its gradient passes unchanged to every input."""

    name: str
    shape: tuple[int, ...]
    span: Span = _span()
    inputs: tuple[str, ...] = ()

    kind = "add"

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.shape

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.shape

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return ()


@dataclass(frozen=True)
class Concat:
    """Its inputs side by side along the last axis (features, or an image's channels), in order;
    the other axes agree. Its gradient is cut into the same pieces, one per input."""

    name: str
    in_shapes: tuple[tuple[int, ...], ...]
    span: Span = _span()
    inputs: tuple[str, ...] = ()

    kind = "concat"

    @property
    def widths(self) -> tuple[int, ...]:
        """Each input's extent along the joined axis."""
        return tuple(shape[-1] for shape in self.in_shapes)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (*self.in_shapes[0][:-1], sum(self.widths))

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return ()


def _window_output(in_shape, window, stride, padding) -> tuple[int, int]:
    """Rows and columns of a sliding window's output (nndsl/shapes.py: floor, as torch and TensorFlow)."""
    from nndsl.shapes import output_size

    top, bottom, left, right = padding
    return (output_size(in_shape[0], window[0], stride[0], top, bottom),
            output_size(in_shape[1], window[1], stride[1], left, right))


Layer = Dense | ActivationLayer | Dropout | Conv2D | Pool2D | GlobalPool | Flatten | BatchNorm | Add | Concat
Merge = Add | Concat


@dataclass(frozen=True)
class Parameter:
    """A named parameter tensor, in the IR's layout."""

    name: str
    shape: tuple[int, ...]
    trainable: bool

    @property
    def size(self) -> int:
        size = 1
        for n in self.shape:
            size *= n
        return size


@dataclass(frozen=True)
class Normalize:
    """Feature scaling of the model's inputs, the data block's `normalize METHOD`: before the first
    layer, x' = (x − shift) / scale per input feature (the last axis: an image's channel), with
    statistics of the training rows (after the split; never the validation rows):

    * ``standard``: shift the mean, scale the population std (ddof 0);
    * ``minmax``: shift the min, scale max − min, so the training rows fall in [0, 1].

    A constant feature's scale (0) is 1, as scikit-learn has it. The statistics are state, not
    trainable: `normalize.shift` and `normalize.scale`, of shape ``(features,)``, in weights.npz
    and the checkpoint beside the parameters (`parameters`). `features` is the input's last axis."""

    method: str
    features: int
    span: Span = _span()

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return (Parameter("normalize.shift", (self.features,), False),
                Parameter("normalize.scale", (self.features,), False))


@dataclass(frozen=True)
class Model:
    """A graph of layers, in an order where each layer comes after those it reads (a topological
    order: the spec's). Each layer's `inputs` name what it reads: earlier layers or the model's
    input (`input_name`); the last layer is the output, and every other layer is read by some
    layer. A plain stack, each layer reading the one above, is the common case (`is_stack`).
    Shapes are per sample, without the batch: ``(features,)`` for vectors, ``(height, width,
    channels)`` for images. `in_features` is the input's number of values."""

    name: str | None
    in_features: int
    layers: tuple[Layer, ...]
    span: Span = _span()
    input_shape: tuple[int, ...] | None = None  # an image's (h, w, c); None: (in_features,)
    input_name: str = "x"  # what `from=` and merges call the input (`input 2 name=x`)
    #: the data block's feature scaling, applied to the input before the first layer (None: none);
    #: the model carries it so that an inference program (a model without its data) applies it too
    normalize: Normalize | None = None

    def sources(self, layer: Layer) -> tuple[str, ...]:
        """The names a layer reads: its `inputs`, or, where none are set (an IR built by hand),
        the layer above it (the input, for the first)."""
        if layer.inputs:
            return layer.inputs
        index = next(i for i, other in enumerate(self.layers) if other is layer)
        return (self.layers[index - 1].name if index else self.input_name,)

    @property
    def is_stack(self) -> bool:
        """Whether each layer reads only the layer above it (the first: the input): no branches."""
        above = self.input_name
        for layer in self.layers:
            if self.sources(layer) != (above,):
                return False
            above = layer.name
        return True

    def readers(self) -> dict[str, list[Layer]]:
        """For the input and each layer, by name: the layers that read its output, in order."""
        out: dict[str, list[Layer]] = {self.input_name: []}
        for layer in self.layers:
            out.setdefault(layer.name, [])
            for source in self.sources(layer):
                out.setdefault(source, []).append(layer)
        return out

    def output_chain(self) -> list[int]:
        """Positions of the layers from the output back along single inputs, up to (not past)
        the first merge or the input: the layers whose activation can be the output's."""
        chain: list[int] = []
        position = {layer.name: i for i, layer in enumerate(self.layers)}
        index = len(self.layers) - 1
        while index >= 0:
            chain.append(index)
            layer = self.layers[index]
            sources = self.sources(layer)
            if isinstance(layer, (Add, Concat)) or len(sources) != 1 or sources[0] not in position:
                break
            index = position[sources[0]]
        return chain

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.input_shape or (self.in_features,)

    @property
    def images(self) -> bool:
        """Whether the input is an image (h, w, c) rather than a vector of features."""
        return len(self.in_shape) == 3

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape if self.layers else self.in_shape

    @property
    def out_features(self) -> int:
        size = 1
        for n in self.out_shape:
            size *= n
        return size

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for layer in self.layers for p in layer.parameters)

    @property
    def output_activation(self) -> str:
        """The activation applied last (dropout is transparent), 'linear' if none."""
        for layer in (self.layers[i] for i in self.output_chain()):
            if isinstance(layer, (Dense, ActivationLayer)):
                if isinstance(layer, ActivationLayer) or layer.activation.name != "linear":
                    return layer.activation.name
                return "linear"
        return "linear"


# --- data --------------------------------------------------------------------


@dataclass(frozen=True)
class PlaygroundData:
    """A TensorFlow Playground data set, drawn as its dataset.ts draws it.

    generator: xor, circle, gauss, spiral (classification; `classes` labels) or
    plane, multigauss (regression: real-valued targets; multigauss in [-1, 1],
    plane in about [-1.2, 1.2], wider with noise, as the Playground draws it).
    """

    generator: str
    samples: int
    noise: float
    classes: int | None
    span: Span = _span()


@dataclass(frozen=True)
class CsvData:
    """A CSV file with a header row; `path` is relative to the spec's folder."""

    path: str
    target: str
    span: Span = _span()


@dataclass(frozen=True)
class NpzData:
    """An .npz file holding arrays `x` (samples × features) and `y`; never unpickled."""

    path: str
    x_key: str = "x"
    y_key: str = "y"
    span: Span = _span()


@dataclass(frozen=True)
class ImageFolderData:
    """A folder of images, one subfolder per class, as Keras's image_dataset_from_directory reads it:
    the classes are the subfolder names in sorted order (label 0 first); each image is read with
    Pillow, converted to `color` (grayscale: 1 channel, rgb: 3), resized to `size` (height, width)
    bilinearly, and scaled to [0, 1]. `path` is relative to the spec's folder."""

    path: str
    size: tuple[int, int]
    color: str = "grayscale"
    span: Span = _span()

    @property
    def channels(self) -> int:
        return 1 if self.color == "grayscale" else 3


DataSource = PlaygroundData | CsvData | NpzData | ImageFolderData


@dataclass(frozen=True)
class Feature:
    """An input column: a Playground feature (x1, x2, x1^2, x2^2, x1*x2, sin(x1),
    sin(x2)) or, for CSV data, a column name."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Data:
    source: DataSource
    features: tuple[Feature, ...] | None  # None: every column but the target (CSV, npz)
    split: float  # fraction of the samples used for training; the rest validates (1: none does)
    seed: int | None  # None: use the training seed
    span: Span = _span()
    normalize: str | None = None  # `normalize standard|minmax` (the model's Normalize does it), or None
    normalize_span: Span = field(default=NO_SPAN, compare=False)

    @property
    def validates(self) -> bool:
        """Whether some samples are held out for validation (the history then has val_ keys); `split 1`
        trains on all of them."""
        return self.split < 1


# --- objective and training --------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """mse, mae, binary_crossentropy or categorical_crossentropy."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class SGD:
    """v ← momentum·v + g; θ ← θ − lr·v (nesterov: θ ← θ − lr·(g + momentum·v))."""

    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    span: Span = _span()

    kind = "sgd"


@dataclass(frozen=True)
class Adam:
    """Kingma & Ba, Algorithm 1: θ ← θ − lr·m̂/(√v̂ + eps), m̂ and v̂ bias-corrected."""

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-7
    span: Span = _span()

    kind = "adam"


@dataclass(frozen=True)
class RMSprop:
    """s ← rho·s + (1−rho)·g²; θ ← θ − lr·g/(√s + eps)."""

    lr: float = 0.001
    rho: float = 0.9
    eps: float = 1e-7
    span: Span = _span()

    kind = "rmsprop"


Optimizer = SGD | Adam | RMSprop


@dataclass(frozen=True)
class Schedule:
    """The learning rate of each epoch as a closed form of the epoch e (0, 1, …), the optimizer's
    lr its peak; every step of an epoch uses that epoch's rate (docs/language.md). `kind` is a key
    of catalog.SCHEDULES; `args` its arguments, every one filled (defaults included), in order."""

    kind: str = "constant"
    args: tuple[tuple[str, float | int], ...] = ()
    span: Span = _span()

    def arg(self, name: str):
        return dict(self.args)[name]


@dataclass(frozen=True)
class EarlyStopping:
    """Keras's EarlyStopping: stop once `monitor` has not improved (by more than min_delta) for
    `patience` epochs; `direction` 'min' or 'max' follows the monitored key."""

    monitor: str = "val_loss"
    patience: int = 0
    min_delta: float = 0.0
    restore_best: bool = False
    direction: str = "min"
    span: Span = _span()


@dataclass(frozen=True)
class ReduceLROnPlateau:
    """Keras's ReduceLROnPlateau (no cooldown): after `patience` epochs without an improvement of
    `monitor` by more than min_delta, the learning rate is multiplied by `factor`, never below min_lr."""

    monitor: str = "val_loss"
    factor: float = 0.1
    patience: int = 10
    min_delta: float = 1e-4
    min_lr: float = 0.0
    direction: str = "min"
    span: Span = _span()


@dataclass(frozen=True)
class Train:
    optimizer: Optimizer
    batch: int | None  # None: the whole training set (`batch all`)
    epochs: int
    metrics: tuple[str, ...] = ()  # history keys (catalog.metric_key): accuracy, precision, top_5_accuracy…
    seed: int = 0
    shuffle: bool = True
    checkpoint_every: int | None = None
    span: Span = _span()
    schedule: Schedule = Schedule()
    early_stopping: EarlyStopping | None = None
    reduce_lr_on_plateau: ReduceLROnPlateau | None = None
    clip_norm: float | None = None  # the global norm of all gradients, before the update
    #: (setting, the spec's value) for each setting a command line replaced (`nndsl train --seed`)
    overridden: tuple[tuple[str, int | None], ...] = field(default=(), compare=False, repr=False)


# --- the program ---------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """One checked spec. `warnings` hold diagnostics that did not stop the check."""

    model: Model
    data: Data | None = None
    loss: Loss | None = None
    train: Train | None = None
    filename: str = field(default="<spec>", compare=False)
    warnings: tuple = field(default=(), compare=False, repr=False)

    @property
    def task(self) -> str:
        """'binary', 'multiclass' or 'regression', from the loss."""
        if self.loss is None:
            return "regression"
        return {
            "binary_crossentropy": "binary",
            "categorical_crossentropy": "multiclass",
        }.get(self.loss.name, "regression")

    @property
    def validates(self) -> bool:
        """Whether a run has a validation set (and so val_ keys in its history)."""
        return self.data is not None and self.data.validates

    @property
    def seed(self) -> int:
        return self.train.seed if self.train else 0

    @property
    def data_seed(self) -> int:
        if self.data is not None and self.data.seed is not None:
            return self.data.seed
        return self.seed


def history_keys(metrics, validates: bool = True) -> list[str]:
    """The keys a run's history records, in Keras's History layout: loss, metrics…, val_loss,
    val_metrics… (without validation, no val_ keys), then lr, each epoch's learning rate."""
    metrics = list(metrics)
    validation = ["val_loss", *[f"val_{m}" for m in metrics]] if validates else []
    return ["loss", *metrics, *validation, "lr"]


# --- JSON ----------------------------------------------------------------------


def to_data(node):
    """Plain JSON-ready data for an IR node: dicts with a "node" key naming the class."""
    if is_dataclass(node):
        out = {"node": type(node).__name__}
        for f in fields(node):
            if f.name == "warnings":
                continue
            value = getattr(node, f.name)
            if isinstance(value, Span):
                value = None if value == NO_SPAN else [value.line, value.column, value.end_line, value.end_column]
            else:
                value = to_data(value)
            out[f.name] = value
        if isinstance(node, Dense):
            out["parameters"] = [to_data(p) for p in node.parameters]
        return out
    if isinstance(node, tuple):
        return [to_data(item) for item in node]
    return node


def to_json(program: Program) -> str:
    return json.dumps(to_data(program), indent=2, ensure_ascii=False) + "\n"


def require_program(program, function: str) -> None:
    """A TypeError that says what to pass, for spec text or anything else that is no checked program."""
    if not isinstance(program, Program):
        hint = " (nndsl.parse(text) checks spec text and gives one)" if isinstance(program, str) else ""
        raise TypeError(f"{function}() takes a Program from nndsl.parse or nndsl.load, "
                        f"not {type(program).__name__}{hint}")
