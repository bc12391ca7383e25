"""What a Keras or PyTorch user writes, and the nndsl form of it.

A user who knows Keras writes `batch_size 16`, `dense 16 activation=relu` or
`loss sparse_categorical_crossentropy` first. Each such spelling gets a
did-you-mean that names the nndsl form, with the value they wrote
(`batch_size 16` → `'batch 16'`), instead of a bare "unknown statement".
This module is the one place that knows those spellings; the parser and the
checker ask it for hints:

* `statement_hint(word, rest, block)` for an unknown statement keyword,
* `argument_hint(owner, key, rest)` for an unknown `key=` of a statement or call,
* `keyword_argument_hint(word, rest, before)` for a statement keyword written as
  an argument (`epochs=10`, `dense 16 activation=relu`),
* `value_hint(kind, word, choices)` for an unknown loss, metric, activation,
  initialiser or optimizer.

Spellings are compared without case and underscores (`BatchNormalization`,
`batch_norm` and `batchnorm` are one), as Keras names a layer `Conv2D` and a
function `conv2d`.
"""

from __future__ import annotations

import re

from nndsl import catalog
from nndsl.suggest import did_you_mean


def _key(word: str) -> str:
    return str(word).lower().replace("_", "")


# -- statements ---------------------------------------------------------------------------------
#
# Another framework's word → (the nndsl statement, how to write it). "{value}" is the value
# written after the word (or the example after "|" when there is none or it is no number).

_STATEMENTS: dict[str, tuple[str, str]] = {
    "batch_size": ("batch", "'batch {value|32}'"),
    "batchsize": ("batch", "'batch {value|32}'"),
    "validation_split": ("split", "'split {train_fraction|0.8}' in the data block: nndsl's split is the training "
                                  "fraction, Keras's validation_split the validation one"),
    "Normalization": ("normalize", "'normalize standard' in the data block (Keras's Normalization layer)"),
    "normalise": ("normalize", "'normalize standard' in the data block"),
    "StandardScaler": ("normalize", "'normalize standard' in the data block"),
    "MinMaxScaler": ("normalize", "'normalize minmax' in the data block"),
    "standardize": ("normalize", "'normalize standard' in the data block"),
    "learning_rate": ("optimizer", "'optimizer sgd(lr={value|0.01})'"),
    "lr": ("optimizer", "'optimizer sgd(lr={value|0.01})'"),
    "Linear": ("dense", "'dense {value|16}' (torch's nn.Linear)"),
    "Input": ("input", "'input {value|2}', the number of input features"),
    "InputLayer": ("input", "'input {value|2}', the number of input features"),
    "input_shape": ("input", "'input {value|2}', the number of input features"),
    "input_dim": ("input", "'input {value|2}', the number of input features"),
    "Activation": ("activation", "'activation {value|relu}'"),
    "BatchNormalization": ("batchnorm", "'batchnorm'"),
    "batch_norm": ("batchnorm", "'batchnorm'"),
    "BatchNorm1d": ("batchnorm", "'batchnorm'"),
    "BatchNorm2d": ("batchnorm", "'batchnorm'"),
    "Conv2D": ("conv2d", "'conv2d {value|16} kernel=3'"),
    "MaxPooling2D": ("maxpool", "'maxpool {value|2}'"),
    "MaxPool2d": ("maxpool", "'maxpool {value|2}'"),
    "AveragePooling2D": ("avgpool", "'avgpool {value|2}'"),
    "AvgPool2d": ("avgpool", "'avgpool {value|2}'"),
    "GlobalAveragePooling2D": ("global_avgpool", "'global_avgpool'"),
    "AdaptiveAvgPool2d": ("global_avgpool", "'global_avgpool'"),
    "GlobalMaxPooling2D": ("global_maxpool", "'global_maxpool'"),
    "EarlyStopping": ("early_stopping", "'early_stopping monitor=val_loss patience=5'"),
    "LearningRateScheduler": ("schedule", "'schedule step(every=10, factor=0.5)'"),
    "lr_schedule": ("schedule", "'schedule step(every=10, factor=0.5)'"),
    "lr_scheduler": ("schedule", "'schedule step(every=10, factor=0.5)'"),
    "ReduceLROnPlateau": ("reduce_lr_on_plateau", "'reduce_lr_on_plateau monitor=val_loss factor=0.5 patience=3'"),
    "clipnorm": ("clip_norm", "'clip_norm {value|1.0}' (the global norm)"),
    "global_clipnorm": ("clip_norm", "'clip_norm {value|1.0}'"),
    "clip_grad_norm": ("clip_norm", "'clip_norm {value|1.0}'"),
}
# An activation's name at the start of a line (torch's nn.ReLU(), Keras's layers.ReLU()); but
# `Linear 4` is torch's nn.Linear, a dense layer.
_ACTIVATION_LAYERS = {name: ("activation", f"'activation {name}'") for name in catalog.ACTIVATIONS}
_ACTIVATION_LAYERS["LeakyReLU"] = ("activation", "'activation leaky_relu'")
STATEMENTS = {_key(word): form for word, form in {**_ACTIVATION_LAYERS, **_STATEMENTS}.items()}


