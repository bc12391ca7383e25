"""The language's vocabulary: every name a spec may use, with its defaults and limits.

Kept in one place so that the checker, the formatter, the docs and the
backends agree on what exists.
"""

from __future__ import annotations

import keyword
import re

ACTIVATIONS = (
    "linear", "sigmoid", "relu", "tanh", "softmax",
    "leaky_relu", "elu", "gelu", "softplus",
)
#: Activations taking a parameter, with its default (`leaky_relu(0.2)`, `elu(alpha=1)`).
ACTIVATION_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}
#: The lecture: He initialisation for ReLU, Glorot for sigmoid and tanh. The
#: other rectifier-like activations follow ReLU.
RELU_FAMILY = frozenset({"relu", "leaky_relu", "elu", "gelu", "softplus"})

INITIALIZERS = (
    "glorot_normal", "he_normal", "glorot_uniform", "he_uniform",
    "zeros", "ones", "constant", "normal",
)
#: Initialisers that take one number: constant(value), normal(std).
INITIALIZER_ARGUMENT = {"constant": "value", "normal": "std"}

LOSSES = ("mse", "mae", "binary_crossentropy", "categorical_crossentropy")
CLASSIFICATION_LOSSES = frozenset({"binary_crossentropy", "categorical_crossentropy"})

REGULARIZERS = ("l1", "l2")

#: Optimizers and their arguments with defaults, in positional order.
OPTIMIZERS = {
    "sgd": {"lr": 0.01, "momentum": 0.0, "nesterov": False},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
    "rmsprop": {"lr": 0.001, "rho": 0.9, "eps": 1e-7},
}
#: Keras spells some arguments differently; both spellings are accepted.
OPTIMIZER_ALIASES = {
    "learning_rate": "lr", "beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps",
}

METRICS = ("accuracy", "mse", "mae", "precision", "recall", "top_k_accuracy")
#: Metrics that take an argument (required), and its name: `top_k_accuracy(k=5)`, or
#: `top_k_accuracy(5)`. Such a metric's history key holds the argument: `top_5_accuracy`.
METRIC_ARGUMENTS = {"top_k_accuracy": "k"}
#: Metrics that only classify: they need binary_crossentropy or categorical_crossentropy.
CLASSIFICATION_METRICS = frozenset({"accuracy", "precision", "recall", "top_k_accuracy"})
#: Metrics computed from per-class counts over the whole epoch (true positives, and predicted or
#: actual positives), not as a mean of per-sample values: a macro average is no such mean.
COUNTED_METRICS = frozenset({"precision", "recall"})
#: Metrics that grow as the model gets better: monitored upwards (early_stopping, reduce_lr_on_plateau).
#: Every other history key (loss, mse, mae, their val_ forms) is monitored downwards.
MAXIMISED_METRICS = frozenset({"accuracy", "precision", "recall", "top_k_accuracy"})

#: Learning-rate schedules and their arguments with defaults (None: required), in positional
#: order. Each is a closed form of the epoch (docs/language.md, "Learning-rate schedules");
#: templates/common/schedules/<name>.py holds it, for every backend.
SCHEDULES = {
    "constant": {},
    "step": {"every": None, "factor": 0.1},
    "exponential": {"rate": None},
    "cosine": {"warmup": 0, "min_lr": 0.0},
}
#: Keras's EarlyStopping defaults; restore_best is Keras's restore_best_weights.
EARLY_STOPPING = {"monitor": "val_loss", "patience": 0, "min_delta": 0.0, "restore_best": False}
#: Keras's ReduceLROnPlateau defaults (min_delta absolute, as Keras has it; no cooldown).
REDUCE_LR_ON_PLATEAU = {"monitor": "val_loss", "factor": 0.1, "patience": 10, "min_delta": 1e-4, "min_lr": 0.0}

#: TensorFlow Playground data sets: kind and default number of samples (the Playground's own).
PLAYGROUND = {
    "xor": ("classification", 500),
    "checkerboard": ("classification", 500),  # the lecture's name for xor
    "circle": ("classification", 500),
    "gauss": ("classification", 500),
    "spiral": ("classification", 500),
    "plane": ("regression", 1200),
    "multigauss": ("regression", 1200),
}
FILE_SOURCES = ("csv", "npz", "images")
DATA_SOURCES = tuple(PLAYGROUND) + FILE_SOURCES
#: The Playground's noise slider runs from 0 to 50 %.
MAX_NOISE = 0.5

