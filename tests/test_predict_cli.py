"""`nndsl predict SPEC --weights W.npz INPUT.csv|INPUT.npz [-o OUT.csv]`: a trained model on new data,
on every backend, giving what trainer.predict gives; bad input is an error naming the file and row."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import nndsl
from nndsl.cli import main
from tests.conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
BACKENDS = ["numpy", "torch", "tensorflow"]


def run(*args, capsys):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def table(text: str) -> tuple[list[str], np.ndarray]:
    rows = list(csv.reader(text.splitlines()))
    return rows[0], np.array(rows[1:], dtype=np.float64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A few epochs of specs/<name>.nn on NumPy: (trainer, weights.npz)."""
    folder = tmp_path_factory.mktemp("weights")
    cache = {}

    def train(name: str):
        if name not in cache:
            trainer = nndsl.build(nndsl.load(SPECS / f"{name}.nn"))
            trainer.fit(epochs=3)
            trainer.save(folder / f"{name}.npz")
            cache[name] = trainer, folder / f"{name}.npz"
        return cache[name]

    return train


@pytest.mark.parametrize("backend", BACKENDS)
def test_csv_columns_by_name_as_in_training(backend, trained, tmp_path, capsys):
    if backend != "numpy":
        require_backend(backend)
    trainer, weights = trained("income")
    x = trainer.data.x_val[:5]  # grade, age, participation
    # Another column order, and the target and an unrelated column, which are ignored.
    lines = ["participation,note,income,age,grade"] + [f"{p!r},any text,0,{a!r},{g!r}" for g, a, p in x.tolist()]
    (tmp_path / "new.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, out, err = run("predict", SPECS / "income.nn", "--weights", weights, tmp_path / "new.csv", "-b", backend,
                           capsys=capsys)
    assert status == 0, err
    header, values = table(out)
    assert header == ["income"]
    np.testing.assert_allclose(values, trainer.predict(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_playground_features_are_computed_from_the_coordinates(backend, trained, tmp_path, capsys):
    if backend != "numpy":
        require_backend(backend)
    trainer, weights = trained("spiral")  # features x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)
    points = np.random.default_rng(0).uniform(-6, 6, size=(9, 2))
    (tmp_path / "points.csv").write_text("x2,x1\n" + "".join(f"{b!r},{a!r}\n" for a, b in points.tolist()), encoding="utf-8")
    out = tmp_path / "out.csv"
    status, stdout, err = run("predict", SPECS / "spiral.nn", "--weights", weights, tmp_path / "points.csv",
                              "-b", backend, "-o", out, capsys=capsys)
    assert status == 0, err
    assert stdout == "" and "wrote" in err and "9 rows" in err
    header, values = table(out.read_text(encoding="utf-8"))
    assert header == ["probability"]
    expected = trainer.predict(trainer.module.make_features(points))
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)
    # The same points as an .npz file's x.
    np.savez(tmp_path / "points.npz", x=points)
    status, stdout, err = run("predict", SPECS / "spiral.nn", "--weights", weights, tmp_path / "points.npz",
                              "-b", backend, capsys=capsys)
    assert status == 0, err
    np.testing.assert_allclose(table(stdout)[1], expected, rtol=1e-5, atol=1e-6)


def test_several_classes_give_one_probability_column_each(trained, tmp_path, capsys):
    trainer, weights = trained("spiral3")
    np.savez(tmp_path / "points.npz", x=np.array([[0.5, 1.0], [-2.0, 3.0]]))
    status, out, err = run("predict", SPECS / "spiral3.nn", "--weights", weights, tmp_path / "points.npz",
                           capsys=capsys)
    assert status == 0, err
    header, values = table(out)
    assert header == ["class_0", "class_1", "class_2"]
    np.testing.assert_allclose(values.sum(axis=1), 1, rtol=1e-6)


def test_a_model_only_spec_predicts_with_given_weights(tmp_path, capsys):
    spec = tmp_path / "line.nn"
    spec.write_text("model line {\n    input 2\n    dense 1\n}\n", encoding="utf-8")
    np.savez(tmp_path / "w.npz", **{"dense_1.W": np.array([[2.0, -1.0]], np.float32),
                                    "dense_1.b": np.array([0.5], np.float32)})
    (tmp_path / "in.csv").write_text("a,b\n1,1\n3,0.5\n", encoding="utf-8")  # every column, in order
    status, out, err = run("predict", spec, "--weights", tmp_path / "w.npz", tmp_path / "in.csv", capsys=capsys)
    assert status == 0, err
    assert out == "y\n1.5\n6\n"


def test_a_spec_without_features_matches_its_training_columns_by_name(tmp_path, capsys):
    """Without `features`, the inputs are the training file's columns but the target, in its order:
    an input file with those columns reordered gives the same predictions, one without a column is
    refused naming it, and so is a spec whose training file is gone (the names are in its header)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 3)) * [1, 10, 100]
    lines = ["a,y,b,c", *(f"{a!r},{int(a > 0)},{b!r},{c!r}" for a, b, c in x.tolist())]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = tmp_path / "abc.nn"
    spec.write_text('data csv("train.csv", target=y, seed=1) { split 0.5 }\nmodel { input 3  dense 1 sigmoid }\n'
                    "loss binary_crossentropy\ntrain { optimizer sgd(lr=0.1)  batch 3  epochs 1 }\n", encoding="utf-8")
    trainer = nndsl.build(nndsl.load(spec), data_dir=str(tmp_path))
    trainer.fit()
    trainer.save(tmp_path / "w.npz")
    (tmp_path / "new.csv").write_text("c,note,b,a\n" + "".join(f"{c!r},x,{b!r},{a!r}\n" for a, b, c in x.tolist()),
                                      encoding="utf-8")
    status, out, err = run("predict", spec, "--weights", tmp_path / "w.npz", tmp_path / "new.csv", capsys=capsys)
    assert status == 0, err
    np.testing.assert_allclose(table(out)[1], trainer.predict(x.astype(np.float32)), rtol=1e-6)
    (tmp_path / "short.csv").write_text("c,a\n1,2\n", encoding="utf-8")
    status, out, err = run("predict", spec, "--weights", tmp_path / "w.npz", tmp_path / "short.csv", capsys=capsys)
    assert status == 1 and out == ""
    assert "short.csv:1: no feature column 'b'; the header has 'c', 'a'" in err, err
    (tmp_path / "train.csv").unlink()
    status, out, err = run("predict", spec, "--weights", tmp_path / "w.npz", tmp_path / "new.csv", capsys=capsys)
    assert status == 1 and out == "" and "train.csv" in err and "list them with 'features'" in err, err


@pytest.mark.parametrize(
    "content, message",
    [
        ("grade,age\n2.0,25\n", "new.csv:1: no feature column 'participation'; the header has 'grade', 'age'"),
        ("grade,age,participation\n2.0,25,90\n1.0,22,lots\n", "new.csv:3: 'lots' in column 'participation' is not a number"),
        ("grade,age,participation\n2.0,25\n", "new.csv:2: the header has 3 columns, but this row has 2"),
        ("grade,age,participation\n", "new.csv: no data rows after the header"),
        ("grade,age,participation\n2.0,25,1e39\n", "new.csv:2: a value in column 'participation' is too large for float32"),
    ],
    ids=["missing_column", "not_a_number", "short_row", "no_rows", "too_large"],
)
def test_bad_csv_input_names_the_file_and_row(content, message, trained, tmp_path, capsys):
    _, weights = trained("income")
    (tmp_path / "new.csv").write_text(content, encoding="utf-8")
    status, out, err = run("predict", SPECS / "income.nn", "--weights", weights, tmp_path / "new.csv", capsys=capsys)
    assert status == 1 and out == ""
    assert err.startswith("nndsl predict: error: ") and message in err, err


def test_bad_npz_input_and_weights_are_clear_errors(trained, tmp_path, capsys):
    _, weights = trained("income")
    np.savez(tmp_path / "wide.npz", x=np.zeros((4, 5)))
    status, _, err = run("predict", SPECS / "income.nn", "--weights", weights, tmp_path / "wide.npz", capsys=capsys)
    assert status == 1 and "wide.npz: the model takes rows of 3 features, but the file has rows of 5 features" in err
    np.savez(tmp_path / "other.npz", inputs=np.zeros((4, 3)))
    status, _, err = run("predict", SPECS / "income.nn", "--weights", weights, tmp_path / "other.npz", capsys=capsys)
    assert status == 1 and "other.npz: no array 'x'; the file holds 'inputs'" in err
    np.savez(tmp_path / "ok.npz", x=np.zeros((4, 3)))
    spiral_weights = trained("spiral")[1]
    status, _, err = run("predict", SPECS / "income.nn", "--weights", spiral_weights, tmp_path / "ok.npz", capsys=capsys)
    assert status == 1 and "spiral.npz" in err and "dense_" in err, err
    status, _, err = run("predict", SPECS / "income.nn", "--weights", tmp_path / "none.npz", tmp_path / "ok.npz",
                         capsys=capsys)
    assert status == 1 and "none.npz" in err, err
    (tmp_path / "in.txt").write_text("1,2,3\n", encoding="utf-8")
    status, _, err = run("predict", SPECS / "income.nn", "--weights", weights, tmp_path / "in.txt", capsys=capsys)
    assert status == 1 and "in.txt: the input must be a .csv or an .npz file" in err