def _first_value(rest: str) -> str | None:
    """The value written right after a word: `16` in `batch_size 16`, `relu` in `=relu)`."""
    match = re.match(r"[\s=(\[]*['\"]?([A-Za-z0-9_.+-]+)", rest)
    return match.group(1) if match else None


def _fill(form: str, rest: str) -> str:
    """Put the written value into a form's {value|example} or {train_fraction|example}."""

    def replace(match: re.Match) -> str:
        field, example = match.group(1), match.group(2)
        value = _first_value(rest)
        if field == "half":
            try:
                return f"{float(value) / 2:.6g}"
            except (TypeError, ValueError):
                return example
        if field == "train_fraction":
            try:
                fraction = 1 - float(value)
            except (TypeError, ValueError):
                return example
            return f"{fraction:.6g}" if 0 < fraction < 1 else example
        if field == "value" and value is not None and (example[0].isdigit() == value[0].isdigit()):
            return value
        return example

    return re.sub(r"\{(\w+)\|([^}]*)\}", replace, form)


def _block_of(statement: str) -> str | None:
    return next((block for block, words in catalog.BLOCK_STATEMENTS.items() if statement in words), None)


def statement_hint(word: str, rest: str = "", block: str | None = None) -> str:
    """The end of "unknown statement 'WORD'": a did-you-mean naming the nndsl form, a note
    that it is not in the language yet, or a plain did-you-mean; then, given the block the
    word stands in, what that block takes."""
    takes = f"; the {block} block takes {', '.join(catalog.BLOCK_STATEMENTS[block])}" if block else ""
    form = STATEMENTS.get(_key(word))
    if form is not None:
        statement, how = form
        if statement in catalog.PLANNED_STATEMENTS:
            return f"{catalog.not_yet(statement)}{takes}"
        how = _fill(how, rest)
        return f" (did you mean '{statement}'?{'' if how == repr(statement) else ' write ' + how}){takes}"
    planned = catalog.not_yet(word) or catalog.not_yet(_key(word))
    if planned:
        return f"{planned}{takes}"
    choices = catalog.BLOCK_STATEMENTS[block] if block else [w for ws in catalog.BLOCK_STATEMENTS.values() for w in ws]
    hint = did_you_mean(word, choices)
    if not hint and block:
        hint = did_you_mean(word, [w for ws in catalog.BLOCK_STATEMENTS.values() for w in ws])
    return f"{hint}{takes}"


# -- arguments ----------------------------------------------------------------------------------
#
# (owner, Keras's or torch's argument) → how nndsl says it. The owner is a statement (dense) or
# "optimizer" for every optimizer call.

_SCHEDULE = ("a decaying learning rate is a schedule of its own in the train block: write e.g. "
             "'schedule exponential(rate=0.96)' (docs/language.md, \"Learning-rate schedules\")")
_CLIPPING = "gradient clipping is a statement of the train block: write 'clip_norm {value|1.0}' (the global norm)"
_CLIPPING_VALUE = "nndsl clips the global norm of the gradients only: write 'clip_norm {value|1.0}' in the train block"
_ARGUMENTS: dict[tuple[str, str], str] = {
    ("dense", "kernel_initializer"): "write init={value|he_normal}",
    ("dense", "bias_initializer"): "write bias={value|zeros}",
    ("dense", "kernel_regularizer"): "write the penalty after the units: 'dense 16 relu {value|l2}(0.001)'",
    ("dense", "input_shape"): "the input width is a statement before the layers: 'input 2'",
    ("dense", "input_dim"): "the input width is a statement before the layers: 'input {value|2}'",
    ("dense", "in_features"): "the input width is a statement before the layers: 'input {value|2}'",
    ("dense", "out_features"): "the units come first: 'dense {value|16}'",
    ("optimizer", "decay"): _SCHEDULE,
    ("optimizer", "lr_decay"): _SCHEDULE,
    ("optimizer", "weight_decay"): "weight decay as torch's SGD and Adam apply it is an l2 penalty: write "
                                   "'regularizer l2({half|0.0005})' in the model block; weight_decay=d is l2(d/2)",
    ("optimizer", "clipnorm"): _CLIPPING,
    ("optimizer", "clipvalue"): _CLIPPING_VALUE,
    ("early_stopping", "restore_best_weights"): "write restore_best={value|true}",
    ("early_stopping", "mode"): "the direction follows the monitored key: accuracy up, losses down",
    ("reduce_lr_on_plateau", "mode"): "the direction follows the monitored key: accuracy up, losses down",
    ("reduce_lr_on_plateau", "threshold"): "write min_delta={value|0.0001}, an absolute change as in Keras "
                                           "(torch's threshold is relative by default)",
    ("reduce_lr_on_plateau", "eps"): "nndsl reduces whenever the patience runs out, down to min_lr",
    ("reduce_lr_on_plateau", "cooldown"): "nndsl has no cooldown: counting starts again right after a reduction, "
                                          "as with Keras's default cooldown=0",
    ("early_stopping", "baseline"): "nndsl has no baseline: every epoch that improves on the best so far counts",
    ("optimizer", "global_clipnorm"): _CLIPPING,
}
ARGUMENTS = {(owner, _key(key)): hint for (owner, key), hint in _ARGUMENTS.items()}