PLAYGROUND_FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
DEFAULT_FEATURES = ("x1", "x2")

#: Default fraction of samples used for training: the Playground's 50 %, and
#: 80 % for data from files.
DEFAULT_SPLIT = {"playground": 0.5, "file": 0.8}
DEFAULT_BATCH = 32

#: Feature scaling of the data block, `normalize METHOD`: each the (shift, scale) it takes from the
#: training rows, per input feature (an image's channel), x' = (x - shift) / scale; a constant
#: feature's scale, 0, becomes 1 (docs/language.md, "data"). templates/common/data/normalize.py.
NORMALIZE_METHODS = {
    "standard": ("mean", "population std"),
    "minmax": ("min", "max - min"),
}
#: What each method computes, as the checker, the summary and the generated comments write it.
NORMALIZE_FORMULAS = {"standard": "(x - mean) / std", "minmax": "(x - min) / (max - min)"}

# Limits: generous for real models, small enough that a hostile spec cannot
# make the compiler (or the generated code's first line) exhaust memory. Each
# is reported at the value, or the layer, that passes it (SECURITY.md lists
# them all). 10,000 layers is about 13 MB of generated NumPy code and a few
# seconds of compiling; the lecture's networks have a handful.
MAX_UNITS = 1_000_000
MAX_LAYERS = 10_000
MAX_PARAMETERS = 500_000_000
MAX_SAMPLES = 10_000_000
MAX_EPOCHS = 1_000_000
MAX_CLASSES = 100
MAX_SEED = 2**32 - 1
MAX_NAME_LENGTH = 64
#: Soft keywords of every Python the generated code may run on (`type` is one from 3.12):
#: no spec name may be one, and no generated identifier is one.
SOFT_KEYWORDS = frozenset(getattr(keyword, "softkwlist", ())) | {"_", "case", "match", "type"}

#: Statements each block accepts.
BLOCK_STATEMENTS = {
    "data": ("features", "split", "normalize"),
    "model": ("input", "dense", "conv2d", "maxpool", "avgpool", "global_avgpool", "global_maxpool", "flatten",
              "batchnorm", "activation", "dropout", "add", "concat", "residual", "regularizer"),
    "train": ("optimizer", "batch", "epochs", "metrics", "seed", "shuffle", "checkpoint",
              "schedule", "early_stopping", "reduce_lr_on_plateau", "clip_norm"),
}

#: Statements on the roadmap that the language does not have yet, and what they are
#: (docs/language.md, "Not in the language yet"): named as such rather than as misspellings.
PLANNED_STATEMENTS: dict[str, str] = {}


def metric_key(name: str, argument: int | None = None) -> str:
    """A metric's history key: its name, or for top_k_accuracy(k=5) `top_5_accuracy` (Keras's
    TopKCategoricalAccuracy is named top_k_categorical_accuracy, whatever its k)."""
    return f"top_{argument}_accuracy" if name == "top_k_accuracy" else name


def metric_name(key: str) -> str:
    """The metric a history key (without val_) records: `top_5_accuracy` is top_k_accuracy's."""
    return "top_k_accuracy" if re.fullmatch(r"top_\d+_accuracy", key) else key


def metric_argument(key: str) -> int | None:
    """The argument in a metric's history key: 5 for `top_5_accuracy`, None for one without."""
    match = re.fullmatch(r"top_(\d+)_accuracy", key)
    return int(match.group(1)) if match else None


def metric_spelling(key: str) -> str:
    """How a spec writes the metric of a history key: `top_k_accuracy(k=5)` for `top_5_accuracy`."""
    name = metric_name(key)
    if name in METRIC_ARGUMENTS:
        return f"{name}({METRIC_ARGUMENTS[name]}={metric_argument(key)})"
    return name


def monitor_direction(key: str) -> str:
    """'max' for a history key that grows as the model improves (accuracy, val_precision,
    top_5_accuracy), else 'min'."""
    return "max" if metric_name(key.removeprefix("val_")) in MAXIMISED_METRICS else "min"


def not_yet(word: str) -> str:
    """': convolution layers are not in nndsl yet (…)' for a planned statement, else ''."""
    what = PLANNED_STATEMENTS.get(str(word))
    return f": {what} not in nndsl yet (see 'Not in the language yet' in docs/language.md)" if what else ""
