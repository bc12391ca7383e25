"""What every backend's Trainer does alike at its interface: the errors of set_weights and of
restoring a checkpoint that another backend wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.codegen import BACKENDS
from tests.conftest import require_backend

CHECKERBOARD = (Path(__file__).resolve().parent.parent / "specs" / "checkerboard.nn").read_text(encoding="utf-8")


def trainer(backend: str, optimizer: str = "sgd(lr=0.03)"):
    require_backend(backend)
    return nndsl.build(nndsl.parse(CHECKERBOARD.replace("sgd(lr=0.03)", optimizer)), backend=backend, target="cpu")


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_weights_names_what_is_missing_misshapen_or_unknown(backend):
    model = trainer(backend)
    weights = model.get_weights()
    with pytest.raises(KeyError, match="no weights for dense_2.b"):
        model.set_weights({k: v for k, v in weights.items() if k != "dense_2.b"})
    with pytest.raises(ValueError, match=r"dense_1.W has shape \(8, 2\), not \(2, 8\)"):
        model.set_weights(weights | {"dense_1.W": weights["dense_1.W"].T})
    with pytest.raises(KeyError, match=r"no parameter dense_3\.W in this model \(its parameters: dense_1\.W, "
                                       r"dense_1\.b, dense_2\.W, dense_2\.b\)"):
        model.set_weights(weights | {"dense_3.W": weights["dense_2.W"]})  # a bigger model's weights


PAIRS = [(writer, reader) for writer in BACKENDS for reader in BACKENDS if writer != reader]


@pytest.mark.parametrize(("writer", "reader"), PAIRS, ids=[f"{w}-to-{r}" for w, r in PAIRS])
@pytest.mark.parametrize("optimizer", ["sgd(lr=0.03)", "sgd(lr=0.03, momentum=0.9)", "adam(lr=0.03)"],
                         ids=["sgd", "momentum", "adam"])
def test_restore_refuses_a_checkpoint_of_another_backend(tmp_path, writer, reader, optimizer):
    """Named before its optimizer state is read: another backend keeps that state under other
    names (torch once failed there with an IndexError)."""
    trainer(writer, optimizer).fit(epochs=1, checkpoint=tmp_path / "checkpoint.npz")
    model = trainer(reader, optimizer)
    with pytest.raises(model.module.CheckpointError, match=f"was written by a {writer} program; this one runs {reader}"):
        model.restore(tmp_path / "checkpoint.npz")
    assert model.epoch == 0


# --- evaluate(x, y) takes the labels a Keras user holds -------------------------------------------

SPECS = Path(__file__).resolve().parent.parent / "specs"


def spec_trainer(name: str, backend: str):
    require_backend(backend)
    return nndsl.build(nndsl.load(SPECS / f"{name}.nn"), backend=backend, target="cpu")


def same_logs(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), key


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_takes_integer_float_and_one_hot_class_labels(backend):
    model = spec_trainer("spiral3", backend)
    x, classes = model.data.x_val, np.asarray(model.data.y_val).astype(np.int64).reshape(-1)
    expected = model.evaluate()
    one_hot = np.eye(3, dtype=np.float32)[classes]
    for labels in (classes, classes.astype(np.float32), classes.astype(np.float64).reshape(-1, 1), one_hot,
                   one_hot.astype(np.int32), classes.tolist()):
        same_logs(model.evaluate(x, labels), expected)
    bad = [
        (classes + 0.5, r"labels must be integers 0 to 2; y\[0\] is"),
        (np.where(np.arange(len(classes)) == 4, 3, classes), r"labels must be integers 0 to 2; y\[4\] is 3"),
        (one_hot * 2, r"row 0 is not one-hot"),
        (classes[:-1], rf"one class label per row of x, shape \({len(x)},\), or one-hot rows, shape \({len(x)}, 3\)"),
        (np.array(["a"] * len(x)), r"y must hold numbers; it holds <U1 values"),
        (np.full(len(x), np.nan), r"NaN or infinite"),
    ]
    for labels, message in bad:
        with pytest.raises(ValueError, match=message):
            model.evaluate(x, labels)


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_takes_binary_labels_as_ints_floats_booleans_rows_or_columns(backend):
    model = spec_trainer("checkerboard", backend)
    x, labels = model.data.x_val, np.asarray(model.data.y_val).reshape(-1)
    expected = model.evaluate()
    for given in (labels, labels.astype(np.int64), labels.astype(bool), labels.reshape(-1, 1), labels.tolist()):
        same_logs(model.evaluate(x, given), expected)
    with pytest.raises(ValueError, match=r"binary_crossentropy needs labels 0 or 1; y\[2\] is 2"):
        model.evaluate(x, np.where(np.arange(len(x)) == 2, 2.0, labels))
    with pytest.raises(ValueError, match=rf"one 0/1 label per row of x, shape \({len(x)},\) or \({len(x)}, 1\)"):
        model.evaluate(x, np.stack([labels, 1 - labels], axis=1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_takes_regression_targets_as_a_column_or_a_row(backend):
    model = spec_trainer("income", backend)
    x, targets = model.data.x_val, np.asarray(model.data.y_val)
    outputs = targets.shape[1]
    expected = model.evaluate()
    same_logs(model.evaluate(x, targets.astype(np.float64)), expected)
    if outputs == 1:
        same_logs(model.evaluate(x, targets.reshape(-1)), expected)
    with pytest.raises(ValueError, match=rf"y must hold {outputs} target"):
        model.evaluate(x, np.zeros((len(x), outputs + 1)))


# --- the native model, called on inputs ------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_what_the_native_model_returns_and_where_the_probabilities_are(backend):
    """trainer.model(x) follows its framework: logits from NumPy's network and torch's nn.Module (the
    loss applies the softmax, as torch's CrossEntropyLoss does), probabilities from the Keras model
    (it ends in its softmax layer; trainer.loss_model gives the logits). trainer.predict(x) gives
    the probabilities on every backend."""
    model = spec_trainer("spiral3", backend)
    x = model.data.x_val[:16]
    probabilities = model.predict(x)
    assert probabilities.shape == (16, 3) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    if backend == "tensorflow":
        native, logits = np.asarray(model.model(x)), np.asarray(model.loss_model(x))
        np.testing.assert_allclose(native, probabilities, rtol=1e-5, atol=1e-7)
    else:
        native = model.model(x) if backend == "numpy" else model.model.eval()(require_backend("torch").from_numpy(x))
        logits = np.asarray(native.detach() if backend == "torch" else native)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(shifted / shifted.sum(axis=1, keepdims=True), probabilities, rtol=1e-5, atol=1e-7)
    if backend == "numpy":  # a new array each call, not the network's reused buffer
        first = model.model(x)
        model.model(x[::-1])
        np.testing.assert_array_equal(first, logits)
