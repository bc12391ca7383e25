"""What a Keras or PyTorch user writes first gets a hint naming the nndsl form (nndsl/spellings.py)."""

from __future__ import annotations

import pytest

import nndsl
from nndsl import catalog, spellings
from nndsl.errors import SpecError

MODEL_TAKES = "the model block takes input, dense, conv2d, maxpool, avgpool, global_avgpool, global_maxpool, flatten, batchnorm, activation, dropout, add, concat, residual, regularizer"
TRAIN_TAKES = ("the train block takes optimizer, batch, epochs, metrics, seed, shuffle, checkpoint, schedule, "
    "early_stopping, reduce_lr_on_plateau, clip_norm")
NOT_YET = "not in nndsl yet (see 'Not in the language yet' in docs/language.md)"


def spec(layer: str = "dense 8 relu", loss: str = "binary_crossentropy", optimizer: str = "sgd(lr=0.1)",
         train: str = "", data: str = "") -> str:
    return (f"data xor(samples=100){' {' + chr(10) + data + chr(10) + '}' if data else ''}\n"
            f"model {{\n    input 2\n    {layer}\n    dense 1 sigmoid\n}}\n"
            f"loss {loss}\ntrain {{\n    optimizer {optimizer}\n    {train}\n    epochs 5\n}}\n")


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        nndsl.parse(text, filename="keras.nn")
    return [f"{d.span.line}:{d.span.column}: {d.message}" for d in info.value.diagnostics]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (spec(loss="sparse_categorical_crossentropy"),
         "7:6: unknown loss 'sparse_categorical_crossentropy' (did you mean 'categorical_crossentropy'? it takes "
         "integer class labels, as Keras's sparse_categorical_crossentropy does)"),
        (spec(train="batch_size 16"),  # not the first statement: the checker's path
         f"10:5: unknown statement 'batch_size' (did you mean 'batch'? write 'batch 16'); {TRAIN_TAKES}"),
        (spec().replace("train {\n", "train {\n    batch_size 16\n"),  # first in its block: the parser's path
         f"9:5: unknown statement 'batch_size' (did you mean 'batch'? write 'batch 16'); {TRAIN_TAKES}"),
        (spec(layer="dense 16 activation=relu"),
         "4:14: 'activation' is a keyword and cannot name an argument; the activation follows the units: "
         "'dense 16 relu'"),
        (spec(train="validation_split 0.2"),
         "10:5: unknown statement 'validation_split' (did you mean 'split'? write 'split 0.8' in the data block: "
         "nndsl's split is the training fraction, Keras's validation_split the validation one); " + TRAIN_TAKES),
        (spec(data="    validation_split 0.25"),
         "2:5: unknown statement 'validation_split' (did you mean 'split'? write 'split 0.75' in the data block: "
         "nndsl's split is the training fraction, Keras's validation_split the validation one); "
         "the data block takes features, split, normalize"),
        (spec(optimizer="sgd(lr=0.1, decay=1e-4)"),
         "9:27: unknown argument 'decay' for sgd (a decaying learning rate is a schedule of its own in the train "
         "block: write e.g. 'schedule exponential(rate=0.96)' (docs/language.md, \"Learning-rate schedules\")); "
         "sgd takes lr, momentum, nesterov"),
        (spec(optimizer="sgd(lr=0.1, clipnorm=1.0)"),
         "9:27: unknown argument 'clipnorm' for sgd (gradient clipping is a statement of the train block: write "
         "'clip_norm 1.0' (the global norm)); sgd takes lr, momentum, nesterov"),
        (spec(train="lr_schedule 3"),
         "10:5: unknown statement 'lr_schedule' (did you mean 'schedule'? write 'schedule step(every=10, "
         "factor=0.5)'); " + TRAIN_TAKES),
        (spec(layer="batch_norm"),
         f"4:5: unknown statement 'batch_norm' (did you mean 'batchnorm'?); {MODEL_TAKES}"),
        (spec(layer="BatchNormalization"),
         f"4:5: unknown statement 'BatchNormalization' (did you mean 'batchnorm'?); {MODEL_TAKES}"),
        (spec(layer="Dense 8"), f"4:5: unknown statement 'Dense' (did you mean 'dense'?); {MODEL_TAKES}"),
        (spec(layer="Conv2D 8"), f"4:5: unknown statement 'Conv2D' (did you mean 'conv2d'? write 'conv2d 8 kernel=3'); {MODEL_TAKES}"),
        (spec(layer="MaxPooling2D 2"), f"4:5: unknown statement 'MaxPooling2D' (did you mean 'maxpool'? write "
                                       f"'maxpool 2'); {MODEL_TAKES}"),
        (spec(train="epochs=10"),
         "10:5: 'epochs' is a keyword and cannot name an argument; epochs is a statement of the train block: "
         "write 'epochs 10' on a line of its own"),
        (spec(optimizer="sgd(lr=0.1) epochs=10"),
         "9:27: 'epochs' is a keyword and cannot name an argument; epochs is a statement of the train block: "
         "write 'epochs 10' on a line of its own"),
        (spec(layer="dense 8 kernel_initializer=he_normal"),
         "4:13: unknown argument 'kernel_initializer' for dense (write init=he_normal); dense takes units, "
         "activation, init, bias, weights, trainable, name"),
        (spec(optimizer="adam(weight_decay=0.001)"),
         "9:20: unknown argument 'weight_decay' for adam (weight decay as torch's SGD and Adam apply it is an l2 "
         "penalty: write 'regularizer l2(0.0005)' in the model block; weight_decay=d is l2(d/2)); adam takes lr, "
         "beta1, beta2, eps"),
        (spec(loss="mean_squared_error"), "7:6: unknown loss 'mean_squared_error' (did you mean 'mse'?)"),
        (spec(loss="CrossEntropyLoss"),
         "7:6: unknown loss 'CrossEntropyLoss' (did you mean 'categorical_crossentropy'? from the logits, with "
         "integer class labels, as torch's CrossEntropyLoss)"),
        (spec(layer="Linear 8"),
         f"4:5: unknown statement 'Linear' (did you mean 'dense'? write 'dense 8' (torch's nn.Linear)); {MODEL_TAKES}"),
        (spec(layer="dense 8 init=kaiming_normal"),
         "4:18: unknown initializer 'kaiming_normal' (did you mean 'he_normal'?)"),
    ],
)
def test_keras_and_torch_spellings_get_the_nndsl_form(text, expected):
    assert errors(text)[0] == expected


