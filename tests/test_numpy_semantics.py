"""What a spec's words mean in the NumPy program, each checked against a direct computation:
the Playground input features, the metrics, `batch`, `shuffle`, the documented random streams
(batch order, dropout masks), the constant initialisers and the comments that point back at the
spec. (The gradients, losses and optimizers are checked in test_numpy_ops.py and
test_numpy_backend.py; the lecture's numbers in test_lecture_examples.py.)
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import nndsl

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def build(text: str):
    return nndsl.build(nndsl.parse(text, filename="t.nn"))


def spec(data: str = "xor(samples=50, seed=3) { split 0.9 }", model: str = "input 2  dense 4 relu  dense 1 sigmoid",
         loss: str = "binary_crossentropy", train: str = "optimizer sgd(lr=0.1)  batch 8  epochs 3") -> str:
    return f"data {data}\nmodel {{ {model} }}\nloss {loss}\ntrain {{ {train} }}\n"


# --- the Playground's input features --------------------------------------------------------------


def test_playground_features_are_the_formulas_in_the_specs_order():
    model = build(spec(data="xor(samples=50, seed=3) { features sin(x2), x1*x2, x2^2, x1, x1^2, sin(x1), x2 }",
                       model="input 7  dense 1 sigmoid"))
    points = np.array([[0.5, -2.0], [3.0, 4.0], [-1.25, 0.0]])
    x1, x2 = points[:, 0], points[:, 1]
    expected = np.stack([np.sin(x2), x1 * x2, x2**2, x1, x1**2, np.sin(x1), x2], axis=1).astype(np.float32)
    features = model.module.make_features(points)
    assert features.dtype == np.float32
    np.testing.assert_array_equal(features, expected)


# --- metrics -----------------------------------------------------------------------------------------


def test_regression_metrics_are_the_mean_absolute_and_squared_errors():
    model = build(spec(data="plane(samples=60, noise=0.2, seed=4)", model="input 2  dense 3 tanh  dense 1",
                       loss="mae", train="optimizer sgd(lr=0.05)  batch 10  epochs 2  metrics mse, mae"))
    history = model.fit()
    x, y = model.data.x_val, model.data.y_val
    error = model.predict(x).astype(np.float64) - y
    logs = model.evaluate()
    assert logs["mse"] == pytest.approx(np.mean(error**2), rel=1e-5)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(error)), rel=1e-5)
    assert logs["loss"] == pytest.approx(logs["mae"], rel=1e-6)  # the loss is mae here
    assert history["val_mse"][-1] == pytest.approx(logs["mse"], rel=1e-6)
    assert history["val_mae"][-1] == pytest.approx(logs["mae"], rel=1e-6)


def test_accuracy_is_the_fraction_classified_right_binary_and_multiclass():
    binary = build(spec(train="optimizer sgd(lr=0.1)  batch 8  epochs 2  metrics accuracy"))
    binary.fit()
    x, y = binary.data.x_val, binary.data.y_val
    right = (binary.predict(x) > 0.5) == (y > 0.5)
    assert binary.evaluate()["accuracy"] == pytest.approx(right.mean())

    three = build(spec(data="spiral(samples=90, classes=3, seed=2)", model="input 2  dense 5 relu  dense 3 softmax",
                       loss="categorical_crossentropy", train="optimizer adam(lr=0.01)  batch 16  epochs 2  metrics accuracy"))
    three.fit()
    x, y = three.data.x_val, three.data.y_val
    assert three.evaluate()["accuracy"] == pytest.approx((three.predict(x).argmax(axis=1) == y).mean())


# --- batch, shuffle and the batch-order stream -------------------------------------------------------


def batches_of_one_epoch(model) -> list[np.ndarray]:
    """The inputs of every training step of the next epoch, in order."""
    seen, step = [], model.train_step

    def recording(x, y):
        seen.append(np.array(x))
        return step(x, y)

    model.train_step = recording
    model.fit(epochs=1)
    del model.train_step
    return seen


@pytest.mark.parametrize("batch, sizes", [("8", [8, 8, 8, 8, 8, 5]), ("all", [45]), ("45", [45]), ("100", [45])])
def test_batch_sizes_and_steps_per_epoch(batch, sizes):
    model = build(spec(train=f"optimizer sgd(lr=0.1)  batch {batch}  epochs 3"))  # 50 samples, 45 train
    assert len(model.data.x_train) == 45
    assert [len(x) for x in batches_of_one_epoch(model)] == sizes
    steps = []
    model.fit(epochs=1, on_batch=lambda done, total, loss: steps.append((done, total)))
    assert steps == [(sum(sizes[:i + 1]), 45) for i in range(len(sizes))]


def test_shuffle_false_walks_the_training_set_in_order():
    model = build(spec(train="optimizer sgd(lr=0.1)  batch 8  epochs 3  shuffle false"))
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate(batches_of_one_epoch(model)), model.data.x_train)


def test_each_epoch_takes_the_next_permutation_of_the_documented_batch_order_stream():
    """docs/reproducibility.md: epoch k's order is the k-th `permutation(n_train)` of
    random_streams(seed)[1], the shuffle stream."""
    model = build(spec(train="optimizer sgd(lr=0.1)  batch 8  epochs 3  seed 11"))
    shuffle = model.module.random_streams(11)[1]
    x = model.data.x_train
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate(batches_of_one_epoch(model)), x[shuffle.permutation(len(x))])


def test_dropout_masks_come_from_the_documented_stream_and_formula():
    """docs/reproducibility.md: in each training step, for each dropout layer in forward order,
    mask = (dropout_stream.random((batch, features), dtype=float32) >= rate) / (1 - rate)."""
    model = build(spec(model="input 2  dense 6 relu  dropout 0.3  dense 5 relu  dropout 0.5  dense 1 sigmoid",
                       train="optimizer sgd(lr=0.1)  batch 8  epochs 3  seed 5"))
    stream = model.module.random_streams(5)[2]
    x, y = model.data.x_train[:8], model.data.y_train[:8]
    for _ in range(2):  # two steps: the stream moves on
        model.train_step(x, y)
        masks = [model.model.batch.m1, model.model.batch.m2]
        for mask, (features, rate) in zip(masks, [(6, 0.3), (5, 0.5)], strict=True):
            expected = (stream.random((8, features), dtype=np.float32) >= rate) / (1 - rate)
            np.testing.assert_array_equal(mask, expected.astype(np.float32))
    assert np.all(model.predict(x) == model.predict(x))  # no masks outside training
    model.model.forward(x)
    assert np.all(model.model.batch.m1 == 1) and np.all(model.model.batch.m2 == 1)


# --- initial weights -----------------------------------------------------------------------------------


def test_constant_initialisers_give_exactly_their_values():
    model = build(spec(model="input 2  dense 3 relu init=zeros bias=ones  dense 1 sigmoid init=constant(0.25) "
                             "bias=constant(-1.5)"))
    weights = model.module.initial_weights(0)
    np.testing.assert_array_equal(weights["dense_1.W"], np.zeros((3, 2), np.float32))
    np.testing.assert_array_equal(weights["dense_1.b"], np.ones(3, np.float32))
    np.testing.assert_array_equal(weights["dense_2.W"], np.full((1, 3), 0.25, np.float32))
    np.testing.assert_array_equal(weights["dense_2.b"], np.full(1, -1.5, np.float32))
    for name, value in model.get_weights().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, weights[name])


# --- comments that point back at the spec ------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.nn")), ids=lambda p: p.stem)
def test_every_spec_line_comment_points_at_the_statement_its_block_came_from(path):
    """A comment `(specs/x.nn:N)` after a layer's block (`# dense_1: z1 = …`) points at that
    layer's statement; one after the data loader's docstring at the `data` statement; and the
    `# specs/x.nn:N` after an initial weight at a line of its layer's statement (where an
    explicit `weights=`/`bias=` is written, if it is)."""
    program = nndsl.load(path)
    source = nndsl.generate(program)
    lines = path.read_text(encoding="utf-8").splitlines()
    layers = {layer.name: layer for layer in program.model.layers}
    where = re.escape(program.filename)
    checked = []
    for before, number in re.findall(rf"^(.*)\({where}:(\d+)\)", source, flags=re.MULTILINE):
        statement = lines[int(number) - 1].split("#")[0].strip()
        layer = re.match(r"\s*# (\w+):", before)
        if layer:
            assert layers[layer.group(1)].span.line == int(number), (before, statement)
            kind = layers[layer.group(1)].kind  # a residual block's add comes from its `residual` line
            assert statement.split()[0] in ({kind, "residual"} if kind == "add" else {kind}), (before, statement)
            checked.append(layer.group(1))
        elif "the samples, shuffled and split" in before:
            assert program.data.span.line == int(number) and statement.startswith("data "), (before, statement)
            checked.append("data")
    for name, kind, number in re.findall(rf'^\s*"(\w+)\.(W|b)": .*  # {where}:(\d+)$', source, flags=re.MULTILINE):
        span, line = layers[name].span, lines[int(number) - 1]
        assert span.line <= int(number) <= span.end_line, (name, kind, number)
        explicit = {"W": "weights=", "b": "bias="}[kind]
        if any(explicit in text for text in lines[span.line - 1 : span.end_line]):
            assert explicit in line, (name, kind, line)
        checked.append(f"{name}.{kind}")
    trainable = [layer.name for layer in program.model.layers if type(layer).__name__ == "Dense"]
    assert "data" in checked and all(name in checked and f"{name}.W" in checked for name in trainable), checked


def test_batch_count_arithmetic_matches_the_docs_rounding_up():
    """A last, smaller batch is trained on, not dropped: ceil(n / B) steps (Keras does the same)."""
    for n_batch, n_train in [(8, 45), (16, 45), (45, 45)]:
        model = build(spec(train=f"optimizer sgd(lr=0.1)  batch {n_batch}  epochs 1"))
        assert len(batches_of_one_epoch(model)) == math.ceil(n_train / n_batch)
