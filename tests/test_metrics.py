"""precision, recall and top_k_accuracy(k): how a spec writes them, what the checker refuses,
and the same numbers on every backend, equal to a direct computation from the predictions
(docs/language.md, "Metrics").

The direct computation below is written independently of the generated code: per-class loops
for precision and recall (scikit-learn's macro average with zero_division=0), and each row's
rank for the top k.
"""

from __future__ import annotations

import numpy as np
import pytest

import nndsl
from nndsl import fmt
from nndsl.codegen import generate, load_module
from tests.conftest import require_backend

BACKENDS = ["numpy", "torch", "tensorflow"]

MULTICLASS = """
data spiral(samples=160, classes=4, seed=3)
model { input 2  dense 8 tanh  dense 4 softmax }
loss categorical_crossentropy
train {
    optimizer sgd(lr=0.2)  batch 16  epochs 2  seed 1
    metrics accuracy, precision, recall, top_k_accuracy(k=2)
}
"""
BINARY = """
data circle(samples=160, noise=0.1, seed=3)
model { input 2  dense 6 tanh  dense 1 sigmoid }
loss binary_crossentropy
train { optimizer sgd(lr=0.3)  batch 16  epochs 2  seed 1  metrics accuracy, precision, recall }
"""
SPECS = {"multiclass": MULTICLASS, "binary": BINARY}


def direct(probabilities: np.ndarray, y: np.ndarray, k: int = 2) -> dict[str, float]:
    """The metrics of predictions against labels, from their definitions."""
    if probabilities.shape[1] == 1:  # one sigmoid output: the positive class is 1, predicted where p > ½
        predicted, actual = probabilities[:, 0] > 0.5, y[:, 0] > 0.5
        hits = np.sum(predicted & actual)
        return {"accuracy": np.mean(predicted == actual),
                "precision": hits / predicted.sum() if predicted.any() else 0.0,
                "recall": hits / actual.sum() if actual.any() else 0.0}
    predicted = probabilities.argmax(axis=1)
    precisions, recalls = [], []
    for c in range(probabilities.shape[1]):
        hits = np.sum((predicted == c) & (y == c))
        precisions.append(hits / np.sum(predicted == c) if np.any(predicted == c) else 0.0)
        recalls.append(hits / np.sum(y == c) if np.any(y == c) else 0.0)
    # the true class among the k highest scores; a tie counts for it (a point at the origin of a
    # frozen, bias-free network scores every class 0)
    rank = [np.sum(scores > scores[label]) for scores, label in zip(probabilities, y, strict=True)]
    return {"accuracy": np.mean(predicted == y), "precision": np.mean(precisions), "recall": np.mean(recalls),
            f"top_{k}_accuracy": np.mean(np.array(rank) < k)}


def trainer(spec: str, backend: str):
    if backend != "numpy":
        require_backend(backend)
    return nndsl.build(nndsl.parse(spec), backend=backend)


@pytest.mark.parametrize("task", SPECS)
def test_every_backend_records_the_same_metrics_each_epoch(task):
    histories = {backend: trainer(SPECS[task], backend).fit() for backend in BACKENDS}
    reference = histories["numpy"]
    assert set(reference) >= {"precision", "recall", "val_precision", "val_recall"}
    assert ("top_2_accuracy" in reference) == (task == "multiclass")
    for backend in ("torch", "tensorflow"):
        assert list(histories[backend]) == list(reference)
        for key, values in reference.items():
            np.testing.assert_allclose(histories[backend][key], values, rtol=1e-5, atol=1e-6, err_msg=f"{backend} {key}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task", SPECS)
def test_evaluate_counts_over_every_chunk(task, backend):
    """2,100 rows: NumPy and TensorFlow evaluate them in chunks of 1,024, whose counts add up."""
    model = trainer(SPECS[task], backend)
    model.fit(epochs=1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, (2100, 2)).astype(np.float32)
    y = rng.integers(0, 4, 2100) if task == "multiclass" else rng.integers(0, 2, (2100, 1)).astype(np.float32)
    logs = model.evaluate(x, y)
    expected = direct(np.asarray(model.predict(x), dtype=np.float64), y)
    for key, value in expected.items():
        assert logs[key] == pytest.approx(value, abs=1e-6), key