def test_an_unknown_statement_lists_what_its_block_takes_even_without_a_suggestion():
    (message,) = errors(spec(layer="frobnicate 8"))
    assert message == f"4:5: unknown statement 'frobnicate'; {MODEL_TAKES}"


def test_a_model_block_with_a_name_and_a_data_path_mentioning_blocks_is_still_found():
    text = spec(layer="BatchNorm2d").replace("model {", "model train_model {").replace(
        "data xor(samples=100)", 'data csv("model/train.csv", target="y")')
    assert errors(text)[0].endswith(MODEL_TAKES)


def test_a_written_value_that_is_no_number_keeps_the_example():
    assert errors(spec(train="batch_size all"))[0].startswith(
        "10:5: unknown statement 'batch_size' (did you mean 'batch'? write 'batch 32');")
    assert "'split 0.8'" in errors(spec(train="validation_split 2"))[0]  # no training fraction in (0, 1)


def test_every_spelling_names_a_form_the_language_has_or_plans():
    """So that a spelling cannot point at nothing: when conv2d lands, 'Conv2D' says 'did you mean conv2d'."""
    statements = {word for words in catalog.BLOCK_STATEMENTS.values() for word in words}
    for word, (statement, _) in spellings.STATEMENTS.items():
        assert statement in statements or statement in catalog.PLANNED_STATEMENTS, word
    choices = {"loss": catalog.LOSSES, "metric": catalog.METRICS, "initializer": catalog.INITIALIZERS,
               "normalize method": catalog.NORMALIZE_METHODS}
    for kind, forms in spellings.VALUES.items():
        for word, (name, _) in forms.items():
            assert name in choices[kind], (kind, word)
    for owner, key in spellings.ARGUMENTS:
        assert owner in ("dense", "optimizer", "early_stopping", "reduce_lr_on_plateau"), owner
        allowed = {"dense": ("units", "activation", "init", "bias", "weights", "trainable", "name"),
                   "optimizer": {*catalog.OPTIMIZER_ALIASES, *(k for args in catalog.OPTIMIZERS.values() for k in args)},
                   "early_stopping": catalog.EARLY_STOPPING,
                   "reduce_lr_on_plateau": catalog.REDUCE_LR_ON_PLATEAU}[owner]
        assert key not in allowed, key  # a hint for an argument nndsl takes would never show


def test_the_spellings_that_nndsl_accepts_are_not_refused():
    # Keras's optimizer argument names are accepted as they are; the hints are for what is not.
    program = nndsl.parse(spec(optimizer="adam(learning_rate=0.01, beta_1=0.8, epsilon=1e-6)"))
    assert program.train.optimizer.lr == pytest.approx(0.01)