def argument_hint(owner: str, key: str, rest: str = "") -> str:
    """' (KERAS_NOTE)' for another framework's argument of `owner`, else ''."""
    kind = "optimizer" if owner in catalog.OPTIMIZERS else owner
    hint = ARGUMENTS.get((kind, _key(key)))
    return f" ({_fill(hint, rest)})" if hint else ""


def keyword_argument_hint(word: str, rest: str, before: str) -> str:
    """For a statement keyword written as `word=value`: how to write it in nndsl.

    `before` is the line up to the word: `dense 16 activation=relu` is 'dense 16 relu';
    `epochs=10` is the statement 'epochs 10'.
    """
    value = _first_value(rest)
    shown = value or "…"
    if word == "activation" and before.split()[:1] == ["dense"]:
        return f"; the activation follows the units: '{' '.join(before.split())} {shown}'"
    block = _block_of(word)
    if block is None:
        return ""
    return f"; {word} is a statement of the {block} block: write '{word} {shown}' on a line of its own"


# -- values -------------------------------------------------------------------------------------

_VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "loss": {
        "sparse_categorical_crossentropy": ("categorical_crossentropy", "it takes integer class labels, as Keras's "
                                            "sparse_categorical_crossentropy does"),
        "CrossEntropyLoss": ("categorical_crossentropy", "from the logits, with integer class labels, as torch's "
                             "CrossEntropyLoss"),
        "NLLLoss": ("categorical_crossentropy", "with a softmax output layer: the log-softmax is fused into it"),
        "BCEWithLogitsLoss": ("binary_crossentropy", "with a sigmoid output layer: it is fused into the loss"),
        "BCELoss": ("binary_crossentropy", "with a sigmoid output layer"),
        "mean_squared_error": ("mse", ""),
        "MSELoss": ("mse", ""),
        "mean_absolute_error": ("mae", ""),
        "L1Loss": ("mae", ""),
    },
    "metric": {
        "acc": ("accuracy", ""),
        "sparse_categorical_accuracy": ("accuracy", ""),
        "categorical_accuracy": ("accuracy", ""),
        "binary_accuracy": ("accuracy", ""),
        "mean_squared_error": ("mse", ""),
        "mean_absolute_error": ("mae", ""),
        "top_k_categorical_accuracy": ("top_k_accuracy", "with k=, e.g. top_k_accuracy(k=5)"),
        "sparse_top_k_categorical_accuracy": ("top_k_accuracy", "with k=, e.g. top_k_accuracy(k=5)"),
        "precision_score": ("precision", ""),
        "recall_score": ("recall", ""),
    },
    "normalize method": {
        "standardize": ("standard", "it computes (x - mean)/std"),
        "standardise": ("standard", "it computes (x - mean)/std"),
        "zscore": ("standard", "it computes (x - mean)/std"),
        "StandardScaler": ("standard", "it computes (x - mean)/std"),
        "min_max": ("minmax", "it computes (x - min)/(max - min)"),
        "MinMaxScaler": ("minmax", "it computes (x - min)/(max - min)"),
    },
    "initializer": {
        "kaiming_normal": ("he_normal", ""),
        "kaiming_uniform": ("he_uniform", ""),
        "xavier_normal": ("glorot_normal", ""),
        "xavier_uniform": ("glorot_uniform", ""),
        "random_normal": ("normal", ""),
    },
}
VALUES = {kind: {_key(word): form for word, form in forms.items()} for kind, forms in _VALUES.items()}


def value_hint(kind: str, word: str, choices) -> str:
    """' (did you mean …?)' for an unknown value of `kind`, naming the nndsl form of another
    framework's spelling where there is one."""
    form = VALUES.get(kind, {}).get(_key(word))
    if form is None:
        return did_you_mean(word, choices)
    name, note = form
    return f" (did you mean '{name}'? {note})" if note else f" (did you mean '{name}'?)"