FROZEN = MULTICLASS.replace("dense 8 tanh", "dense 8 tanh trainable=false").replace(
    "dense 4 softmax", "dense 4 softmax trainable=false")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_epochs_precision_is_counted_over_the_epoch_not_averaged_over_batches(backend):
    """With every layer frozen, the weights during the epoch are those after it: its training
    metrics are the training set's, computed at once (a mean over its 10 batches would differ)."""
    model = trainer(FROZEN, backend)
    logs = model.train_epoch()
    x, y = model.data.x_train, model.data.y_train
    probabilities = np.asarray(model.predict(x), dtype=np.float64)
    for key, value in direct(probabilities, y).items():
        assert logs[key] == pytest.approx(value, abs=1e-6), key
    batches = [direct(probabilities[i:i + 16], y[i:i + 16])["precision"] for i in range(0, len(y), 16)]
    assert abs(np.mean(batches) - logs["precision"]) > 1e-3  # the test can tell the two apart


def test_a_class_never_predicted_scores_zero_precision():
    module = load_module(generate(nndsl.parse(MULTICLASS), backend="numpy"))
    assert module.macro_ratio([[0, 3], [0, 5]]) == pytest.approx(0.3)  # class 0: no prediction, 0
    assert module.macro_ratio([0, 0]) == 0.0  # a sigmoid output that never predicts 1


def spec_with(metrics: str, extra: str = "") -> str:
    return MULTICLASS.replace("metrics accuracy, precision, recall, top_k_accuracy(k=2)", f"metrics {metrics}\n{extra}")


def test_spellings_and_history_keys():
    program = nndsl.parse(spec_with("precision, recall, top_k_accuracy(3), top_k_accuracy(k=2)"))
    assert program.train.metrics == ("precision", "recall", "top_3_accuracy", "top_2_accuracy")
    assert "top_k_accuracy(3)" in fmt.format_text(spec_with("top_k_accuracy(3)"))
    assert "metrics precision, recall, top_k_accuracy(k=3), top_k_accuracy(k=2)" in fmt.format_program(program)
    assert nndsl.parse(fmt.format_program(program)).train.metrics == program.train.metrics


@pytest.mark.parametrize("monitor", ["val_precision", "recall", "val_top_2_accuracy", "top_2_accuracy"])
def test_monitors_of_the_new_metrics_go_up(monitor):
    extra = f"early_stopping monitor={monitor} patience=1\nreduce_lr_on_plateau monitor={monitor}"
    train = nndsl.parse(spec_with("precision, recall, top_k_accuracy(k=2)", extra)).train
    assert (train.early_stopping.direction, train.reduce_lr_on_plateau.direction) == ("max", "max")


@pytest.mark.parametrize(("metrics", "extra", "column", "message"), [
    ("top_k_accuracy(k=4)", "", 30, "k must be below the number of classes (4"),
    ("top_k_accuracy", "", 13, "top_k_accuracy needs k="),
    ("top_k_accuracy(k=1.5)", "", 30, "k must be an integer"),
    ("recall(2)", "", 13, "metric recall takes no arguments"),
    ("precision", "early_stopping monitor=val_recall", 24, "'recall' is not among the train block's metrics"),
    ("top_k_accuracy(k=2)", "early_stopping monitor=val_top_3_accuracy", 24, "add 'metrics top_k_accuracy(k=3)'"),
])
def test_refused_at_their_position(metrics, extra, column, message):
    with pytest.raises(nndsl.SpecError) as info:
        nndsl.parse(spec_with(metrics, extra))
    diagnostic = info.value.diagnostics[0]
    assert message in diagnostic.message
    assert diagnostic.span.column == column, diagnostic.header()
